"""Camtrap DP packages come in through the one import mechanism (planner, command, web/API job):
deployments with their metadata, media with their camera time, observations as labels with count and
box, events as sequences; hosted media are reported, never downloaded."""

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from annotation.ingest.camtrapdp import parse_time, plan_camtrapdp
from annotation.ingest.layouts import plan_import
from annotation.ingest.plans import LayoutError
from annotation.models import Annotation, BatchItem, Deployment, Image, Taxon, UploadBatch
from annotation.services.taxa import normalise_name
from faune_platform.boxes import Box
from tests.factories import write_jpeg, zip_bytes

pytestmark = pytest.mark.django_db

DEPLOYMENTS = [
    {
        "deploymentID": "dep1",
        "locationName": "Mare aux loups",
        "latitude": "45.1",
        "longitude": "6.2",
        "deploymentStart": "2024-05-01T08:00:00+02:00",
        "deploymentEnd": "2024-06-01T18:00:00+02:00",
        "cameraID": "SN-1",
        "cameraModel": "Reconyx-HF2X",
        "habitat": "reed bed",
    }
]
MEDIA = [
    {
        "mediaID": "m1",
        "deploymentID": "dep1",
        "timestamp": "2024-05-02T06:00:00+02:00",
        "filePath": "media/a.jpg",
        "filePublic": "true",
        "fileName": "a.jpg",
        "fileMediatype": "image/jpeg",
    },
    {
        "mediaID": "m2",
        "deploymentID": "dep1",
        "timestamp": "2024-05-02T06:00:02+02:00",
        "filePath": "media/b.jpg",
        "filePublic": "true",
        "fileName": "b.jpg",
        "fileMediatype": "image/jpeg",
    },
    {
        "mediaID": "m3",
        "deploymentID": "dep1",
        "timestamp": "2024-05-03T12:00:00+02:00",
        "filePath": "media/c.jpg",
        "filePublic": "true",
        "fileName": "c.jpg",
        "fileMediatype": "image/jpeg",
    },
    {
        "mediaID": "m4",
        "deploymentID": "dep1",
        "timestamp": "2024-05-04T12:00:00+02:00",
        "filePath": "https://multimedia.example.org/m4/file",
        "filePublic": "true",
        "fileName": "d.jpg",
        "fileMediatype": "image/jpeg",
    },
    {
        "mediaID": "m5",
        "deploymentID": "dep1",
        "timestamp": "2024-05-05T12:00:00+02:00",
        "filePath": "media/gone.jpg",
        "filePublic": "true",
        "fileName": "gone.jpg",
        "fileMediatype": "image/jpeg",
    },
]
OBSERVATIONS = [
    {
        "observationID": "o1",
        "deploymentID": "dep1",
        "mediaID": "m1",
        "eventID": "ev1",
        "eventStart": "2024-05-02T04:00:00Z",
        "eventEnd": "2024-05-02T04:00:00Z",
        "observationLevel": "media",
        "observationType": "animal",
        "scientificName": "Capreolus capreolus",
        "count": "2",
        "bboxX": "0.1",
        "bboxY": "0.2",
        "bboxWidth": "0.3",
        "bboxHeight": "0.4",
        "classificationMethod": "machine",
        "classifiedBy": "Some model v2",
        "classificationTimestamp": "2024-07-01T10:00:00Z",
        "classificationProbability": "0.91",
    },
    {
        "observationID": "o2",
        "deploymentID": "dep1",
        "mediaID": "",
        "eventID": "ev1",
        "eventStart": "2024-05-02T04:00:00Z",
        "eventEnd": "2024-05-02T04:00:02Z",
        "observationLevel": "event",
        "observationType": "animal",
        "scientificName": "Capreolus capreolus",
        "count": "2",
        "classificationMethod": "human",
        "classifiedBy": "Jeanne",
    },
    {
        "observationID": "o3",
        "deploymentID": "dep1",
        "mediaID": "",
        "eventID": "ev2",
        "eventStart": "2024-05-03T10:00:00Z",
        "eventEnd": "2024-05-03T10:00:00Z",
        "observationLevel": "event",
        "observationType": "blank",
    },
    {
        "observationID": "o4",
        "deploymentID": "dep1",
        "mediaID": "m4",
        "eventID": "ev3",
        "eventStart": "2024-05-04T10:00:00Z",
        "eventEnd": "2024-05-04T10:00:00Z",
        "observationLevel": "media",
        "observationType": "unknown",
    },
]


def _write_table(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def package(root: Path, *, extra_file: bool = True) -> Path:
    """A small Camtrap DP package: three local media (one unlisted file beside them), one hosted
    elsewhere, one listed but missing."""
    root.mkdir(parents=True, exist_ok=True)
    for name, table in (
        ("deployments", DEPLOYMENTS),
        ("media", MEDIA),
        ("observations", OBSERVATIONS),
    ):
        _write_table(root / f"{name}.csv", table)
    (root / "datapackage.json").write_text(
        json.dumps(
            {
                "profile": (
                    "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/"
                    "camtrap-dp-profile.json"
                ),
                "name": "test-package",
                "resources": [
                    {"name": name, "path": f"{name}.csv"}
                    for name in ("deployments", "media", "observations")
                ],
                "taxonomic": [
                    {
                        "scientificName": "Capreolus capreolus",
                        "vernacularNames": {"eng": "roe deer"},
                    }
                ],
            }
        )
    )
    for seed, name in enumerate(("a", "b", "c")):
        write_jpeg(
            root / "media" / f"{name}.jpg", seed=seed + 1, taken="2030:01:01 00:00:00"
        )  # EXIF is wrong
    if extra_file:
        write_jpeg(root / "media" / "stray.jpg", seed=9)
    return root


def test_time_keeps_the_cameras_wall_clock_and_its_offset():
    assert parse_time("2021-04-11T20:43:09+01:00") == (
        dt.datetime(2021, 4, 11, 20, 43, 9),
        "+01:00",
    )
    assert parse_time("2021-04-11T19:43:09Z") == (dt.datetime(2021, 4, 11, 19, 43, 9), "Z")
    assert parse_time("2021-04-11T19:43:09-05:30")[1] == "-05:30" and parse_time("soon") == (
        None,
        "",
    )


def test_the_plan_reads_media_observations_and_events(tmp_path):
    plan = plan_camtrapdp(package(tmp_path / "pkg"), deployment=None)
    files = {item.name: item for item in plan.files}
    first = files["media/a.jpg"]
    assert first.deployment == "dep1" and first.taken_at == dt.datetime(2024, 5, 2, 6, 0, 0)
    assert [(label.class_name, label.box, label.count) for label in first.labels] == [
        ("Capreolus capreolus", Box(0.1, 0.2, 0.3, 0.4), 2)
    ]  # its own observation, not the event's
    assert first.sequence_id == "ev1"
    assert [label.class_name for label in files["media/b.jpg"].labels] == [
        "Capreolus capreolus"
    ]  # the event's
    assert [label.class_name for label in files["media/c.jpg"].labels] == ["empty"]  # blank
    assert "not downloaded" in str(files["d.jpg"].rejection) and files["d.jpg"].path is None
    assert "missing on disk" in str(files["media/gone.jpg"].rejection)
    assert str(files["media/stray.jpg"].rejection) == "not listed in media.csv"
    assert not any(name.endswith((".csv", ".json")) for name in files)
    assert (
        plan.deployments["dep1"]["latitude"] == 45.1
        and plan.deployments["dep1"]["camera_make"] == "Reconyx"
    )
    assert plan.provenance["utc_offsets"] == {"dep1": "+02:00"}
    (said,) = plan.provenance["classifications"]["media/a.jpg"]
    assert said == {
        "class": "Capreolus capreolus",
        "box": [0.1, 0.2, 0.3, 0.4],
        "method": "machine",
        "by": "Some model v2",
        "at": "2024-07-01T10:00:00Z",
        "probability": 0.91,
    }
    assert plan.class_details["Capreolus capreolus"]["name_en"] == "roe deer"


def test_odd_counts_paths_and_a_bom_are_read_or_refused_never_raised(tmp_path):
    root = package(tmp_path / "pkg")
    media = [
        *MEDIA,
        {**MEDIA[0], "mediaID": "m6", "filePath": "media/" + "x" * 300 + ".jpg"},
        {**MEDIA[0], "mediaID": "m7", "filePath": "media/a\u0000.jpg"},
    ]
    _write_table(root / "media.csv", media)
    first = {**OBSERVATIONS[0], "count": "²"}  # a digit to str.isdigit(), not to int()
    huge = {**OBSERVATIONS[0], "observationID": "o9", "mediaID": "m2", "count": "9" * 25}
    _write_table(root / "observations.csv", [first, huge, *OBSERVATIONS[1:]])
    package_file = root / "datapackage.json"
    package_file.write_bytes(b"\xef\xbb\xbf" + package_file.read_bytes())
    plan = plan_camtrapdp(root, deployment=None)
    files = {item.name: item for item in plan.files}
    assert [label.count for label in files["media/a.jpg"].labels] == [None]
    assert [label.count for label in files["media/b.jpg"].labels] == [None]
    odd = [item for item in plan.files if item.name.startswith("media/") and item.path is None]
    assert len(odd) == 3  # gone.jpg, the name too long for the disk, the name with a NUL
    assert all("missing on disk" in str(item.rejection) for item in odd)


def test_the_format_is_recognised(tmp_path):
    root = package(tmp_path / "pkg")
    plan = plan_import(root, "auto", deployment=None, known_names=set(), normalise=normalise_name)
    assert plan.format == "camtrapdp"
    (root / "datapackage.json").write_text("{not json")
    with pytest.raises(LayoutError, match="not a readable Data Package"):
        plan_import(root, "camtrapdp", deployment=None, known_names=set(), normalise=normalise_name)


def _import(*args: str) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_images", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue().strip().splitlines()[-1]), out.getvalue() + err.getvalue()


def test_the_command_imports_the_package(tmp_path):
    counts, output = _import(str(package(tmp_path / "pkg")), "--organisation", "Parc")
    assert counts == {"imported": 3, "duplicates": 0, "rejected": 3, "sequences": 2, "labelled": 3}
    assert "hosted at https://multimedia.example.org/m4/file" in output
    camera = Deployment.objects.get(name="dep1")
    assert (
        camera.location_name,
        camera.latitude,
        camera.longitude,
        camera.camera_id,
        camera.camera_make,
        camera.camera_model,
        camera.habitat,
    ) == ("Mare aux loups", 45.1, 6.2, "SN-1", "Reconyx", "HF2X", "reed bed")
    assert camera.start == dt.datetime(
        2024, 5, 1, 8, 0, tzinfo=dt.UTC
    )  # camera time, as image times are kept
    images = {image.original_name: image for image in Image.objects.all()}
    assert images["media/a.jpg"].taken_at == dt.datetime(
        2024, 5, 2, 6, 0, tzinfo=dt.UTC
    )  # not the EXIF's 2030
    assert (
        images["media/a.jpg"].sequence_id
        == images["media/b.jpg"].sequence_id
        != images["media/c.jpg"].sequence_id
    )
    label = Annotation.objects.get(image=images["media/a.jpg"])
    assert (label.taxon.slug, label.count, label.box_x, label.box_h, label.source) == (
        "roe-deer",
        2,
        0.1,
        0.4,
        "import",
    )
    assert Annotation.objects.get(image=images["media/c.jpg"]).taxon.slug == "empty"
    kept = UploadBatch.objects.get().params["camtrapdp"]
    assert kept["classifications"]["media/a.jpg"][0]["taxon"] == "roe-deer"
    assert kept["utc_offsets"] == {"dep1": "+02:00"}


def test_unknown_species_stop_the_import_or_become_named_taxa(tmp_path):
    root = package(tmp_path / "pkg")
    rows = [
        dict(row, scientificName="Castor fiber") if row["observationID"] == "o1" else row
        for row in OBSERVATIONS
    ]
    _write_table(root / "observations.csv", rows)
    data = json.loads((root / "datapackage.json").read_text())
    data["taxonomic"] = [
        {
            "scientificName": "Castor fiber",
            "vernacularNames": {"eng": "Eurasian beaver", "fra": "castor"},
        }
    ]
    (root / "datapackage.json").write_text(json.dumps(data))
    with pytest.raises(Exception, match="Castor fiber"):
        _import(str(root), "--organisation", "Parc")
    assert Image.objects.count() == 0
    _import(str(root), "--organisation", "Parc", "--create-taxa")
    beaver = Taxon.objects.get(scientific_name="Castor fiber")
    assert (beaver.name_en, beaver.name_fr) == ("Eurasian beaver", "castor")


def test_a_zipped_package_imports_through_the_api_job(
    api, org, tmp_path, django_capture_on_commit_callbacks
):
    root = package(tmp_path / "pkg", extra_file=False)
    entries = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }
    archive = zip_bytes({f"pkg/{name}": content for name, content in entries.items()})
    from django.core.files.uploadedfile import SimpleUploadedFile

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/imports/",
            {
                "archive": SimpleUploadedFile("pkg.zip", archive, "application/zip"),
                "organisation": org.pk,
                "format": "camtrapdp",
            },
            format="multipart",
        )
    assert response.status_code in (201, 202), response.content
    batch = UploadBatch.objects.get()
    assert batch.status == "done", batch.error
    assert BatchItem.objects.filter(batch=batch, outcome="imported").count() == 3
    assert Deployment.objects.get(organisation=org, name="dep1").latitude == 45.1
