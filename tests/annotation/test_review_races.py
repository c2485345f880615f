"""Review tasks written by two jobs at once: a task another job inserted meanwhile for the same
sequence skips that item instead of failing the whole batch of picks."""

import pytest
from django.db import transaction

from annotation.models import ReviewTask
from annotation.services.review import ReviewItem, _task_insert
from tests.annotation.test_review import _frames

pytestmark = pytest.mark.django_db


def test_a_concurrent_insert_for_the_same_sequence_skips_only_that_item(org, tmp_path):
    first, second = _frames(org, tmp_path, "a", 1)[0], _frames(org, tmp_path, "b", 1, seed=50)[0]
    with transaction.atomic():
        # another job's task for the same sequence landed between this job's check and its insert
        ReviewTask.objects.create(
            image=first,
            sequence_id=first.sequence_id,
            opened_for=first.sequence_id,
            reason="other job",
        )
        assert _task_insert(ReviewItem(first, None, "this job", 0.5), "selection:2") is None
        kept = _task_insert(
            ReviewItem(second, None, "this job", 0.5), "selection:2"
        )  # the batch goes on
    assert kept is not None and ReviewTask.objects.count() == 2


def test_a_conflict_settled_on_a_page_older_than_a_new_label_is_refused(
    org, tmp_path, client, coordinator
):
    from annotation.models import Annotation, ReviewState
    from annotation.services.annotations import annotation_add
    from tests import factories

    frames = _frames(org, tmp_path, "c", 2, seed=80)
    task = ReviewTask.objects.create(
        image=frames[0],
        sequence_id=frames[0].sequence_id,
        opened_for=frames[0].sequence_id,
        reason="two experts",
        state=ReviewState.CONFLICT,
    )
    client.force_login(coordinator)
    page = client.get("/review/conflicts/").content.decode()
    assert 'name="expected_current" value="0"' in page
    other = factories.member("carl", factories.organisation("Coordination"), "coordinator")
    annotation_add(
        image=frames[1], taxon=factories.taxon("wild-boar"), author=other
    )  # another frame, meanwhile
    answer = client.post(
        "/review/conflicts/",
        {"task": task.pk, "taxon": factories.taxon("fox").pk, "expected_current": 0},
        follow=True,
    ).content.decode()
    assert "This sequence was labelled wild boar by carl since you loaded it" in answer
    assert not Annotation.objects.filter(taxon__slug="fox").exists()
    assert ReviewTask.objects.get(pk=task.pk).state == ReviewState.CONFLICT
