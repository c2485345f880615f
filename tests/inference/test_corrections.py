"""A partner who overrules a pre-label the model was unsure of gets a second opinion from
an expert."""

import pytest

from annotation.models import Organisation, ReviewTask, Role, Taxon
from inference.models import Prediction
from tests.factories import jpeg_bytes, member, organisation, taxon, upload
from tests.inference.test_prelabel import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def predicted(api, zero_shot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(
            api,
            *[upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(3)],
            deployment_name="Cam",
        )
    return list(Prediction.objects.select_related("taxon", "image").order_by("image_id"))


@pytest.fixture
def experts(db):
    """An expert of every animal taxon: a check goes to the partner's taxon only where someone
    reviews it."""
    return member(
        "ida", organisation("Muséum"), Role.EXPERT, taxa=list(Taxon.objects.filter(kind="animal"))
    )


def _another(prediction: Prediction) -> str:
    return "wolf" if prediction.taxon.slug != "wolf" else "fox"


def _label(api, captured, prediction, slug):
    with captured(execute=True):
        return api.post(
            f"/api/images/{prediction.image_id}/annotations/", {"taxon": slug}, format="json"
        )


def test_a_correction_of_a_doubtful_prelabel_goes_to_the_chosen_taxon_queue(
    api, predicted, experts, django_capture_on_commit_callbacks
):
    Organisation.objects.update(check_corrections_below=1.0)
    first = predicted[0]
    answer = _label(api, django_capture_on_commit_callbacks, first, _another(first))
    assert answer.status_code == 201
    task = ReviewTask.objects.get()
    assert (task.queue_taxon.slug, task.origin, task.image_id) == (
        _another(first),
        "correction",
        first.image_id,
    )
    assert "the model said" in task.reason
    assert task.checks_label_id == answer.json()["id"]  # the desk offers the partner's choice first


def test_agreeing_with_the_model_or_a_confident_model_opens_nothing(
    api, predicted, django_capture_on_commit_callbacks
):
    Organisation.objects.update(check_corrections_below=1.0)
    _label(api, django_capture_on_commit_callbacks, predicted[0], predicted[0].taxon.slug)
    Organisation.objects.update(check_corrections_below=0.0)
    _label(api, django_capture_on_commit_callbacks, predicted[1], _another(predicted[1]))
    assert not ReviewTask.objects.exists()


def test_bulk_corrections_are_checked_in_one_job(
    api, predicted, experts, django_capture_on_commit_callbacks
):
    Organisation.objects.update(check_corrections_below=1.0)
    ids = [p.image_id for p in predicted]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(
            "/api/prelabels/accept/", {"images": ids, "taxon": "wild boar"}, format="json"
        )
    assert response.status_code == 201 and len(callbacks) == 1
    wanted = {p.image.sequence_id for p in predicted if p.taxon.slug != "wild-boar"}
    assert set(ReviewTask.objects.values_list("sequence_id", flat=True)) == wanted
    assert {t.queue_taxon_id for t in ReviewTask.objects.all()} == {taxon("wild-boar").pk}
