"""The official Camtrap DP 1.0.2 example package imports, with the media it ships, and exports again
equivalently: the same deployment, media and observations (boxes, counts, who or which model
classified them, how sure), in a package that validates against the profile and the table
schemas."""

import csv
import io
import json
import shutil

import pytest
from django.core.management import call_command

from annotation.models import BatchItem, Image
from tests.camtrapdp_validation import package_errors, reference

pytestmark = pytest.mark.django_db


def table(path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def run(command: str, *args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def counts(output: str) -> dict:
    """The JSON line the command ends its report with."""
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


@pytest.fixture
def example(tmp_path):
    """A copy of the example package (the reference folder is read-only)."""
    folder = tmp_path / "example"
    shutil.copytree(reference() / "example", folder)
    return folder


@pytest.fixture
def exported(example, tmp_path):
    assert (
        counts(run("import_images", str(example), "--organisation", "INBO", "--create-taxa"))[
            "imported"
        ]
        == 10
    )
    run("export_camtrapdp", str(tmp_path / "out"), "--organisation", "INBO")
    return tmp_path / "out"


def test_the_example_imports_with_its_media_and_reports_what_is_hosted_elsewhere(example):
    found = counts(run("import_images", str(example), "--organisation", "INBO", "--create-taxa"))
    assert found["imported"] == 10 and found["rejected"] == 413 and found["labelled"] == 10
    hosted = BatchItem.objects.filter(
        outcome="rejected", reason__startswith="hosted at https://multimedia.agouti.eu"
    )
    assert hosted.count() == 413
    assert Image.objects.values("sequence_id").distinct().count() == 1  # one event, 7245a2aa


def _by(rows: list[dict], key: str) -> dict:
    return {row[key]: row for row in rows}


def test_it_exports_again_equivalently(example, exported):
    assert package_errors(exported) == []
    source_media = [
        row for row in table(example / "media.csv") if not row["filePath"].startswith("http")
    ]
    ours_media = table(exported / "media.csv")
    assert len(ours_media) == len(source_media) == 10
    source_by_name, ours_by_name = _by(source_media, "fileName"), _by(ours_media, "fileName")
    assert set(ours_by_name) == set(source_by_name)
    for name, ours in ours_by_name.items():
        source = source_by_name[name]
        for field in ("deploymentID", "timestamp", "filePublic", "fileMediatype"):
            assert ours[field] == source[field], (name, field)
        assert (exported / ours["filePath"]).read_bytes() == (
            example / source["filePath"]
        ).read_bytes()

    (ours_deployment,) = table(exported / "deployments.csv")
    source_deployment = _by(table(example / "deployments.csv"), "deploymentID")["62c200a9"]
    for field in (
        "deploymentID",
        "locationName",
        "latitude",
        "longitude",
        "deploymentStart",
        "deploymentEnd",
        "cameraID",
        "cameraModel",
        "habitat",
    ):
        assert ours_deployment[field] == source_deployment[field], field

    source_observations = table(example / "observations.csv")
    media_ids = {
        ours["mediaID"]: source_by_name[name]["mediaID"] for name, ours in ours_by_name.items()
    }
    ours_media_level = [
        row for row in table(exported / "observations.csv") if row["observationLevel"] == "media"
    ]
    source_media_level = _by(
        [row for row in source_observations if row["mediaID"] in media_ids.values()], "mediaID"
    )
    assert len(ours_media_level) == len(source_media_level) == 10
    compared = (
        "observationType",
        "scientificName",
        "count",
        "classificationMethod",
        "classifiedBy",
        "classificationTimestamp",
        "classificationProbability",
        "eventStart",
        "eventEnd",
    )
    for ours in ours_media_level:
        source = source_media_level[media_ids[ours["mediaID"]]]
        for field in compared:
            assert _same(ours[field], source[field]), (field, ours[field], source[field])
        for field in ("bboxX", "bboxY", "bboxWidth", "bboxHeight"):
            assert float(ours[field]) == pytest.approx(float(source[field]), abs=1e-6)
    assert (
        len({row["eventID"] for row in ours_media_level}) == 1
    )  # the event's frames stay together

    (ours_event,) = [
        row for row in table(exported / "observations.csv") if row["observationLevel"] == "event"
    ]
    (source_event,) = [
        row
        for row in source_observations
        if row["eventID"] == "7245a2aa" and row["observationLevel"] == "event"
    ]
    for field in (
        "observationType",
        "scientificName",
        "count",
        "classificationMethod",
        "classifiedBy",
        "classificationProbability",
        "eventStart",
        "eventEnd",
    ):
        assert _same(ours_event[field], source_event[field]), (
            field,
            ours_event[field],
            source_event[field],
        )
    taxonomic = json.loads((exported / "datapackage.json").read_text())["taxonomic"]
    assert taxonomic == [{"scientificName": "Ardea", "vernacularNames": {"eng": "great herons"}}]


def _same(ours: str, source: str) -> bool:
    """Equal, as values: times as instants (the source writes UTC, the export the
    camera's offset)."""
    if ours == source:
        return True
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(ours) == dt.datetime.fromisoformat(source)
    except ValueError:
        return False
