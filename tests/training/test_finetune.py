"""A fine-tune round end to end on real files, on the CPU: crops, training, scoring, a checkpoint
version whose embeddings get their own backbone key, and pre-labelling with it after promotion."""

import pytest

from annotation.models import Image
from annotation.services.annotations import annotation_add
from inference.models import Prediction
from inference.services.registry import model_version_promote
from tests.factories import jpeg_bytes, taxon, upload
from tests.inference.test_object_storage import OBJECT_STORAGE
from tests.inference.test_prelabel import post
from tests.training.test_rounds import run_round

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.mark.parametrize("storage", ["local", "object"])
def test_finetune_round_registers_a_checkpoint_that_prelabels(
    storage,
    api,
    zero_shot,
    coordinator,
    settings,
    django_capture_on_commit_callbacks,
):
    if storage == "object":
        settings.STORAGES = OBJECT_STORAGE  # no local paths: crops come from cached copies
    files = [upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(36)]
    with django_capture_on_commit_callbacks(execute=True):
        post(api, *files, deployment_name="Cam")
    for image in Image.objects.all():
        annotation_add(
            image=image, taxon=taxon("fox" if image.pk % 2 else "wild-boar"), author=coordinator
        )
    done = run_round(
        mode="finetune", finetune_epochs=1, batch_size=8, loader_workers=0, min_labels=2
    )
    assert done.status == "done", done.log
    candidate = done.candidate
    assert (
        candidate.head_kind == "checkpoint"
        and candidate.artifacts["checkpoint"]["format"] == "timm"
    )
    assert (
        candidate.backbone_key != zero_shot.backbone_key and candidate.lineage["round"] == done.pk
    )
    assert "test" in done.metrics["candidate"]
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version=candidate)
    assert Prediction.objects.filter(version=candidate).count() == Image.objects.count()
