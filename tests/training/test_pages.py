"""Round pages and API: anyone signed in reads them; only coordinators start or cancel rounds."""

import pytest

from tests.conftest import client_for
from tests.factories import assert_cells_follow, png_pixels
from tests.training.test_rounds import labelled_pool, run_round
from training.models import TrainingRound

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["image labels", "sequence labels"])
def finished(org, db, request):
    from inference.services.registry import default_version_ensure

    labelled_pool(
        org, default_version_ensure(), {"fox": 45, "wild-boar": 45}, by_sequence=request.param
    )
    return run_round()


def test_round_pages_show_metrics_plots_and_log(client, partner, finished):
    client.force_login(partner)
    assert client.get("/rounds/").status_code == 200
    page = client.get(f"/rounds/{finished.pk}/")
    assert (
        page.status_code == 200
        and b"macro-F1" in page.content
        and b"Promotion gate" in page.content
    )
    for name in ("confusion.png", "reliability.png", "coverage.png"):
        plot = client.get(f"/rounds/{finished.pk}/plots/{name}")
        assert plot["Content-Type"] == "image/png"
        png = b"".join(plot.streaming_content)
        png_pixels(png)
        if name == "confusion.png":  # the served picture is the one of this round's matrix
            assert_cells_follow(finished.metrics["candidate"]["test"]["confusion"], png)
    assert client.get(f"/rounds/{finished.pk}/plots/../../secret_key").status_code == 404
    assert (
        client.get(f"/api/rounds/{finished.pk}/").json()["metrics"]["candidate"]["test"]["macro_f1"]
        > 0.5
    )


def test_only_coordinators_start_and_cancel(
    client, partner, coordinator, django_capture_on_commit_callbacks
):
    client.force_login(partner)
    assert client.post("/rounds/", {"head": "linear"}).status_code == 403
    assert client_for(partner).post("/api/rounds/", {}, format="json").status_code == 403
    started = client_for(coordinator).post("/api/rounds/", {"head": "mlp"}, format="json")
    assert started.status_code == 202 and started.json()["params"]["head"] == "mlp"
    assert client_for(coordinator).post("/api/rounds/", {}, format="json").status_code == 409
    cancelled = client_for(coordinator).post(f"/api/rounds/{started.json()['id']}/cancel/")
    assert cancelled.json()["status"] == "cancelled" and TrainingRound.objects.get().active is None


def test_publishing_a_release_bundle(
    client, coordinator, finished, settings, django_capture_on_commit_callbacks
):
    from inference.services.registry import model_version_promote
    from training.models import Release, ReleaseRequest

    model_version_promote(version=finished.candidate)
    client.force_login(coordinator)
    refused = client.post("/releases/", {"semver": "one"}, follow=True)
    assert b"is not a semantic version" in refused.content and not Release.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):  # the job runs inline in tests
        assert client.post("/releases/", {"semver": "1.0.0"})["Location"] == "/releases/"
    request = ReleaseRequest.objects.get()
    assert request.status == "done" and request.progress == 1.0
    release = Release.objects.get()
    assert request.release == release and not list(
        (settings.DATA_DIR / "releases").glob(".*partial")
    )
    folder = settings.DATA_DIR / "releases" / "1.0.0"
    assert {
        "head.pt",
        "backbone.pth",
        "classes.json",
        "MODEL_CARD.md",
        "metrics.json",
        "lineage.json",
        "confusion.png",
    } <= set(release.files)
    from faune_platform.files import file_sha256

    assert all(file_sha256(folder / name) == digest for name, digest in release.files.items())
    assert (
        release.changelog["added_classes"] == ["fox", "wild boar"]
        and "| fox | renard |" in release.model_card
    )
    assert (
        client.post("/releases/", {"semver": "0.9.0"}).status_code == 302
        and Release.objects.count() == 1
    )
    client.logout()  # releases are public
    assert (
        client.get("/releases/").status_code == 200 and b"1.0.0" in client.get("/releases/").content
    )
    download = client.get("/releases/1.0.0/files/classes.json")
    assert download.status_code == 200 and b"renard" in b"".join(download.streaming_content)
    assert client.get("/releases/1.0.0/files/secret_key").status_code == 404
    assert client.post("/releases/", {"semver": "2.0.0"}).status_code == 403


def test_two_versions_compared_on_a_round_split(client, partner, finished):
    import numpy as np

    from annotation.models import Image, Taxon
    from inference.models import ModelVersion, Prediction

    parent, candidate = finished.parent, finished.candidate
    for version, good in ((parent, False), (candidate, True)):
        order = list(version.classes.order_by("index").values_list("taxon__slug", flat=True))
        rows = []
        slugs = dict(Taxon.objects.values_list("pk", "slug"))
        for image in Image.objects.all():
            logits = np.zeros(len(order), dtype=np.float16)
            if good:
                logits[order.index(slugs[image.current_taxon_id])] = 5
            rows.append(
                Prediction(
                    image=image,
                    version=version,
                    category="animal",
                    score=0.5,
                    logits=logits.tobytes(),
                )
            )
        Prediction.objects.bulk_create(rows)
    client.force_login(partner)
    page = client.get(f"/rounds/{finished.pk}/compare/", {"a": parent.pk, "b": candidate.pk})
    result = page.context["result"]
    assert result["images"] > 0 and result["b"]["accuracy"] == 1.0 and result["a"]["accuracy"] < 1.0
    assert all(row["recall_delta"] >= 0 for row in result["per_class"])
    assert ModelVersion.objects.count() == 2


@pytest.mark.slow
def test_release_of_a_head_on_a_deepfaune_backbone_holds_a_deepfaune_checkpoint(
    api, coordinator, tmp_path, settings, django_capture_on_commit_callbacks
):
    import io
    import json
    import shutil

    import torch
    from django.core.management import call_command

    from annotation.models import Image
    from annotation.services.annotations import annotation_add
    from inference.engine.backbones import load_deepfaune_checkpoint
    from inference.engine.preprocess import CropRequest, load_crop
    from inference.services.registry import model_version_promote
    from inference.services.runtime import runner_for
    from tests.factories import jpeg_bytes, taxon, upload
    from tests.inference.test_prelabel import _standin, post

    settings.FAUNE = {**settings.FAUNE, "AFTER_INGEST_TASKS": ["inference.tasks.prelabel_batch"]}
    classes = tmp_path / "classes.txt"
    classes.write_text("renard\nsanglier\nchevreuil\n")
    call_command(
        "register_model",
        "--checkpoint",
        _standin(tmp_path, 3),
        "--format",
        "deepfaune",
        "--classes",
        str(classes),
        "--input-size",
        "56",
        "--promote",
        stdout=io.StringIO(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        post(
            api,
            *[upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(40)],
            deployment_name="C",
        )
    for image in Image.objects.all():
        annotation_add(
            image=image, taxon=taxon("fox" if image.pk % 2 else "wild-boar"), author=coordinator
        )
    done = run_round(min_labels=2, epochs=5)
    assert done.status == "done", done.log
    # The gate may or may not have promoted it (the stand-in backbone is random): use the
    # promoted row.
    promoted = model_version_promote(version=done.candidate, confirm_lost_classes=True)
    from training.services.releases import release_publish

    release = release_publish(version=promoted, semver="1.0.0", user=coordinator)
    bundled = settings.DATA_DIR / "releases" / "1.0.0" / "deepfaune-classifier.pt"
    assert "deepfaune-classifier.pt" in release.files and bundled.exists()
    exported = load_deepfaune_checkpoint(str(bundled), input_size=56)
    pixels = load_crop(CropRequest(Image.objects.first().file.path, None), exported.spec).unsqueeze(
        0
    )
    theirs, _ = exported.classifier(pixels)
    ours, _ = runner_for(done.candidate.pk).forward(pixels)
    # The same function, folded: equal up to float32 rounding (the standardisation divides by
    # small deviations).
    assert exported.num_classes == 2 and torch.allclose(
        theirs, torch.tensor(ours), rtol=1e-2, atol=1e-2
    )
    assert theirs.argmax() == int(ours.argmax())
    # The archive's instructions: DeepFaune's class lists in output order, and Python lines
    # that run.
    from tests.training.test_release_archive import platform_answer, run_how_to

    folder = settings.DATA_DIR / "releases" / "1.0.0"
    how_to = (folder / "HOW_TO_USE.md").read_text()
    names = [row["name_fr"] for row in json.loads((folder / "classes.json").read_text())]
    assert "`deepfaune-classifier.pt` is in DeepFaune's own checkpoint format" in how_to
    assert f"    'fr': {names!r}," in how_to and len(names) == exported.num_classes
    work = tmp_path / "unpacked"
    shutil.copytree(folder, work)
    printed = run_how_to(work, jpeg_bytes(size=(120, 90), seed=5))
    name, probability = platform_answer(done.candidate, work / "photo.jpg")
    assert printed["en"] == name and float(printed["p"]) == pytest.approx(probability, abs=2e-3)
