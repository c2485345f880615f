"""Review tasks written by two jobs at once: a task another job inserted meanwhile for the same sequence skips
that item instead of failing the whole batch of picks."""
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
        ReviewTask.objects.create(image=first, sequence_id=first.sequence_id, opened_for=first.sequence_id,
                                  reason="other job")
        assert _task_insert(ReviewItem(first, None, "this job", 0.5), "selection:2") is None
        kept = _task_insert(ReviewItem(second, None, "this job", 0.5), "selection:2")  # the batch goes on
    assert kept is not None and ReviewTask.objects.count() == 2
