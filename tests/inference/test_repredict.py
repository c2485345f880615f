"""Re-prediction after a head round is promoted goes through the stored embeddings, not the
backbone: it needs no pixels at all, except for images whose crop changed since their embedding
was computed."""

import numpy as np
import pytest
from django.core.files.storage import default_storage

from annotation.models import Image
from annotation.services.annotations import annotation_add
from faune_platform.boxes import Box
from inference.models import Embedding, Prediction
from inference.services.registry import model_version_promote
from tests.factories import jpeg_bytes, taxon, upload
from tests.inference.test_prelabel import post
from tests.training.test_rounds import run_round

pytestmark = pytest.mark.django_db

POOL = 40


@pytest.fixture
def pool(api, zero_shot, coordinator, django_capture_on_commit_callbacks):
    """Forty pre-labelled uploads (zero-shot), labelled fox or wild boar, and a head round trained
    on them. Forty sequences, because the test split is drawn from sequence ids, which PostgreSQL
    does not reuse between tests: with twelve, about one draw of ids in seven (0.85^12) left the
    test split empty and the round refused to run."""
    with django_capture_on_commit_callbacks(execute=True):
        post(api, *[upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(POOL)])
    for image in Image.objects.all():
        annotation_add(
            image=image, taxon=taxon("fox" if image.pk % 2 else "wild-boar"), author=coordinator
        )
    done = run_round(min_labels=2, epochs=5)
    assert done.status == "done", done.log
    return done.candidate


def test_a_promoted_head_repredicts_from_stored_embeddings(
    pool, coordinator, django_capture_on_commit_callbacks
):
    before = dict(Embedding.objects.values_list("image_id", "vector"))
    boxed = Image.objects.order_by("pk").first()
    annotation_add(image=boxed, taxon=taxon("fox"), author=coordinator, box=Box(0.1, 0.1, 0.5, 0.5))
    for image in Image.objects.exclude(
        pk=boxed.pk
    ):  # no pixels left: only stored embeddings can serve
        default_storage.delete(image.file.name)
    Prediction.objects.filter(version=pool).delete()  # what the round's own scoring may have left
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version=pool, confirm_lost_classes=True)
    predictions = Prediction.objects.filter(version=pool)
    assert predictions.count() == Image.objects.count() == POOL
    after = dict(Embedding.objects.values_list("image_id", "vector"))
    assert all(bytes(after[pk]) == bytes(before[pk]) for pk in before if pk != boxed.pk)
    assert bytes(after[boxed.pk]) != bytes(
        before[boxed.pk]
    )  # the expert's box changed the crop: re-embedded
    assert Embedding.objects.get(image=boxed).box == [0.1, 0.1, 0.5, 0.5]
    # the stored embedding through the head gives what the pixels through backbone and head give
    from inference.services.runtime import runner_for

    runner = runner_for(pool.pk)
    stored = Embedding.objects.get(image=boxed)
    from inference.engine.stored import from_f16_bytes

    features = from_f16_bytes(stored.vector) * stored.norm
    fresh = Prediction.objects.get(version=pool, image=boxed)
    logits = runner.logits_from_features(features[None, :])[0]
    assert np.allclose(logits, from_f16_bytes(fresh.logits), atol=0.05)
