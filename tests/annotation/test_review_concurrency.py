"""Review claims under real concurrency (threads with their own database connections, released at
one moment), and the share of blind double reviews at the platform's real default rather than the
tests' 0."""

import math
import threading

import pytest
from django.db import connection

from annotation.models import Image, ReviewState, ReviewTask, Role, Sequence, UploadBatch
from annotation.services.review import (
    ReviewItem,
    review_task_claim_next,
    review_task_release,
    review_tasks_create,
)
from faune_platform.settings import base
from tests import factories
from tests.factories import taxon

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_taxa")]


def _bare_images(org, count: int) -> list[Image]:
    """`count` one-frame sequences, written straight to the database: these tests need rows,
    not files."""
    batch = UploadBatch.objects.create(organisation=org, source_name="rows")
    sequences = Sequence.objects.bulk_create(
        [Sequence(organisation=org, batch=batch) for _ in range(count)]
    )
    return Image.objects.bulk_create(
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
            for i, sequence in enumerate(sequences)
        ]
    )


def _deer_tasks(org, count: int) -> list[ReviewTask]:
    deer = taxon("red-deer")
    items = [
        ReviewItem(image, deer, "margin pick", 1 - i / count)
        for i, image in enumerate(_bare_images(org, count))
    ]
    return review_tasks_create(items=items, origin="concurrency")


def _experts(org, count: int) -> list:
    return [
        factories.member(f"expert{i}", org, Role.EXPERT, taxa=[taxon("red-deer")])
        for i in range(count)
    ]


def _in_threads(users: list, work) -> dict:
    """Run `work(user, barrier)` in one thread per user; each thread opens its own connection
    before the barrier (so none starts late for want of one) and closes it at the end. Returns
    {user pk: result}."""
    barrier = threading.Barrier(len(users), timeout=60)
    results, errors = {}, []

    def run(user) -> None:
        try:
            connection.ensure_connection()
            results[user.pk] = work(user, barrier)
        except BaseException as error:  # noqa: BLE001 re-raised in the main thread below
            errors.append(error)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a claiming thread hung"
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize(
    "attempt", range(10)
)  # a race shows only now and then: give it ten chances
def test_experts_claiming_at_the_same_moment_never_share_a_task(org, attempt):
    """Fewer tasks than experts: every task is claimed exactly once, by the expert it was returned
    to, and the others get nothing (each lost race means another expert won a task, so five tasks
    are all taken)."""
    tasks = _deer_tasks(org, 5)
    experts = _experts(org, 8)
    deer = taxon("red-deer").pk

    def claim(user, barrier):
        barrier.wait()
        task = review_task_claim_next(user=user, queue_taxon_id=deer)
        return task.pk if task else None

    claimed = _in_threads(experts, claim)
    won = [task_id for task_id in claimed.values() if task_id is not None]
    assert len(won) == len(set(won)) == 5 and set(won) == {task.pk for task in tasks}
    holders = dict(ReviewTask.objects.values_list("pk", "claimed_by_id"))
    assert all(
        holders[task_id] == user_id for user_id, task_id in claimed.items() if task_id is not None
    )


def test_rounds_of_simultaneous_claims_hand_out_distinct_tasks(org):
    """Eight experts claim together, finish their task, and claim again, twenty times: no task is
    ever returned to two experts, and whoever got a task holds it in the database at that moment."""
    _deer_tasks(org, 8 * 20)
    experts = _experts(org, 8)
    deer = taxon("red-deer").pk

    def claim_and_finish(user, barrier):
        mine = []
        for _ in range(20):
            barrier.wait()
            task = review_task_claim_next(user=user, queue_taxon_id=deer)
            if task is not None:
                held_by = (
                    ReviewTask.objects.filter(pk=task.pk)
                    .values_list("claimed_by_id", flat=True)
                    .get()
                )
                mine.append((task.pk, held_by))
            barrier.wait()  # everyone has claimed (and checked) before anyone finishes
            if task is not None:
                review_task_release(task, state=ReviewState.DONE)
        return mine

    claimed = _in_threads(experts, claim_and_finish)
    every = [task_id for mine in claimed.values() for task_id, _ in mine]
    assert (
        len(every) == len(set(every)) and len(every) > 20
    )  # most experts got a task in most rounds
    assert all(held_by == user_id for user_id, mine in claimed.items() for _, held_by in mine)


def test_the_default_double_review_share_is_binomial_and_stable(org, settings):
    fraction = base.FAUNE["DOUBLE_REVIEW_FRACTION"]
    assert 0 < fraction < 1, (
        "the platform's default should double-review some tasks, not none or all"
    )
    settings.FAUNE = {**settings.FAUNE, "DOUBLE_REVIEW_FRACTION": fraction}
    count = 3000
    images = _bare_images(org, count)
    items = [ReviewItem(image, None, "undefined", 0.5) for image in images]
    first = {
        task.sequence_id: task.reviews_needed
        for task in review_tasks_create(items=items, origin="selection:1")
    }
    doubled = sum(needed == 2 for needed in first.values()) / count
    error = math.sqrt(fraction * (1 - fraction) / count)
    assert abs(doubled - fraction) < 4 * error, (doubled, fraction)
    assert set(first.values()) == {1, 2}
    ReviewTask.objects.update(
        state=ReviewState.DONE
    )  # done tasks leave room for a new task per sequence
    again = {
        task.sequence_id: task.reviews_needed
        for task in review_tasks_create(items=items[::-1], origin="selection:1")
    }
    assert again == first  # same sequence and origin: same answer, whatever the order
