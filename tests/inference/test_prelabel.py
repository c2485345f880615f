"""Pre-labelling through the real pieces: upload, queued job (inline in tests), real
EfficientNet-Lite0 weights, predictions, sequence verdicts, embeddings in FAISS, and what pages and
the API show of them."""

import io
import json

import pytest
import torch
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotation.models import Annotation, Image, LabelSource
from inference.engine.backbones import create_timm_model
from inference.models import (
    Detection,
    Embedding,
    ModelVersion,
    Prediction,
    PrelabelRun,
    SequencePrediction,
)
from inference.services.index import load_index
from inference.services.registry import default_version_ensure, model_version_promote
from inference.tasks import prelabel_batch
from tests.conftest import client_for
from tests.factories import jpeg_bytes, upload
from tests.inference.test_engine import TINY_VIT

pytestmark = pytest.mark.django_db


def post(api, *files, **fields):
    return api.post("/api/images/", {"files": list(files), **fields}, format="multipart")


def burst_and_one(size: tuple[int, int]) -> list:
    """a.jpg and b.jpg, 4 s apart (one sequence), and c.jpg without a date (a sequence alone)."""
    return [
        upload("a.jpg", jpeg_bytes(size=size, seed=1, taken="2024:05:01 10:00:00")),
        upload("b.jpg", jpeg_bytes(size=size, seed=2, taken="2024:05:01 10:00:04")),
        upload("c.jpg", jpeg_bytes(size=size, seed=3)),
    ]


@pytest.fixture
def uploaded(api, zero_shot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api, *burst_and_one((320, 240)), deployment_name="Cam")
    assert response.status_code == 201
    return response.json()["batch"]


def test_default_version_is_zero_shot_production_with_real_weights(zero_shot):
    assert zero_shot.status == "production" and zero_shot.is_zero_shot
    assert zero_shot.artifacts["backbone"]["sha256"] and zero_shot.classes.count() >= 20
    assert default_version_ensure().pk == zero_shot.pk and ModelVersion.objects.count() == 1


def test_the_package_backbone_is_found_where_this_machine_installed_it(zero_shot):
    """A backup restored on another machine, or a new virtualenv: the registered path is gone,
    the package's file (the same by its hash) is used."""
    from inference.engine.backbones import CheckpointError, efficientnet_lite0_weights_path
    from inference.services.runtime import artifact_file

    moved = {**zero_shot.artifacts["backbone"], "path": "/another/venv/efficientnet_lite0.pth"}
    assert artifact_file("backbone", moved) == efficientnet_lite0_weights_path()
    with pytest.raises(CheckpointError, match="changed since it was registered"):
        artifact_file("backbone", {**moved, "sha256": "0" * 64})


def test_upload_is_prelabelled_with_top5_logits_and_embeddings(uploaded, zero_shot):
    predictions = Prediction.objects.filter(version=zero_shot)
    assert predictions.count() == 3
    for prediction in predictions:
        assert len(prediction.top) == 5 and prediction.top[0][1] >= prediction.top[1][1]
        assert len(bytes(prediction.logits)) == 2 * zero_shot.classes.count()
        assert prediction.box_source == "whole_image"
    assert Embedding.objects.filter(backbone_key=zero_shot.backbone_key).count() == 3
    assert load_index(zero_shot.backbone_key).size == 3
    assert SequencePrediction.objects.count() == 2  # a+b one sequence, undated c its own
    assert PrelabelRun.objects.get().status == "done"


def test_running_again_adds_nothing(uploaded, zero_shot):
    prelabel_batch(uploaded)
    Prediction.objects.all().delete()
    prelabel_batch(uploaded)
    prelabel_batch(uploaded)
    assert Prediction.objects.count() == 3 and Embedding.objects.count() == 3


def test_pool_boxes_and_imported_detections_choose_the_crop(
    api, uploaded, zero_shot, partner, tmp_path
):
    a, b, c = Image.objects.order_by("original_name")
    Annotation.objects.create(
        image=a,
        taxon_id=zero_shot.classes.first().taxon_id,
        role="partner",
        source=LabelSource.PARTNER,
        box_x=0.1,
        box_y=0.1,
        box_w=0.5,
        box_h=0.5,
    )
    md = tmp_path / "md.json"
    md.write_text(
        json.dumps(
            {
                "images": [
                    {
                        "file": "b.jpg",
                        "detections": [
                            {"category": "1", "conf": 0.95, "bbox": [0.2, 0.2, 0.3, 0.3]}
                        ],
                    },
                    {"file": "c.jpg", "detections": []},
                    {"file": "nowhere.jpg", "detections": []},
                ]
            }
        )
    )
    out = io.StringIO()
    call_command("import_detections", str(md), stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue().splitlines()[-1]) == {
        "matched": 2,
        "unmatched": 1,
        "detections": 1,
    }
    Prediction.objects.filter(image=a).delete()
    prelabel_batch(uploaded)
    sources = dict(Prediction.objects.values_list("image__original_name", "box_source"))
    assert sources == {"a.jpg": "pool", "b.jpg": "megadetector_json", "c.jpg": "megadetector_json"}
    empty = Prediction.objects.get(image=c)
    assert empty.category == "empty" and empty.taxon.slug == "empty"
    assert Detection.objects.filter(image=c, category="empty").exists()


def test_promotion_is_atomic_and_repredicts_the_pool(
    uploaded, zero_shot, tmp_path, django_capture_on_commit_callbacks
):
    other = ModelVersion.objects.create(
        name="other",
        version="2",
        backbone=zero_shot.backbone,
        head_kind="zero_shot",
        artifacts=zero_shot.artifacts,
    )
    for row in zero_shot.classes.all():
        other.classes.create(index=row.index, taxon=row.taxon)
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version=other)
    zero_shot.refresh_from_db()
    assert (
        zero_shot.status == "archived"
        and ModelVersion.objects.filter(status="production").get() == other
    )
    assert Prediction.objects.filter(version=other).count() == 3


def test_prediction_similar_and_bulk_accept_apis(api, uploaded, zero_shot, other_partner):
    image = Image.objects.get(original_name="a.jpg")
    body = api.get(f"/api/images/{image.pk}/prediction/").json()
    assert body["version"]["zero_shot"] is True and len(body["image"]["top"]) == 5
    assert body["sequence"]["undefined"] is (
        body["sequence"]["score"] < 0.8
    )  # the organisation's threshold
    similar = api.get(f"/api/images/{image.pk}/similar/?k=5").json()["results"]
    assert {row["image"] for row in similar} == set(
        Image.objects.exclude(pk=image.pk).values_list("pk", flat=True)
    )
    assert client_for(other_partner).get(f"/api/images/{image.pk}/similar/").status_code == 404
    accepted = api.post("/api/prelabels/accept/", {"images": [image.pk]}, format="json")
    assert accepted.status_code == 201
    label = Annotation.objects.get(image=image)
    assert (
        label.source == LabelSource.MODEL_ACCEPTED
        and label.taxon_id == body["image"]["taxon"]["id"]
    )
    corrected = api.post(
        "/api/prelabels/accept/", {"images": [image.pk], "taxon": "loup"}, format="json"
    )
    assert corrected.status_code == 201 and Annotation.objects.filter(taxon__slug="wolf").exists()
    assert (
        client_for(other_partner)
        .post("/api/prelabels/accept/", {"images": [image.pk]}, format="json")
        .status_code
        == 400
    )


def test_prelabel_page_filters_and_bulk_accepts(client, partner, uploaded, zero_shot):
    client.force_login(partner)
    page = client.get("/prelabels/", {"max_score": "1", "order": "score"})
    assert page.status_code == 200 and b"zero-shot" in page.content
    ids = list(Image.objects.values_list("pk", flat=True))
    response = client.post("/prelabels/", {"images": ids, "action": "accept"})
    assert response.status_code == 302
    assert Annotation.objects.filter(source=LabelSource.MODEL_ACCEPTED).count() == 3
    batch_progress = client.get(f"/api/batches/{uploaded}/prelabel/").json()
    assert batch_progress["predicted"] == batch_progress["images"] == 3


def test_model_pages_and_promotion_rights(client, partner, coordinator, zero_shot):
    client.force_login(partner)
    assert client.get("/models/").status_code == 200
    assert client.post(f"/models/{zero_shot.pk}/status/", {"status": "rejected"}).status_code == 403
    api = client_for(partner)
    assert (
        api.post(
            f"/api/models/{zero_shot.pk}/status/", {"status": "archived"}, format="json"
        ).status_code
        == 403
    )
    assert client_for(coordinator).get("/api/models/").json()[0]["zero_shot"] is True


def _standin(tmp_path, classes: int) -> str:
    model = create_timm_model(TINY_VIT, num_classes=classes)
    path = tmp_path / "deepfaune.pt"
    torch.save(
        {
            "args": {"backbone": TINY_VIT.timm_name, "num_classes": classes},
            "state_dict": {f"base_model.{k}": v for k, v in model.state_dict().items()},
        },
        path,
    )
    return str(path)


def test_register_model_deepfaune_format(tmp_path, settings):
    classes = tmp_path / "classes.txt"
    classes.write_text("renard\nsanglier\nchevreuil\n")
    out = io.StringIO()
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
        "--name",
        "df-standin",
        stdout=out,
    )
    registered = json.loads(out.getvalue())
    version = ModelVersion.objects.get(pk=registered["id"])
    assert version.status == "candidate" and version.backbone["input_size"] == 56
    assert list(version.classes.values_list("taxon__slug", flat=True)) == [
        "fox",
        "wild-boar",
        "roe-deer",
    ]
    assert version.artifacts["checkpoint"]["path"].startswith(str(settings.DATA_DIR))


def test_register_model_refuses_wrong_class_count_and_corrupt_files(tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("renard\nsanglier\n")
    with pytest.raises(CommandError, match="lists 2 classes but the checkpoint outputs 3"):
        call_command(
            "register_model",
            "--checkpoint",
            _standin(tmp_path, 3),
            "--format",
            "deepfaune",
            "--classes",
            str(classes),
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError, match="only DeepFaune's 26 seeded classes"):
        call_command(
            "register_model",
            "--checkpoint",
            _standin(tmp_path, 3),
            "--format",
            "deepfaune",
            stdout=io.StringIO(),
        )
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"garbage")
    with pytest.raises(CommandError, match="Nothing registered"):
        call_command(
            "register_model",
            "--checkpoint",
            str(corrupt),
            "--format",
            "deepfaune",
            stdout=io.StringIO(),
        )
    assert not ModelVersion.objects.exists()


def test_registered_deepfaune_version_prelabels(
    tmp_path, api, django_capture_on_commit_callbacks, settings
):
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
        post(api, upload("a.jpg", jpeg_bytes(size=(200, 150))))
    prediction = Prediction.objects.get()
    assert prediction.taxon.slug in ("fox", "wild-boar", "roe-deer") and len(prediction.top) == 3


def test_near_copies_embed_alike_and_index_rebuild(
    api, zero_shot, django_capture_on_commit_callbacks
):
    """Selection skips near-copies by embedding cosine: two uploads of nearly the same picture must
    land above the threshold, a different picture below it."""
    from inference.engine.similarity import normalise
    from inference.engine.stored import from_f16_bytes

    same = jpeg_bytes(size=(320, 240), seed=5)
    almost = bytearray(same)
    almost[-3] ^= (
        1  # different bytes (not a duplicate upload) that decode to nearly the same picture
    )
    with django_capture_on_commit_callbacks(execute=True):
        post(
            api,
            upload("a.jpg", same),
            upload("a2.jpg", bytes(almost)),
            upload("b.jpg", jpeg_bytes(size=(320, 240), seed=77)),
            deployment_name="Cam",
        )
    vectors = {
        e.image.original_name: normalise(from_f16_bytes(e.vector)[None, :])[0]
        for e in Embedding.objects.select_related("image")
    }
    assert (
        float(vectors["a.jpg"] @ vectors["a2.jpg"])
        >= 0.995
        > float(vectors["a.jpg"] @ vectors["b.jpg"])
    )
    out = io.StringIO()
    call_command("rebuild_index", stdout=out)
    assert json.loads(out.getvalue().splitlines()[-1])["vectors"] == 3


def test_video_is_prelabelled_from_sampled_frames(
    api, zero_shot, tmp_path, django_capture_on_commit_callbacks
):
    from tests.factories import video_bytes

    with django_capture_on_commit_callbacks(execute=True):
        post(api, upload("clip.mp4", video_bytes(tmp_path, frames=20), "video/mp4"))
    prediction = Prediction.objects.get()
    assert prediction.image.kind == "video" and len(prediction.top) == 5


@pytest.mark.slow
def test_version_with_a_yolo_detector_stores_its_boxes(
    tmp_path, api, settings, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path))
    from inference.engine.detections import import_yolo

    YOLO = import_yolo()  # noqa: N806

    settings.FAUNE = {
        **settings.FAUNE,
        "AFTER_INGEST_TASKS": ["inference.tasks.prelabel_batch"],
        "DETECTION_THRESHOLD": 0.0,
    }
    detector = YOLO("yolov8n.yaml")
    detector.model.names = {0: "animal", 1: "person", 2: "vehicle"}
    weights = tmp_path / "detector.pt"
    torch.save({"model": detector.model, "train_args": {}}, weights)
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
        "--detector",
        str(weights),
        "--detector-size",
        "64",
        "--promote",
        stdout=io.StringIO(),
    )
    weights.unlink()  # kept in the data dir at registration: the operator's file may go
    with django_capture_on_commit_callbacks(execute=True):
        post(api, upload("a.jpg", jpeg_bytes(size=(200, 150))))
    prediction = Prediction.objects.get()
    assert Detection.objects.filter(image=prediction.image, source="detector").exists()
    assert prediction.box_source == "detector"


def test_the_api_answers_keep_their_keys_and_order(api, uploaded, zero_shot):
    """The output serializers declare each answer; clients read the same keys, in the same order,
    as before."""
    a, c = Image.objects.get(original_name="a.jpg"), Image.objects.get(original_name="c.jpg")
    labelled = api.post(
        f"/api/images/{c.pk}/annotations/", {"taxon": "wolf", "expected_current": 0}, format="json"
    )
    assert labelled.status_code == 201 and list(labelled.json())[-1] == "saved"
    assert list(labelled.json()["saved"]) == ["id", "kind", "summary", "task", "created_at"]
    wolf = labelled.json()["taxon"]["id"]

    similar = api.get(f"/api/images/{a.pk}/similar/?k=5").json()
    assert list(similar) == ["results"]
    assert all(
        list(row) == ["image", "similarity", "thumbnail_url", "url"] for row in similar["results"]
    )
    nearest_c = next(row for row in similar["results"] if row["image"] == c.pk)
    assert nearest_c["url"] == reverse("image-detail", args=[c.pk])
    assert nearest_c["thumbnail_url"] == reverse("image-thumbnail", args=[c.pk])
    by_taxon = api.get(f"/api/images/{a.pk}/similar/?taxa={wolf}&k=4").json()
    assert by_taxon == {"by_taxon": [{"taxon": wolf, "results": [nearest_c]}]}

    detections = api.get(f"/api/images/{a.pk}/detections/").json()
    assert list(detections) == ["threshold", "detections"] and detections["threshold"] == 0.2
    progress = api.get(f"/api/batches/{uploaded}/prelabel/").json()
    assert list(progress) == [
        "state",
        "images",
        "predicted",
        "error",
        "version",
        "zero_shot",
        "status",
    ]
    assert progress["status"] == progress["state"] and progress["images"] == 3
    prediction = api.get(f"/api/images/{a.pk}/prediction/").json()
    assert list(prediction) == ["version", "image", "sequence"]
    assert list(prediction["version"]) == ["id", "name", "version", "zero_shot"]
    assert list(prediction["image"]) == [
        "category",
        "taxon",
        "score",
        "box",
        "box_source",
        "box_source_label",
        "top",
    ]
    assert list(prediction["sequence"]) == [
        "category",
        "taxon",
        "score",
        "undefined",
        "threshold",
        "rollup",
        "top",
    ]
    assert list(prediction["image"]["top"][0]) == ["taxon", "probability"]
    accepted = api.post("/api/prelabels/accept/", {"images": [a.pk]}, format="json").json()
    assert list(accepted) == ["labelled", "skipped", "conflicts", "saved"] and accepted[
        "labelled"
    ] == [a.pk]
    assert list(api.get("/api/models/").json()[0]) == [
        "id",
        "name",
        "version",
        "status",
        "head_kind",
        "zero_shot",
        "backbone",
        "classes",
        "artifacts",
        "created_at",
    ]
