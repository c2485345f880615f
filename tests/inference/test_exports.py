"""Exports of the pool, end to end on the real database: every format through its command, the API
and the download; Camtrap DP validated by `frictionless` against the 1.0.2 profile and schemas;
nothing of another organisation in a partner's export; people blurred or left out; a killed chunk
resumed without a duplicate."""

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from PIL import Image as PILImage

from annotation.ingest.layouts import plan_import
from annotation.models import Membership
from annotation.services.taxa import normalise_name
from faune_platform.jobs import ChunkClock, job_claim, job_start
from inference.engine.detections import read_megadetector_json
from inference.models import Detection, ExportJob
from inference.services.exports import jobs as export_jobs
from inference.services.exports.jobs import export_folder, export_request, export_work
from inference.services.exports.scope import ExportOptions, ExportScope
from tests.camtrapdp_validation import package_errors
from tests.conftest import client_for
from tests.exports_pool import build_pool
from tests.factories import taxon

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(org, other_org, partner, other_partner):
    return build_pool(org, other_org, partner, other_partner)


def run(command: str, *args: str) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    lines = out.getvalue().strip().splitlines()
    return json.loads(lines[-1]), out.getvalue()


def table(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_camtrap_dp_of_an_organisation_is_valid(pool, tmp_path):
    counts, output = run("export_camtrapdp", str(tmp_path / "dp"), "--organisation", pool.org.name)
    folder = tmp_path / "dp"
    assert package_errors(folder) == []
    assert counts["frames"] == 7 and counts["files"] == 7 and counts["blurred"] == 1
    media = {row["fileName"]: row for row in table(folder / "media.csv")}
    assert set(media) == {f"IMG_00{n}.JPG" for n in ("01", "02", "03", "10", "20", "21", "30")}
    assert (
        media["IMG_0010.JPG"]["filePublic"] == "false"
        and media["IMG_0001.JPG"]["filePublic"] == "true"
    )
    assert all((folder / row["filePath"]).is_file() for row in media.values())
    observations = table(folder / "observations.csv")
    deer = [o for o in observations if o["scientificName"] == "Cervus elaphus"]
    assert [(o["observationLevel"], o["count"]) for o in deer] == [("event", "2"), ("media", "2")]
    assert deer[1]["bboxX"] == "0.25" and deer[1]["mediaID"] == media["IMG_0002.JPG"]["mediaID"]
    (fox,) = [o for o in observations if o["scientificName"] == "Vulpes vulpes"]
    assert (
        fox["observationLevel"],
        fox["classificationMethod"],
        fox["classifiedBy"],
        fox["classificationProbability"],
    ) == ("event", "machine", "deepfaune 1.3", "0.95")
    (alone,) = [o for o in observations if o["mediaID"] == media["IMG_0030.JPG"]["mediaID"]]
    assert alone["observationType"] == "unclassified"
    (person,) = [o for o in observations if o["observationType"] == "human"]
    assert person["scientificName"] == "Homo sapiens" and person["bboxWidth"] == "0.25"
    descriptor = json.loads((folder / "datapackage.json").read_text())
    assert descriptor["spatial"] == {"type": "Point", "coordinates": [6.4041, 45.0354]}
    assert descriptor["temporal"] == {"start": "2024-05-01", "end": "2024-06-01"}
    assert [t["scientificName"] for t in descriptor["taxonomic"]] == [
        "Cervus elaphus",
        "Homo sapiens",
        "Vulpes vulpes",
    ]  # the model's fox too
    assert "1 image(s) showing people were blurred." in output


def test_the_person_is_blurred_in_the_package_and_nothing_else_changed(pool, tmp_path):
    run("export_camtrapdp", str(tmp_path / "dp"), "--organisation", pool.org.name)
    media = {row["fileName"]: row for row in table(tmp_path / "dp" / "media.csv")}
    exported = np.asarray(
        PILImage.open(tmp_path / "dp" / media["IMG_0010.JPG"]["filePath"]).convert("RGB")
    )
    original = np.asarray(PILImage.open(pool.person.file.path).convert("RGB"))
    inside = (slice(30, 90), slice(80, 120))  # the label's box (0.5, 0.25, 0.25, 0.5) on 160 x 120
    assert np.abs(exported[inside].astype(int) - original[inside]).mean() > 40
    kept = np.ones(original.shape[:2], dtype=bool)
    kept[24:96, 74:126] = False  # the box and the margin blurred around it
    assert np.abs(exported[kept].astype(int) - original[kept]).mean() < 4
    untouched = (tmp_path / "dp" / media["IMG_0001.JPG"]["filePath"]).read_bytes()
    assert untouched == Path(pool.deer[0].file.path).read_bytes()


def test_the_whole_pool_says_what_deployments_lack_and_invents_nothing(pool, tmp_path):
    _counts, output = run("export_camtrapdp", str(tmp_path / "dp"), "--no-media")
    assert (
        "Deployment Réserve du Vercors/Col du Lautaret lacks: coordinates, set-up date, pick-up "
        "date, camera id, camera model."
    ) in output
    rows = {row["deploymentID"]: row for row in table(tmp_path / "dp" / "deployments.csv")}
    assert set(rows) == {
        "Parc des Écrins/Col du Lautaret",
        "Réserve du Vercors/Col du Lautaret",
    }  # same name
    bare = rows["Réserve du Vercors/Col du Lautaret"]
    assert (
        bare["latitude"] == bare["longitude"] == bare["deploymentStart"] == bare["cameraID"] == ""
    )
    errors = package_errors(tmp_path / "dp")
    assert len(errors) == 4 and all(
        "required" in error for error in errors
    )  # lat, lon, start, end: left empty
    media = table(tmp_path / "dp" / "media.csv")
    assert not list((tmp_path / "dp").glob("media/*")) and "IMG_9001.JPG" in {
        m["filePath"] for m in media
    }


def test_an_unknown_time_zone_can_be_given(pool, tmp_path):
    run(
        "export_camtrapdp",
        str(tmp_path / "dp"),
        "--organisation",
        pool.org.name,
        "--utc-offset",
        "+02:00",
        "--no-media",
    )
    assert table(tmp_path / "dp" / "media.csv")[0]["timestamp"] == "2024-05-02T06:00:00+02:00"
    assert package_errors(tmp_path / "dp") == []
    with pytest.raises(CommandError, match="like \\+01:00"):
        run("export_camtrapdp", str(tmp_path / "other"), "--utc-offset", "1h")


def test_people_can_be_left_out(pool, tmp_path):
    counts, output = run(
        "export_camtrapdp",
        str(tmp_path / "dp"),
        "--organisation",
        pool.org.name,
        "--people",
        "exclude",
    )
    names = {row["fileName"] for row in table(tmp_path / "dp" / "media.csv")}
    assert "IMG_0010.JPG" not in names and len(names) == 6 and counts["excluded_people"] == 1
    assert not any(
        o["observationType"] == "human" for o in table(tmp_path / "dp" / "observations.csv")
    )
    assert "1 image(s) showing people were left out, as asked." in output
    coco = tmp_path / "c.json"
    run("export_coco", str(coco), "--organisation", pool.org.name, "--people", "exclude")
    assert "IMG_0010.JPG" not in {
        image["file_name"] for image in json.loads(coco.read_text())["images"]
    }


def test_coco_reads_back_through_the_coco_import(pool, tmp_path):
    folder = tmp_path / "set"
    run("export_coco", str(folder / "export.json"), "--organisation", pool.org.name)
    data = json.loads((folder / "export.json").read_text())
    assert {
        image["seq_num_frames"] for image in data["images"] if image["file_name"] == "IMG_0001.JPG"
    } == {3}
    for image in pool.deer + [pool.person] + pool.fox + [pool.unknown]:
        (folder / image.original_name).write_bytes(Path(image.file.path).read_bytes())
    plan = plan_import(folder, "coco", deployment=None, known_names=set(), normalise=normalise_name)
    read = {item.name: item for item in plan.files}
    assert {label.class_name for label in read["IMG_0002.JPG"].labels} == {"red deer"}
    assert read["IMG_0002.JPG"].labels[0].box.to_tuple() == pytest.approx((0.25, 0.5, 0.25, 0.25))
    assert (
        read["IMG_0010.JPG"].labels[0].class_name == "human" and read["IMG_0030.JPG"].labels == []
    )
    assert (
        read["IMG_0020.JPG"].deployment == "Col du Lautaret"
        and read["IMG_0020.JPG"].sequence_id == read["IMG_0021.JPG"].sequence_id
    )


def test_megadetector_output_reads_back_as_the_stored_detections(pool, tmp_path):
    counts, output = run(
        "export_megadetector", str(tmp_path / "md.json"), "--organisation", pool.org.name
    )
    by_file = read_megadetector_json(tmp_path / "md.json")
    assert set(by_file) == {"IMG_0020.JPG", "IMG_0021.JPG"} and by_file["IMG_0021.JPG"] == []
    stored = Detection.objects.filter(image=pool.fox[0]).order_by("-confidence")
    assert [
        (d.category, d.confidence, pytest.approx(d.box.to_tuple())) for d in by_file["IMG_0020.JPG"]
    ] == [(s.category, s.confidence, (s.box_x, s.box_y, s.box_w, s.box_h)) for s in stored]
    assert json.loads((tmp_path / "md.json").read_text())["info"]["detector"] == "MDV6.pt"
    assert "5 image(s) were never seen by a detector: they are left out." in output


def test_deepfaune_table_csv_and_xlsx(pool, tmp_path):
    from openpyxl import load_workbook

    run("export_deepfaune", str(tmp_path / "t.csv"), "--organisation", pool.org.name)
    rows = {row["filename"]: row for row in table(tmp_path / "t.csv")}
    assert list(next(iter(rows.values())))[:8] == [
        "filename",
        "date",
        "seqnum",
        "prediction",
        "score",
        "top1",
        "count",
        "humancount",
    ]
    assert (rows["IMG_0001.JPG"]["prediction"], rows["IMG_0001.JPG"]["count"]) == ("cerf", "2")
    assert (
        rows["IMG_0020.JPG"]["prediction"],
        rows["IMG_0020.JPG"]["score"],
        rows["IMG_0020.JPG"]["count"],
        rows["IMG_0020.JPG"]["humancount"],
    ) == ("renard", "0.95", "2", "0")
    assert (
        rows["IMG_0020.JPG"]["seqnum"]
        == rows["IMG_0021.JPG"]["seqnum"]
        != rows["IMG_0001.JPG"]["seqnum"]
    )
    run(
        "export_deepfaune",
        str(tmp_path / "t.xlsx"),
        "--organisation",
        pool.org.name,
        "--language",
        "en",
    )
    sheet = list(load_workbook(tmp_path / "t.xlsx").active.iter_rows(values_only=True))
    assert len(sheet) == 8 and {row[3] for row in sheet[1:]} >= {"red deer", "fox", "human"}


def test_deepfaune_class_folders(pool, tmp_path):
    run("export_deepfaune", str(tmp_path / "sorted"), "--organisation", pool.org.name)
    files = sorted(
        p.relative_to(tmp_path / "sorted").as_posix() for p in (tmp_path / "sorted").rglob("*.JPG")
    )
    assert [name.split("/")[0] for name in files] == ["cerf"] * 3 + [
        "humain",
        "non_classe",
        "renard",
        "renard",
    ]
    with pytest.raises(CommandError, match="not empty"):
        run("export_deepfaune", str(tmp_path / "sorted"))


# What a partner's export may hold: their organisation's images, never the other's.
FOREIGN = ("IMG_9001", "IMG_9002")


def _api_export(user, django_capture_on_commit_callbacks, **request) -> dict:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post("/api/exports/", request, format="json")
    assert response.status_code == 202, response.content
    return client_for(user).get(f"/api/exports/{response.json()['id']}/").json()


def _download(user, row: dict) -> bytes:
    client = Client()
    client.force_login(user)
    response = client.get(row["download_url"])
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _texts(data: bytes) -> str:
    """Everything an export holds, as text: a zip's names and text files, or the file itself."""
    if data[:4] != b"PK\x03\x04":
        return data.decode()
    bundle = zipfile.ZipFile(io.BytesIO(data))
    if "xl/workbook.xml" not in bundle.namelist():
        return "\n".join(
            bundle.namelist()
            + [
                bundle.read(name).decode()
                for name in bundle.namelist()
                if name.endswith((".csv", ".json"))
            ]
        )
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    return "\n".join(
        ",".join(str(cell) for cell in row) for row in sheet.iter_rows(values_only=True)
    )


@pytest.mark.parametrize(
    "fmt",
    ["camtrapdp", "coco", "deepfaune_csv", "deepfaune_xlsx", "deepfaune_folders", "megadetector"],
)
def test_a_partners_export_never_holds_another_organisations_images(
    pool, partner, fmt, django_capture_on_commit_callbacks
):
    Detection.objects.create(
        image=pool.foreign[0],
        source="detector",
        detector="MDV6.pt",
        category="animal",
        confidence=0.9,
        box_x=0,
        box_y=0,
        box_w=0.5,
        box_h=0.5,
    )
    row = _api_export(partner, django_capture_on_commit_callbacks, format=fmt)
    assert row["status"] == "done" and row["total"] == 7, row
    text = _texts(_download(partner, row))
    assert "IMG_0001" in text or fmt == "megadetector"
    assert not any(name in text for name in FOREIGN), fmt
    foreign_ids = {str(image.pk) for image in pool.foreign}
    if fmt == "camtrapdp":
        ids = {line.split(",")[0] for line in text.splitlines() if line[:1].isdigit()}
        assert not ids & foreign_ids


def test_what_a_partner_may_not_export_is_refused(pool, partner, other_partner):
    api = client_for(partner)
    refused = api.post(
        "/api/exports/", {"format": "coco", "organisation": pool.other.pk}, format="json"
    )
    assert refused.status_code == 403 and "own organisations" in refused.json()["detail"]
    foreign_camera = pool.foreign[0].deployment_id
    refused = api.post(
        "/api/exports/", {"format": "coco", "deployments": [foreign_camera]}, format="json"
    )
    assert refused.status_code == 403
    missing = api.post("/api/exports/", {"format": "coco", "deployments": [10**9]}, format="json")
    assert missing.status_code == 400 and "No deployment" in missing.json()["detail"]
    nothing = api.post("/api/exports/", {"format": "coco", "taxon": "lynx"}, format="json")
    assert nothing.status_code == 400 and "Nothing to export" in nothing.json()["detail"]
    bad = api.post("/api/exports/", {"format": "zip", "utc_offset": "1h"}, format="json")
    assert bad.status_code == 400 and {"format", "utc_offset"} <= set(bad.json())
    assert ExportJob.objects.count() == 0


def test_downloads_follow_who_may_export(
    pool, partner, other_partner, coordinator, django_capture_on_commit_callbacks
):
    row = _api_export(partner, django_capture_on_commit_callbacks, format="coco")
    assert Client().get(row["download_url"]).status_code == 302  # to the login page
    stranger = Client()
    stranger.force_login(other_partner)
    assert stranger.get(row["download_url"]).status_code == 404
    assert client_for(other_partner).get(f"/api/exports/{row['id']}/").status_code == 404
    assert _download(coordinator, row)
    Membership.objects.filter(user=partner).delete()  # left the organisation since
    partner.refresh_from_db()
    gone = Client()
    gone.force_login(partner)
    refused = gone.get(row["download_url"])
    assert refused.status_code == 403


def test_an_export_runs_in_chunks_and_a_killed_chunk_leaves_no_trace(pool, monkeypatch, tmp_path):
    """One sequence per slice; each chunk stops after one slice. A worker killed after writing rows
    it never checkpointed is simulated by appending them: the next chunk cuts them off, and the
    result equals an export that ran without a stop."""
    monkeypatch.setattr(export_jobs, "SLICE", 1)
    options = ExportOptions(media=False)
    scope = ExportScope(organisation=pool.org.pk)
    whole = export_request(user=None, fmt="camtrapdp", scope=scope, options=options, enqueue=False)
    assert export_work(job_claim(ExportJob, whole.pk, job_start(whole)), clock=None)
    job = export_request(user=None, fmt="camtrapdp", scope=scope, options=options, enqueue=False)
    chunks = 0
    token = job_start(job)
    while True:
        claimed = job_claim(ExportJob, job.pk, token)
        finished = export_work(
            claimed, clock=ChunkClock(started=0.0, budget_s=0.0)
        )  # spent at once: one slice
        chunks += 1
        if finished:
            break
        folder = export_folder(claimed)
        with (folder / "media.csv").open(
            "a"
        ) as handle:  # what a chunk killed before its checkpoint wrote
            handle.write("999,ghost,,2024-01-01T00:00:00Z,x.jpg,true,x.jpg,image/jpeg,,,\n")
        with (folder / "observations.csv").open("a") as handle:
            handle.write("half a ro")
        token = job_start(claimed)  # the sweep (or the broker) delivers it again
    assert chunks == 5  # four sequences, then the chunk that finds none left and finishes
    for name in ("media.csv", "observations.csv", "deployments.csv"):
        assert (export_folder(job) / name).read_bytes() == (
            export_folder(whole) / name
        ).read_bytes()
    job.refresh_from_db()
    assert (
        job.status == "done"
        and job.done == job.total == 7
        and package_errors(export_folder(job)) == []
    )


def test_the_queued_job_continues_chunk_after_chunk(
    pool, partner, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(export_jobs, "SLICE", 2)
    settings.FAUNE = {**settings.FAUNE, "JOB_CHUNK_S": 0.0}
    row = _api_export(partner, django_capture_on_commit_callbacks, format="deepfaune_csv")
    assert row["status"] == "done" and row["done"] == 7 and row["progress"] == 1.0
    assert len(_download(partner, row).decode().strip().splitlines()) == 8


def test_exports_page_lists_and_deletes(pool, partner, django_capture_on_commit_callbacks):
    row = _api_export(partner, django_capture_on_commit_callbacks, format="coco")
    client = Client()
    client.force_login(partner)
    page = client.get("/exports/")
    assert (
        page.status_code == 200 and f'href="/exports/{row["id"]}/download"'.encode() in page.content
    )
    detail = client.get(row["page_url"])
    assert "3 image(s) carry no label" in detail.content.decode()
    folder = export_folder(ExportJob.objects.get(pk=row["id"]))
    assert client.post(f"/exports/{row['id']}/delete").status_code == 302
    assert not folder.exists() and not ExportJob.objects.filter(pk=row["id"]).exists()


def test_the_sweep_resumes_an_export_whose_worker_stopped(
    pool, partner, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from faune_platform.jobs import sweep_all

    job = export_request(
        user=partner, fmt="coco", scope=ExportScope(), options=ExportOptions(), enqueue=False
    )
    stale = timezone.now() - timezone.timedelta(hours=1)
    ExportJob.objects.filter(pk=job.pk).update(status="running", token="killed", heartbeat_at=stale)
    with django_capture_on_commit_callbacks(execute=True):
        sweep_all()
    job.refresh_from_db()
    assert job.status == "done" and job.resumes == 1 and job.done == 7


def _scoped_names(partner, **scope) -> set[str]:
    job = export_request(
        user=partner, fmt="coco", scope=ExportScope(**scope), options=ExportOptions(), enqueue=False
    )
    return {image.original_name.rsplit("/", 1)[-1] for image in export_jobs._images(job)}


def test_the_image_lists_filters_select_what_it_showed(pool, partner):
    """The taxon matches the label, or the pre-label of an image nobody labelled (as the list's
    thumbnails show); the source selects where the label came from."""
    fox = taxon("fox").pk  # nobody labelled a fox: the model pre-labelled two frames so
    assert _scoped_names(partner, taxon=fox) == {"IMG_0020.JPG", "IMG_0021.JPG"}
    assert _scoped_names(partner, source="model") == {"IMG_0020.JPG", "IMG_0021.JPG"}
    assert _scoped_names(partner, source="none") == {"IMG_0030.JPG"}
    assert _scoped_names(partner, source="human") == {
        "IMG_0001.JPG",
        "IMG_0002.JPG",
        "IMG_0003.JPG",
        "IMG_0010.JPG",
    }
    refused = client_for(partner).post(
        "/api/exports/", {"format": "coco", "source": "robot"}, format="json"
    )
    assert refused.status_code == 400 and "source" in refused.json()


def test_the_page_takes_the_image_lists_query_string(pool, partner):
    client = Client()
    client.force_login(partner)
    page = client.get(
        "/exports/",
        {
            "organisation": pool.org.pk,
            "source": "model",
            "taken_from": "2024-05-04",
            "taken_to": "2024-05-04",
            "format": "deepfaune_csv",
        },
    )
    form = page.context["form"]
    assert form.initial["source"] == "model" and form.initial["format"] == "deepfaune_csv"
    assert str(form.initial["taken_after"]) == "2024-05-04 00:00:00"
    assert str(form.initial["taken_before"]) == "2024-05-04 23:59:59"
    sent = {
        field.name: field.value() for field in form if field.value() not in (None, "", [])
    }  # as a browser
    sent = {
        name: value.strftime("%Y-%m-%dT%H:%M:%S") if hasattr(value, "strftime") else value
        for name, value in sent.items()
    }
    response = client.post("/exports/", sent)
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = ExportJob.objects.get()
    assert job.total == 2 and job.scope["source"] == "model"  # the two fox frames of 4 May


def test_times_out_of_range_are_ignored_or_refused(pool, partner, settings):
    settings.TIME_ZONE = (
        "Asia/Kolkata"  # midnight of year 1 there is before the first instant UTC holds
    )
    client = Client()
    client.force_login(partner)
    page = client.get(
        "/exports/",
        {"taken_after": "0001-01-01T00:00:00+05:00", "taken_before": "9999-12-31T23:59:59"},
    )
    assert page.status_code == 200 and "taken_after" not in page.context["form"].initial
    refused = client.post(
        "/exports/",
        {
            "format": "coco",
            "people": "blur",
            "language": "fr",
            "sampling_design": "opportunistic",
            "taken_after": "0001-01-01T00:00",
        },
    )
    assert refused.status_code == 400 and "out of range" in refused.content.decode()
    assert ExportJob.objects.count() == 0
