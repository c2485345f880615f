"""The materialised current label (`Image.current_label`, `current_taxon`, `current_source`) equals
the derived rule (`labels_for_image`: rank, then newest) after any sequence of label events,
imports, merges of sequences, review verdicts and conflict resolutions."""

import datetime as dt
import itertools

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from annotation.models import Image
from annotation.selectors import labels_for_image
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_open
from annotation.services.ingest import IngestHints, IngestLabel, image_ingest
from annotation.services.organisations import deployment_get_or_create
from annotation.services.review import ReviewItem, review_tasks_create
from annotation.services.verdicts import Verdict, review_conflict_resolve, review_verdict_submit
from tests import factories
from tests.factories import taxon, write_jpeg

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
T0 = dt.datetime(2024, 5, 1, 10, 0, 0)
SLUGS = ("fox", "red-deer", "wild-boar", "empty")
TIMES = (
    0,
    25,
    50,
    75,
    100,
    125,
    150,
)  # maxlag 30: neighbours join, a frame between two groups merges them
_seeds = itertools.count(1)

label_event = st.tuples(
    st.just("label"),
    st.integers(0, 30),
    st.sampled_from(("partner", "coordinator", "accept")),
    st.sampled_from(SLUGS),
    st.booleans(),
)
frame_event = st.tuples(st.just("frame"), st.sampled_from(TIMES), st.sampled_from((None, *SLUGS)))
review_event = st.tuples(
    st.just("review"), st.integers(0, 30), st.sampled_from(SLUGS), st.sampled_from(SLUGS)
)
events = st.lists(
    st.one_of(label_event, frame_event, frame_event, review_event), min_size=1, max_size=14
)


class _Rollback(Exception):
    pass


def _derived(image: Image) -> tuple:
    winner = labels_for_image(image, image.sequence_id).first()
    return (winner.pk, winner.taxon_id, winner.source) if winner else (None, None, "")


@pytest.fixture
def world(org, partner, coordinator, other_org):
    org.sequence_maxlag_s = 30
    org.save()
    camera = deployment_get_or_create(organisation=org, name="Col")
    experts = [
        factories.member(name, other_org, "expert", taxa=[taxon(s) for s in SLUGS])
        for name in ("e1", "e2")
    ]
    return {
        "org": org,
        "camera": camera,
        "partner": partner,
        "coordinator": coordinator,
        "experts": experts,
    }


def _frame(world, tmp_path, seconds: int, slug: str | None) -> None:
    batch = batch_open(
        organisation=world["org"], uploader=world["partner"], deployment=world["camera"]
    )
    seed = next(_seeds)
    taken = (T0 + dt.timedelta(seconds=seconds)).strftime("%Y:%m:%d %H:%M:%S")
    path = write_jpeg(tmp_path / f"{seed}.jpg", seed=seed, taken=taken)
    hints = IngestHints(labels=(IngestLabel(taxon(slug)),) if slug else ())
    image_ingest(path=path, name=path.name, batch=batch, deployment=world["camera"], hints=hints)


def _label(world, image: Image, who: str, slug: str, whole: bool) -> None:
    author = world["coordinator"] if who == "coordinator" else world["partner"]
    annotation_add(
        image=image,
        taxon=taxon(slug),
        author=author,
        whole_sequence=whole,
        accept_prediction=who == "accept",
    )


def _review(world, image: Image, first: str, second: str) -> None:
    """A blind double review; when the two experts disagree, a coordinator settles it."""
    created = review_tasks_create(items=[ReviewItem(image, None, "pick", 0.5)], origin="property")
    if not created:
        return
    task = created[0]
    task.reviews_needed = 2
    task.save(update_fields=["reviews_needed"])
    for expert, slug in zip(world["experts"], (first, second), strict=True):
        type(task).objects.filter(pk=task.pk).update(
            claimed_by=expert, claimed_until=T0.replace(year=2100, tzinfo=dt.UTC)
        )
        task = review_verdict_submit(
            task_id=task.pk, user=expert, verdict=Verdict(taxon=taxon(slug))
        )
    if task.state == "conflict":
        review_conflict_resolve(
            task_id=task.pk, user=world["coordinator"], verdict=Verdict(taxon=taxon(first))
        )


def _apply(world, tmp_path, event: tuple) -> None:
    images = list(Image.objects.order_by("pk"))
    if event[0] == "frame":
        _frame(world, tmp_path, event[1], event[2])
    elif images and event[0] == "label":
        _label(world, images[event[1] % len(images)], *event[2:])
    elif images and event[0] == "review":
        _review(world, images[event[1] % len(images)], *event[2:])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(story=events)
# A sequence label on one side of a gap, then a frame bridging it: the other side's frames inherit
# the label.
@example(
    story=[
        ("frame", 0, None),
        ("frame", 50, None),
        ("label", 0, "partner", "fox", True),
        ("frame", 25, None),
    ]
)
# An import label and an expert verdict on separate sequences that a late frame merges.
@example(
    story=[
        ("frame", 0, "fox"),
        ("frame", 50, None),
        ("review", 1, "wild-boar", "red-deer"),
        ("frame", 25, "empty"),
        ("label", 2, "accept", "red-deer", False),
    ]
)
def test_materialised_current_label_equals_the_derived_rule(world, tmp_path, story):
    try:
        with transaction.atomic():
            for event in story:
                _apply(world, tmp_path, event)
            for image in Image.objects.all():
                assert (
                    image.current_label_id,
                    image.current_taxon_id,
                    image.current_source,
                ) == _derived(image)
            raise _Rollback
    except _Rollback:
        pass
