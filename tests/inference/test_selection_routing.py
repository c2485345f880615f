"""Picks and correction checks go to queues that experts work: the first of the prediction's top 3
taxa some expert reviews, triage only when none has; a promotion re-routes waiting picks by the
same rule."""

import pytest
from django.utils import timezone

from annotation.models import Organisation, ReviewTask, Role
from inference.models import Prediction
from inference.services.selection import review_queues_refresh, selection_batch_open
from tests.factories import member, organisation, taxon
from tests.inference.test_corrections import _label, predicted  # noqa: F401 fixture
from tests.inference.test_selection_batches import pool  # noqa: F401 fixture

pytestmark = pytest.mark.django_db
TOP = [("red-deer", 0.41), ("roe-deer", 0.33), ("fox", 0.10), ("wolf", 0.05)]


@pytest.fixture
def said(pool):  # noqa: F811
    """Every prediction says the same top taxa, so where each pick goes is known in advance."""
    Prediction.objects.update(top=[[taxon(slug).pk, probability] for slug, probability in TOP])
    return pool


def _expert(name: str, *slugs: str):
    return member(name, organisation("Muséum"), Role.EXPERT, taxa=[taxon(slug) for slug in slugs])


def test_picks_go_to_the_first_of_the_top_3_with_an_expert(said):
    _expert("rob", "roe-deer")
    _expert("fanny", "fox")
    selection_batch_open(user=None, strategy="margin", size=4)
    tasks = list(ReviewTask.objects.all())
    assert len(tasks) == 4 and {t.queue_taxon_id for t in tasks} == {taxon("roe-deer").pk}
    assert tasks[0].reason == (
        "margin pick; model: red deer 0.41, roe deer 0.33, fox 0.10; "
        "queue roe deer (first of the top 3 with an expert)"
    )


def test_picks_go_to_triage_when_no_top_3_taxon_has_an_expert(said):
    _expert("wolfgang", "wolf")  # 4th: beyond the top 3
    selection_batch_open(user=None, strategy="margin", size=3)
    tasks = list(ReviewTask.objects.all())
    assert {t.queue_taxon_id for t in tasks} == {None}
    assert tasks[0].reason.endswith("; triage: no expert for red deer, roe deer, fox")
    assert all(len(t.reason) <= 200 for t in tasks)


def test_promotion_requeues_by_the_same_rule_and_leaves_claimed_tasks(said, coordinator):
    selection_batch_open(user=None, strategy="margin", size=4)
    claimed = ReviewTask.objects.first()
    until = timezone.now() + timezone.timedelta(minutes=5)
    ReviewTask.objects.filter(pk=claimed.pk).update(claimed_by=coordinator, claimed_until=until)
    _expert("fanny", "fox")  # an expert arrives: fox is the first of the top 3 someone reviews
    assert review_queues_refresh(version=said) == 3
    for task in ReviewTask.objects.exclude(pk=claimed.pk):
        assert task.queue_taxon_id == taxon("fox").pk
        assert task.reason.startswith(f"re-queued by {said}; model: red deer 0.41")
        assert task.reason.endswith("queue fox (first of the top 3 with an expert)")
    assert ReviewTask.objects.get(pk=claimed.pk).queue_taxon_id is None
    _expert("erin2", "red-deer")
    assert review_queues_refresh(version=said) == 3  # red deer ranks first now
    assert review_queues_refresh(version=said) == 0  # nothing left to move


def test_a_correction_check_goes_to_triage_when_nobody_reviews_the_partners_taxon(
    api,
    predicted,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    Organisation.objects.update(check_corrections_below=1.0)
    first = predicted[0]
    chosen = "wolf" if first.taxon.slug != "wolf" else "fox"
    _label(api, django_capture_on_commit_callbacks, first, chosen)
    task = ReviewTask.objects.get()
    assert task.queue_taxon is None
    assert task.reason.endswith(f"; triage: no expert for {taxon(chosen).name_en}")
    assert "the model said" in task.reason


def test_promotion_leaves_a_task_an_expert_judged_where_the_verdict_sent_it(said):
    """Unsure sends a task to triage for another expert; moving it back to the queue of the expert
    who gave up would offer it to nobody but coordinators."""
    from annotation.services.review import review_queue_counts
    from tests.annotation.test_review import claim
    from tests.conftest import client_for

    rob = _expert("rob", "red-deer")  # the only red-deer expert
    fanny = _expert("fanny", "fox")
    selection_batch_open(user=None, strategy="margin", size=1)
    task = ReviewTask.objects.get()
    ReviewTask.objects.filter(pk=task.pk).update(reviews_needed=1)
    assert claim(rob, taxon("red-deer").pk).json()["id"] == task.pk
    unsure = client_for(rob).post(f"/api/review/tasks/{task.pk}/unsure/", {}, format="json")
    assert unsure.status_code == 200
    assert review_queues_refresh(version=said) == 0  # a promotion, the same predictions
    task.refresh_from_db()
    assert task.queue_taxon_id is None and "unsure" in task.reason
    assert [row["queue"] for row in review_queue_counts(taxon_ids=None, user=fanny)] == ["triage"]
