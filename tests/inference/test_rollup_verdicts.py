"""A sequence whose species split the vote but whose family is sure reads as that family, marked as
a roll-up, and whether it rolls up follows the organisation's threshold of the day (nothing is
stored for it)."""

import numpy as np
import pytest

from annotation.models import Image
from inference.engine.specs import EFFICIENTNET_LITE0
from inference.engine.stored import to_f16_bytes
from inference.models import ModelVersion, Prediction, SequencePrediction
from inference.services.prelabel import Context, sequence_predictions_refresh
from tests.factories import jpeg_bytes, taxon, upload

pytestmark = pytest.mark.django_db
CLASSES = ("red-deer", "roe-deer", "fox", "wild-boar", "badger", "mustelid")


@pytest.fixture
def version(db):
    version = ModelVersion.objects.create(
        name="head",
        version="1",
        backbone=EFFICIENTNET_LITE0.to_dict(),
        head_kind="trained_head",
        status="production",
    )
    for index, slug in enumerate(CLASSES):
        version.classes.create(index=index, taxon=taxon(slug))
    return version


@pytest.fixture
def sequence(api):
    response = api.post(
        "/api/images/",
        {
            "files": [
                upload("a.jpg", jpeg_bytes(size=(96, 72), seed=1, taken="2024:05:01 10:00:00")),
                upload("b.jpg", jpeg_bytes(size=(96, 72), seed=2, taken="2024:05:01 10:00:03")),
            ],
            "deployment_name": "Cam",
        },
        format="multipart",
    )
    assert response.status_code == 201
    images = list(Image.objects.order_by("pk"))
    assert len({image.sequence_id for image in images}) == 1
    return images


def _predict(version: ModelVersion, images: list[Image], probabilities: list[float]) -> None:
    """Every frame says the same: these class probabilities (as logits), then the verdicts
    are refreshed."""
    logits = np.log(np.array(probabilities, dtype=np.float32))
    classes = [row.taxon for row in version.classes.order_by("index")]
    for image in images:
        Prediction.objects.update_or_create(
            image=image,
            version=version,
            defaults={
                "category": "animal",
                "taxon": classes[int(logits.argmax())],
                "score": float(max(probabilities)),
                "top": [],
                "logits": to_f16_bytes(logits),
            },
        )
    context = Context(version, None, classes, {})
    assert sequence_predictions_refresh(context=context, sequence_ids=[images[0].sequence_id]) == 1


def _verdict(api, image: Image) -> dict:
    response = api.get(f"/api/images/{image.pk}/prediction/")
    assert response.status_code == 200
    return response.json()["sequence"]


def test_split_deer_roll_up_to_the_deer_family(api, org, version, sequence):
    _predict(version, sequence, [0.47, 0.43, 0.04, 0.03, 0.02, 0.01])
    seq = _verdict(api, sequence[0])
    assert seq["undefined"] is True and seq["taxon"]["slug"] == "red-deer"
    assert (
        seq["rollup"]["taxon"]["slug"] == "cervidae"
        and seq["rollup"]["taxon"]["name_en"] == "deer family"
    )
    assert seq["rollup"]["probability"] == pytest.approx(0.90, abs=1e-3)
    assert len(seq["top"]) == 3  # the page shows three; more are stored for the roll-up
    stored = SequencePrediction.objects.get(sequence_id=sequence[0].sequence_id, version=version)
    assert len(stored.top) == len(CLASSES)


def test_the_threshold_of_the_day_decides_the_roll_up(api, org, version, sequence):
    _predict(version, sequence, [0.47, 0.43, 0.04, 0.03, 0.02, 0.01])
    org.undefined_threshold = 0.95  # the family's 0.90 is no longer enough
    org.save()
    seq = _verdict(api, sequence[1])
    assert seq["undefined"] is True and seq["rollup"] is None
    org.undefined_threshold = 0.45  # red deer itself is sure enough: no roll-up needed
    org.save()
    seq = _verdict(api, sequence[1])
    assert (
        seq["undefined"] is False and seq["rollup"] is None and seq["taxon"]["slug"] == "red-deer"
    )
    org.undefined_threshold = 0.85
    org.save()
    assert _verdict(api, sequence[1])["rollup"]["taxon"]["slug"] == "cervidae"


def test_a_class_above_a_class_sums_both(api, org, version, sequence):
    """mustelid and badger are both classes: a sure mustelid family is answered by the
    mustelid class."""
    _predict(version, sequence, [0.05, 0.04, 0.02, 0.01, 0.48, 0.40])
    seq = _verdict(api, sequence[0])
    assert seq["taxon"]["slug"] == "badger" and seq["rollup"]["taxon"]["slug"] == "mustelid"


def test_species_of_different_families_do_not_roll_up(api, org, version, sequence):
    _predict(version, sequence, [0.45, 0.05, 0.44, 0.03, 0.02, 0.01])
    seq = _verdict(api, sequence[0])
    assert seq["undefined"] is True and seq["rollup"] is None
