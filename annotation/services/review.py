"""Review queues: tasks are written here (by selection and by correction checks, through this service) and
claimed by experts. What experts say about a task is handled in `verdicts`."""
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import WAITING, Image, ReviewState, ReviewTask, Sequence, Taxon

CLAIM_MINUTES = 15


@dataclass(frozen=True)
class ReviewItem:
    image: Image
    queue_taxon: Taxon | None  # None: the triage queue
    reason: str
    score: float


class ReviewConflict(Exception):
    http_status = 409


def _reviews_needed(sequence_id: int, origin: str) -> int:
    """A stable share of tasks (DOUBLE_REVIEW_FRACTION) is reviewed twice, blind, to measure agreement. A hash,
    not a random draw, so re-running a selection never changes which tasks those are."""
    digest = hashlib.sha256(f"double-review:{origin}:{sequence_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return 2 if position < settings.FAUNE["DOUBLE_REVIEW_FRACTION"] else 1


@transaction.atomic
def review_tasks_create(*, items: list[ReviewItem], origin: str) -> list[ReviewTask]:
    """One waiting task per sequence: items whose sequence already waits are skipped, not duplicated. Each
    insert has its own savepoint, so a task another job inserted meanwhile for the same sequence (the unique
    constraint catches it) skips that item instead of failing the whole batch."""
    sequence_ids = {item.image.sequence_id for item in items}
    seen = set(ReviewTask.objects.filter(state__in=WAITING, sequence_id__in=sequence_ids)
               .values_list("sequence_id", flat=True))
    created = []
    for item in items:
        if item.image.sequence_id in seen:
            continue
        seen.add(item.image.sequence_id)
        task = _task_insert(item, origin)
        if task is not None:
            created.append(task)
    return created


def _task_insert(item: ReviewItem, origin: str) -> ReviewTask | None:
    sequence_id = item.image.sequence_id
    try:
        with transaction.atomic():
            return ReviewTask.objects.create(
                image=item.image, sequence_id=sequence_id, opened_for=sequence_id, queue_taxon=item.queue_taxon,
                reason=item.reason[:200], score=item.score, origin=origin[:60],
                reviews_needed=_reviews_needed(sequence_id, origin))
    except IntegrityError:
        return None


def review_tasks_merge(*, keep: Sequence, other: Sequence) -> None:
    """A late frame merged `other` into `keep`: every task of `other` moves along, claims, verdicts and conflicts
    with it, and keeps `opened_for`. When both sequences were waiting, a task nobody has touched yet (open,
    unclaimed, no verdict) is folded into the other one instead of asking experts twice about one sequence."""
    ReviewTask.objects.filter(sequence=other).update(sequence=keep)
    waiting = list(ReviewTask.objects.select_for_update().filter(sequence=keep, state__in=WAITING)
                   .annotate(verdict_count=Count("verdicts")).order_by("created_at", "pk"))
    now = timezone.now()
    untouched = [t for t in waiting if t.state == ReviewState.OPEN and not t.verdict_count
                 and (t.claimed_until is None or t.claimed_until < now)]
    worked = [t for t in waiting if t not in untouched]
    survivor = worked[0] if worked else (untouched[0] if untouched else None)
    for task in untouched:
        if task != survivor:
            ReviewTask.objects.filter(pk=task.pk).update(
                state=ReviewState.MERGED, claimed_by=None, claimed_until=None,
                reason=f"{task.reason} (sequence merged: covered by task #{survivor.pk})"[:200])


def review_queue_counts(*, taxon_ids: set[int] | None, user) -> list[dict]:
    """Open tasks per queue the user may work (None: every queue, for coordinators); triage first. Tasks the
    user already gave a verdict on are not counted: they will not be offered again."""
    tasks = ReviewTask.objects.filter(state=ReviewState.OPEN)
    if taxon_ids is not None:
        tasks = tasks.filter(Q(queue_taxon__isnull=True) | Q(queue_taxon_id__in=taxon_ids))
    tasks = tasks.exclude(verdicts__expert=user)
    rows = tasks.values("queue_taxon_id", "queue_taxon__name_en", "queue_taxon__name_fr").annotate(
        open=Count("pk")).order_by("-queue_taxon_id")
    return [{"queue": row["queue_taxon_id"] or "triage", "name": row["queue_taxon__name_en"] or "triage",
             "name_fr": row["queue_taxon__name_fr"] or "tri", "open": row["open"]} for row in rows]


def review_task_claim_next(*, user, queue_taxon_id: int | None) -> ReviewTask | None:
    """Claim the best open task of a queue for CLAIM_MINUTES. The claim is a conditional UPDATE, so two experts
    asking at once never get the same task; an expired claim is free again. A task the user already gave a
    verdict on (the first of two blind reviews, a skip) is never offered to them again."""
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=user)
    lost: set[int] = set()
    while True:  # each lost race removes a task from the candidates, so this ends
        task = (ReviewTask.objects.filter(free, state=ReviewState.OPEN, queue_taxon_id=queue_taxon_id)
                .exclude(verdicts__expert=user).exclude(pk__in=lost).order_by("-score", "pk").first())
        if task is None:
            return None
        claimed = ReviewTask.objects.filter(free, pk=task.pk, state=ReviewState.OPEN).update(
            claimed_by=user, claimed_until=now + timezone.timedelta(minutes=CLAIM_MINUTES))
        if claimed:
            task.refresh_from_db()
            return task
        lost.add(task.pk)  # another expert got it first: try the next one, never answer "empty" too early


def review_task_held(task_id: int, user) -> ReviewTask:
    """The task, locked for this transaction, if the user holds a live claim on it; else a conflict."""
    task = ReviewTask.objects.select_for_update().filter(
        pk=task_id, state=ReviewState.OPEN, claimed_by=user, claimed_until__gte=timezone.now()).first()
    if task is None:
        raise ReviewConflict("This task is no longer yours (its claim expired or it was finished); "
                             "claim the next one.")
    return task


def review_task_release(task: ReviewTask, **changes) -> None:
    """Give the claim back (and apply `changes`, e.g. a new state or queue)."""
    changes = {"claimed_by": None, "claimed_until": None, **changes}
    ReviewTask.objects.filter(pk=task.pk).update(**changes)
    for name, value in changes.items():
        setattr(task, name, value)


def review_tasks_requeue(*, moves: dict[int, tuple[int | None, str, float]]) -> int:
    """Move unclaimed open tasks to another queue ({task id: (queue taxon id or None, reason, score)}), e.g. when a
    new production version predicts something else. Claimed tasks are left with the expert working them."""
    now = timezone.now()
    moved = 0
    with transaction.atomic():
        for task_id, (queue_taxon_id, reason, score) in moves.items():
            moved += ReviewTask.objects.filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=task_id, state=ReviewState.OPEN,
            ).update(queue_taxon_id=queue_taxon_id, reason=reason[:200], score=score)
    return moved
