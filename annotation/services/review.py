"""Review queues: tasks are written here (by selection, through this service) and worked by experts."""
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import Image, ReviewState, ReviewTask, Taxon


@dataclass(frozen=True)
class ReviewItem:
    image: Image
    queue_taxon: Taxon | None  # None: the triage queue
    reason: str
    score: float


@transaction.atomic
def review_tasks_create(*, items: list[ReviewItem], origin: str) -> list[ReviewTask]:
    """One open task per sequence: items whose sequence already waits in a queue are skipped, not duplicated."""
    waiting = set(ReviewTask.objects.filter(state=ReviewState.OPEN, sequence_id__in=[i.image.sequence_id
                                                                                     for i in items])
                  .values_list("sequence_id", flat=True))
    tasks, seen = [], set(waiting)
    for item in items:
        if item.image.sequence_id in seen:
            continue
        seen.add(item.image.sequence_id)
        tasks.append(ReviewTask(image=item.image, sequence_id=item.image.sequence_id, queue_taxon=item.queue_taxon,
                                reason=item.reason[:200], score=item.score, origin=origin[:60]))
    return ReviewTask.objects.bulk_create(tasks)


class ReviewConflict(Exception):
    http_status = 409


CLAIM_MINUTES = 15


def review_queue_counts(*, taxon_ids: set[int] | None) -> list[dict]:
    """Open tasks per queue the user may work (None: every queue, for coordinators); triage first."""
    tasks = ReviewTask.objects.filter(state=ReviewState.OPEN)
    if taxon_ids is not None:
        tasks = tasks.filter(Q(queue_taxon__isnull=True) | Q(queue_taxon_id__in=taxon_ids))
    rows = tasks.values("queue_taxon_id", "queue_taxon__name_en").annotate(open=Count("pk")).order_by(
        "-queue_taxon_id")
    return [{"queue": row["queue_taxon_id"] or "triage", "name": row["queue_taxon__name_en"] or "triage",
             "open": row["open"]} for row in rows]


def review_task_claim_next(*, user, queue_taxon_id: int | None) -> ReviewTask | None:
    """Claim the best open task of a queue for CLAIM_MINUTES. The claim is a conditional UPDATE, so two experts
    asking at once never get the same task; an expired claim is free again."""
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=user)
    for _ in range(5):
        task = ReviewTask.objects.filter(free, state=ReviewState.OPEN, queue_taxon_id=queue_taxon_id).order_by(
            "-score", "pk").first()
        if task is None:
            return None
        claimed = ReviewTask.objects.filter(free, pk=task.pk, state=ReviewState.OPEN).update(
            claimed_by=user, claimed_until=now + timezone.timedelta(minutes=CLAIM_MINUTES))
        if claimed:
            task.refresh_from_db()
            return task
    return None


def review_task_finish(*, task: ReviewTask, user, state: str) -> ReviewTask:
    """Close a task the user holds; a lost or expired claim is a conflict, never a silent overwrite."""
    done = ReviewTask.objects.filter(pk=task.pk, state=ReviewState.OPEN, claimed_by=user,
                                     claimed_until__gte=timezone.now()).update(state=state)
    if not done:
        raise ReviewConflict("This task is no longer yours (its claim expired or it was finished); "
                             "claim the next one.")
    task.refresh_from_db()
    return task
