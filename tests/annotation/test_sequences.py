"""Sequences come out the same whatever order frames arrive in."""

import datetime as dt
import itertools

import pytest

from annotation.models import Annotation, Image, LabelSource, Role, Sequence
from annotation.services.annotations import current_labels_refresh
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from tests.factories import taxon, write_jpeg

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2024, 5, 1, 10, 0, 0)


def _ingest(org, camera, tmp_path, seconds: float | None, seed: int, maxlag: float | None = None):
    batch = batch_open(organisation=org, uploader=None, deployment=camera)
    taken = (
        (T0 + dt.timedelta(seconds=seconds)).strftime("%Y:%m:%d %H:%M:%S")
        if seconds is not None
        else None
    )
    path = write_jpeg(tmp_path / f"{seed}.jpg", taken=taken, seed=seed)
    return image_ingest(
        path=path, name=path.name, batch=batch, deployment=camera, maxlag_s=maxlag
    ).image


def _groups(camera) -> list[list[int]]:
    """Each sequence as the sorted offsets (seconds from T0) of its frames."""
    groups = []
    for sequence in Sequence.objects.filter(deployment=camera):
        offsets = sorted(
            int((i.taken_at.replace(tzinfo=None) - T0).total_seconds())
            for i in sequence.images.exclude(taken_at=None)
        )
        groups.append(offsets)
    return sorted(groups)


@pytest.mark.parametrize("order", list(itertools.permutations([0, 10, 25, 100, 115]))[::4])
def test_any_arrival_order_gives_the_same_sequences(org, tmp_path, order):
    camera = deployment_get_or_create(organisation=org, name="cam")
    for seed, seconds in enumerate(order):
        _ingest(org, camera, tmp_path, seconds, seed)
    assert _groups(camera) == [[0, 10, 25], [100, 115]]


def test_gap_equal_to_maxlag_joins_and_over_it_splits(org, tmp_path):
    camera = deployment_get_or_create(organisation=org, name="cam")
    for seed, seconds in enumerate([0, 20, 41]):
        _ingest(org, camera, tmp_path, seconds, seed)
    assert _groups(camera) == [[0, 20], [41]]


def test_late_frame_bridging_two_sequences_merges_them_and_keeps_their_labels(org, tmp_path):
    camera = deployment_get_or_create(organisation=org, name="cam")
    first = _ingest(org, camera, tmp_path, 0, 1)
    second = _ingest(org, camera, tmp_path, 30, 2)
    Annotation.objects.create(
        sequence=second.sequence, taxon=taxon("fox"), role=Role.EXPERT, source=LabelSource.EXPERT
    )
    _ingest(org, camera, tmp_path, 15, 3)
    assert _groups(camera) == [[0, 15, 30]]
    merged = Image.objects.get(pk=first.pk).sequence
    assert merged.annotations.get().taxon.slug == "fox"


def test_undated_image_is_its_own_sequence(org, tmp_path):
    camera = deployment_get_or_create(organisation=org, name="cam")
    a = _ingest(org, camera, tmp_path, None, 1)
    b = _ingest(org, camera, tmp_path, None, 2)
    assert a.sequence_id != b.sequence_id and a.sequence.start is None


def test_cameras_never_share_a_sequence(org, tmp_path):
    one = deployment_get_or_create(organisation=org, name="one")
    two = deployment_get_or_create(organisation=org, name="two")
    assert (
        _ingest(org, one, tmp_path, 0, 1).sequence_id
        != _ingest(org, two, tmp_path, 1, 2).sequence_id
    )


def test_organisation_maxlag_is_the_default(org, tmp_path):
    org.sequence_maxlag_s = 60
    org.save()
    camera = deployment_get_or_create(organisation=org, name="cam")
    for seed, seconds in enumerate([0, 50]):
        _ingest(org, camera, tmp_path, seconds, seed)
    assert _groups(camera) == [[0, 50]]


def test_a_frame_joining_a_labelled_sequence_takes_its_label(org, tmp_path):
    camera = deployment_get_or_create(organisation=org, name="cam")
    first = _ingest(org, camera, tmp_path, 0, seed=1)
    Annotation.objects.create(
        sequence=first.sequence, taxon=taxon("fox"), role=Role.EXPERT, source=LabelSource.EXPERT
    )
    current_labels_refresh(images=Image.objects.filter(pk=first.pk))
    joining = _ingest(org, camera, tmp_path, 5, seed=2)
    alone = _ingest(org, camera, tmp_path, 3600, seed=3)
    assert joining.sequence_id == first.sequence_id
    joining.refresh_from_db()
    alone.refresh_from_db()
    assert joining.current_taxon_id == taxon("fox").pk
    assert alone.current_taxon_id is None and alone.current_label_id is None
