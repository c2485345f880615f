"""Undo under real concurrency (threads with their own database connections, released at one
moment): an undo racing a colleague's label on the same frames, and two undos of one verdict (two
tabs, a double key press). Whatever the order, one of them wins, nobody's label is lost silently,
and the materialised current labels equal the derived rule."""

import pytest

from annotation.models import (
    Annotation,
    Image,
    LabelSource,
    ReviewTask,
    Role,
    Sequence,
    UploadBatch,
)
from annotation.selectors import labels_for_image
from annotation.services.annotations import LabelConflict, annotation_add
from annotation.services.review import ReviewItem, review_task_claim_next, review_tasks_create
from annotation.services.undo import UndoRefused, decision_undo
from annotation.services.verdicts import Verdict, review_verdict_submit
from tests import factories
from tests.annotation.test_review_concurrency import _in_threads
from tests.factories import taxon

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_taxa")]


def _labelled_burst(org, partner) -> list[Image]:
    """Three frames of one sequence (rows only), labelled roe deer by a partner."""
    batch = UploadBatch.objects.create(organisation=org, source_name="rows")
    sequence = Sequence.objects.create(organisation=org, batch=batch)
    frames = Image.objects.bulk_create(
        [
            Image(
                organisation=org,
                batch=batch,
                sequence=sequence,
                file=f"rows/{i}.jpg",
                original_name=f"{i}.jpg",
                sha256=f"{i:064x}",
                bytes=1,
                width=64,
                height=48,
            )
            for i in range(3)
        ]
    )
    annotation_add(image=frames[0], taxon=taxon("roe-deer"), author=partner, whole_sequence=True)
    return frames


def _verdict(org, frames, expert) -> int:
    review_tasks_create(items=[ReviewItem(frames[0], None, "margin pick", 0.5)], origin="race")
    task = review_task_claim_next(user=expert, queue_taxon_id=None)
    return review_verdict_submit(
        task_id=task.pk, user=expert, verdict=Verdict(taxon=taxon("cow"))
    ).decision.pk


def _consistent(frames) -> None:
    for frame in Image.objects.filter(pk__in=[f.pk for f in frames]):
        winner = labels_for_image(frame, frame.sequence_id).first()
        assert frame.current_label_id == (winner.pk if winner else None)
        assert frame.current_taxon_id == (winner.taxon_id if winner else None)


@pytest.fixture
def people(org, other_org):
    return {
        "partner": factories.member("paula", org, Role.PARTNER),
        "expert": factories.member("erin", other_org, Role.EXPERT, taxa=[taxon("roe-deer")]),
        "coordinator": factories.member(
            "cora", factories.organisation("Coordination"), Role.COORDINATOR
        ),
    }


@pytest.mark.parametrize(
    "attempt", range(8)
)  # a race shows only now and then: give it several chances
def test_an_undo_racing_a_colleagues_label_never_loses_either(org, people, attempt):
    frames = _labelled_burst(org, people["partner"])
    decision = _verdict(org, frames, people["expert"])
    seen = Image.objects.get(
        pk=frames[1].pk
    ).current_label_id  # the colleague's page shows the expert's cow

    def act(user, barrier):
        barrier.wait()
        try:
            if user == people["expert"]:
                decision_undo(decision_id=decision, user=user)
            else:  # as the pages do: the label they saw as current goes along
                annotation_add(
                    image=Image.objects.get(pk=frames[1].pk),
                    taxon=taxon("badger"),
                    author=user,
                    expected_current_id=seen,
                )
        except (UndoRefused, LabelConflict) as refusal:
            return f"refused: {refusal}"
        return "done"

    outcome = _in_threads([people["expert"], people["coordinator"]], act)
    undone, labelled = outcome[people["expert"].pk], outcome[people["coordinator"].pk]
    assert [undone, labelled].count("done") == 1, outcome  # exactly one wins, the other is told why
    badger = Annotation.objects.filter(taxon__slug="badger")
    if (
        undone == "done"
    ):  # the colleague was told the frame changed under them: nothing of theirs was written
        assert not badger.exists() and "reload" in labelled
        assert set(
            Image.objects.filter(pk__in=[f.pk for f in frames]).values_list(
                "current_taxon__slug", flat=True
            )
        ) == {"roe-deer"}
        assert ReviewTask.objects.get().state == "open"
    else:  # the undo would have discarded the badger: refused, the verdict stands
        assert "cora labelled these frames badger" in undone
        assert Image.objects.get(pk=frames[1].pk).current_taxon.slug == "badger"
        assert not Annotation.objects.filter(source=LabelSource.UNDO).exists()
        assert ReviewTask.objects.get().state == "done"
    _consistent(frames)


@pytest.mark.parametrize("attempt", range(4))
def test_two_undos_of_one_verdict_at_once_undo_it_once(org, people, attempt):
    frames = _labelled_burst(org, people["partner"])
    decision = _verdict(org, frames, people["expert"])
    expert = people["expert"]

    def undo(index, barrier):
        barrier.wait()
        try:
            decision_undo(decision_id=decision, user=expert)
        except UndoRefused as refusal:
            return f"refused: {refusal}"
        return "done"

    class Tab:  # two tabs of one expert: _in_threads keys results by .pk
        def __init__(self, pk: int) -> None:
            self.pk = pk

    outcome = _in_threads([Tab(1), Tab(2)], lambda tab, barrier: undo(tab.pk, barrier))
    assert (
        sorted(outcome.values())[0] == "done" and "already undone" in sorted(outcome.values())[1]
    ), outcome
    assert (
        Annotation.objects.filter(source=LabelSource.UNDO).count()
        == Annotation.objects.filter(decision_id=decision).count()
    )
    _consistent(frames)
