"""Label history: every event kept, the current label derived (expert over partner over import)."""

import pytest

from annotation.models import Annotation, Image, LabelSource
from annotation.selectors import current_label, label_history
from annotation.services.annotations import LabelConflict, annotation_add
from annotation.services.batches import batch_open
from annotation.services.ingest import IngestHints, IngestLabel, image_ingest
from tests import factories
from tests.factories import taxon, write_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(org, partner, tmp_path):
    batch = batch_open(organisation=org, uploader=partner)
    hints = IngestHints(labels=(IngestLabel(taxon("roe-deer")),))
    return image_ingest(
        path=write_jpeg(tmp_path / "a.jpg"), name="a.jpg", batch=batch, deployment=None, hints=hints
    ).image


def current(image) -> str:
    return Image.objects.get(pk=image.pk).current_taxon_id


def test_partner_label_outranks_import_and_expert_outranks_partner(image, partner, coordinator):
    assert current(image) == taxon("roe-deer").pk
    annotation_add(image=image, taxon=taxon("red-deer"), author=partner)
    assert current(image) == taxon("red-deer").pk
    annotation_add(image=image, taxon=taxon("chamois"), author=coordinator)
    annotation_add(
        image=image, taxon=taxon("fox"), author=partner
    )  # a later partner label does not win
    assert current(image) == taxon("chamois").pk
    assert [a.taxon.slug for a in label_history(image)] == [
        "chamois",
        "fox",
        "red-deer",
        "roe-deer",
    ]
    assert Annotation.objects.count() == 4  # nothing overwritten


def test_expert_label_on_own_taxa_counts_as_expert(image, expert, partner):
    annotation_add(image=image, taxon=taxon("red-deer"), author=partner)
    image = Image.objects.get(pk=image.pk)
    label = annotation_add(image=image, taxon=taxon("red-deer"), author=expert)
    assert (label.source, label.role) == (LabelSource.EXPERT, "expert")


def test_sequence_label_applies_to_every_frame(image, partner):
    annotation_add(image=image, taxon=taxon("wild-boar"), author=partner, whole_sequence=True)
    assert current(image) == taxon("wild-boar").pk
    assert Annotation.objects.filter(sequence=image.sequence).exists()


def test_stale_client_gets_a_conflict_not_a_silent_overwrite(image, partner, other_partner):
    seen = label_history(image).first().pk
    annotation_add(image=image, taxon=taxon("red-deer"), author=partner, expected_current_id=seen)
    with pytest.raises(LabelConflict, match="since you loaded it"):
        annotation_add(image=image, taxon=taxon("fox"), author=partner, expected_current_id=seen)
    assert current(image) == taxon("red-deer").pk


def test_accepting_a_prediction_is_recorded_as_such(image, partner):
    label = annotation_add(
        image=image, taxon=taxon("roe-deer"), author=partner, accept_prediction=True
    )
    assert label.source == LabelSource.MODEL_ACCEPTED


def test_the_current_label_by_key_is_the_first_of_the_history(
    image, partner, coordinator, org, tmp_path
):
    """The review desk reads the label in force from the image's columns: the same one as the
    ranking, with its taxon and author, after every kind of event."""

    def by_key():
        return current_label(Image.objects.get(pk=image.pk))

    assert by_key() == label_history(image).first()  # the import
    annotation_add(image=image, taxon=taxon("red-deer"), author=partner)
    annotation_add(image=image, taxon=taxon("fox"), author=partner, whole_sequence=True)
    assert by_key() == label_history(image).first()
    assert by_key().taxon.slug == "fox"
    annotation_add(image=image, taxon=taxon("chamois"), author=coordinator)
    found = by_key()
    assert found == label_history(image).first()
    assert (found.taxon.slug, found.author) == ("chamois", coordinator)
    batch = batch_open(organisation=org, uploader=partner)
    (unlabelled,) = factories.photos_ingested(batch, tmp_path, (7,))
    assert current_label(unlabelled) is None


def test_a_whole_sequence_label_checks_every_frame_not_only_the_one_shown(
    org, tmp_path, partner, coordinator
):
    """Paula reads frame 1 and labels the whole sequence; meanwhile Cora labelled frame 3. The
    page's form carries the sequence's newest label as it was read: Cora's label is not overridden
    unseen."""
    from django.test import Client

    from tests.annotation.test_review import _frames

    frames = _frames(org, tmp_path, "burst", 3)
    client = Client()
    client.force_login(partner)
    page = client.get(f"/images/{frames[0].pk}/")
    initial = page.context["form"].initial
    annotation_add(image=frames[2], taxon=taxon("badger"), author=coordinator)
    answer = client.post(
        f"/images/{frames[0].pk}/",
        {"taxon": taxon("fox").pk, "whole_sequence": "on", **initial},
        follow=True,
    )
    said = [str(message) for message in answer.context["messages"]]
    assert any("labelled badger" in text and "since you loaded it" in text for text in said), said
    assert not Annotation.objects.filter(taxon=taxon("fox")).exists()
    assert current(frames[2]) == taxon("badger").pk
    fresh = client.get(f"/images/{frames[0].pk}/").context["form"].initial
    client.post(
        f"/images/{frames[0].pk}/", {"taxon": taxon("fox").pk, "whole_sequence": "on", **fresh}
    )
    assert Annotation.objects.filter(taxon=taxon("fox"), sequence=frames[0].sequence).exists()
