"""Review queues: tasks are written here (by selection and by correction checks, through this
service) and claimed by experts. What experts say about a task is handled in `verdicts`."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from annotation.models import (
    WAITING,
    Annotation,
    Image,
    ReviewState,
    ReviewTask,
    ReviewVerdict,
    Sequence,
    Taxon,
)
from annotation.selectors import first_label_at, second_opinion_overdue
from annotation.services.reasons import (
    Reason,
    as_reason,
    reason_fields,
    task_reason,
    taxa_named,
    taxon_named,
)
from annotation.taxon_names import taxon_name
from faune_platform.db import unique_or_none
from faune_platform.errors import StateConflict, Worded, gettext_noop


class _Overdue(TypedDict):
    overdue: bool


if TYPE_CHECKING:  # django-stubs' helper, installed where mypy runs
    from django_stubs_ext import WithAnnotations

    # Review tasks annotated with `overdue` (see `_claimable`).
    ClaimableTasks = QuerySet[WithAnnotations[ReviewTask, _Overdue]]


CLAIM_MINUTES = 15
SECOND_OPINION = (
    "second-opinion"  # the queue of blind second reviews past the wait, open to every expert
)


@dataclass(frozen=True)
class ReviewItem:
    image: Image
    queue_taxon: Taxon | None  # None: the triage queue
    reason: Reason | str  # a plain text is one part, said in no other language
    score: float
    checks_label: Annotation | None = (
        None  # the label the task checks (a partner's correction), shown first
    )


class ReviewConflict(StateConflict):
    pass


@dataclass(frozen=True)
class Route:
    queue_taxon_id: int | None  # None: the triage queue
    why: Worded  # a part of the task's reason


def review_queue_route(*, taxa: list[Taxon], expert_taxa: Iterable[int]) -> Route:
    """The queue of a task among candidate taxa (best first): the first that some expert reviews,
    so a task never waits in a queue nobody works; triage only when none has an expert. Pure: the
    caller reads `expert_taxa` (selectors.taxa_with_experts) once per batch."""
    covered = set(expert_taxa)
    for taxon in taxa:
        if taxon.pk in covered:
            return Route(taxon.pk, _queue_why(taxon, len(taxa)))
    if not taxa:
        return Route(None, Worded(gettext_noop("triage: no taxon to route by")))
    return Route(
        None, Worded(gettext_noop("triage: no expert for %(taxa)s"), {"taxa": taxa_named(taxa)})
    )


def _queue_why(taxon: Taxon, candidates: int) -> Worded:
    if candidates > 1:
        template = gettext_noop("queue %(taxon)s (first of the top %(count)d with an expert)")
    else:
        template = gettext_noop("queue %(taxon)s (it has an expert)")
    return Worded(template, {"taxon": taxon_named(taxon), "count": candidates})


def _reviews_needed(sequence_id: int, origin: str) -> int:
    """A stable share of tasks (DOUBLE_REVIEW_FRACTION) is reviewed twice, blind, to measure
    agreement. A hash, not a random draw, so re-running a selection never changes which tasks
    those are."""
    digest = hashlib.sha256(f"double-review:{origin}:{sequence_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return 2 if position < settings.FAUNE["DOUBLE_REVIEW_FRACTION"] else 1


@transaction.atomic
def review_tasks_create(*, items: list[ReviewItem], origin: str) -> list[ReviewTask]:
    """One waiting task per sequence: items whose sequence already waits are skipped, not
    duplicated. Each insert has its own savepoint, so a task another job inserted meanwhile for
    the same sequence (the unique constraint catches it) skips that item instead of failing the
    whole batch."""
    sequence_ids = {item.image.sequence_id for item in items}
    seen = set(
        ReviewTask.objects.filter(state__in=WAITING, sequence_id__in=sequence_ids).values_list(
            "sequence_id", flat=True
        )
    )
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
                image=item.image,
                sequence_id=sequence_id,
                opened_for=sequence_id,
                queue_taxon=item.queue_taxon,
                **reason_fields(as_reason(item.reason)),
                score=item.score,
                origin=origin[:60],
                checks_label=item.checks_label,
                reviews_needed=_reviews_needed(sequence_id, origin),
            )
    except IntegrityError:
        return None


def review_tasks_merge(*, keep: Sequence, other: Sequence) -> None:
    """A late frame merged `other` into `keep`: every task of `other` moves along, claims, verdicts
    and conflicts with it, and keeps `opened_for`. When both sequences were waiting, a task nobody
    has touched yet (open, unclaimed, no verdict) is folded into the other one instead of asking
    experts twice about one sequence."""
    ReviewTask.objects.filter(sequence=other).update(sequence=keep)
    # Exists, not Count: PostgreSQL refuses FOR UPDATE on a grouped query.
    verdicts = ReviewVerdict.objects.filter(task=OuterRef("pk"))
    waiting = list(
        ReviewTask.objects.select_for_update()
        .filter(sequence=keep, state__in=WAITING)
        .annotate(has_verdict=Exists(verdicts))
        .order_by("created_at", "pk")
    )
    now = timezone.now()
    untouched = [
        t
        for t in waiting
        if t.state == ReviewState.OPEN
        and not t.has_verdict
        and (t.claimed_until is None or t.claimed_until < now)
    ]
    worked = [t for t in waiting if t not in untouched]
    survivor = worked[0] if worked else (untouched[0] if untouched else None)
    if survivor is None:  # nothing waits on either sequence: nothing to fold
        return
    for task in untouched:
        if task != survivor:
            ReviewTask.objects.filter(pk=task.pk).update(
                state=ReviewState.MERGED,
                claimed_by=None,
                claimed_until=None,
                **reason_fields([_merged_into(survivor), *task_reason(task)]),
            )


def _merged_into(survivor: ReviewTask) -> Worded:
    return Worded(gettext_noop("sequence merged: covered by task #%(task)d"), {"task": survivor.pk})


def _claimable(user: User, now: datetime) -> "ClaimableTasks":
    """Open tasks the user could claim now: free (or already theirs) and not judged by them before
    (the first of two blind reviews, a skip). `overdue` marks the second opinions past the wait."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=user)
    overdue = second_opinion_overdue(now)
    # `NOT IN`, not `NOT EXISTS`: PostgreSQL hashes the user's verdicts once whatever its
    # statistics say. With `NOT EXISTS`, statistics taken before an expert's first verdicts (a new
    # expert, a table analysed before a busy day) made it compare every open task with every
    # verdict of theirs: 14.7 ms for a claim after 300 verdicts, instead of 0.4.
    judged = ReviewVerdict.objects.filter(expert=user).values("task_id")
    return (
        ReviewTask.objects.filter(free, state=ReviewState.OPEN)
        .exclude(pk__in=judged)
        .annotate(overdue=ExpressionWrapper(overdue, output_field=BooleanField()))
    )


def _in_queue(
    tasks: "ClaimableTasks", queue_taxon_id: int | None, second_opinion: bool
) -> "ClaimableTasks":
    """A second opinion past the wait leaves its taxon's queue for the second-opinion queue, where
    every expert sees it: counted once, claimed from where it is counted."""
    if second_opinion:
        return tasks.filter(overdue=True)
    return tasks.filter(overdue=False, queue_taxon_id=queue_taxon_id)


def review_queue_counts(*, taxon_ids: set[int] | None, user: User) -> list[dict[str, Any]]:
    """Tasks the user can claim now, per queue they may work (None: every queue, for coordinators):
    second opinions past the wait first, then triage. What is counted is what
    `review_task_claim_next` offers."""
    tasks = _claimable(user, timezone.now())
    if taxon_ids is not None:
        mine = Q(queue_taxon__isnull=True) | Q(queue_taxon_id__in=taxon_ids)
        tasks = tasks.filter(Q(overdue=True) | mine)
    # One query for both kinds: compiling the claimable tasks' filter is most of a count's cost.
    rows = list(
        tasks.values("overdue", "queue_taxon_id", "queue_taxon__name_en", "queue_taxon__name_fr")
        .annotate(open=Count("pk"))
        .order_by("-queue_taxon_id")
    )
    counts = [
        {
            "queue": row["queue_taxon_id"] or "triage",
            "name": row["queue_taxon__name_en"] or "triage",
            "name_fr": row["queue_taxon__name_fr"] or "tri",
            "open": row["open"],
        }
        for row in rows
        if not row["overdue"]
    ]
    counts.sort(key=lambda row: row["queue"] != "triage")
    overdue = sum(row["open"] for row in rows if row["overdue"])
    second = {
        "queue": SECOND_OPINION,
        "name": "second opinions",
        "name_fr": "seconds avis",
        "open": overdue,
    }
    return ([second] if overdue else []) + counts


def review_task_claim_next(
    *, user: User, queue_taxon_id: int | None, second_opinion: bool = False
) -> ReviewTask | None:
    """Claim the best task of a queue (`second_opinion`: of the second-opinion queue) for
    CLAIM_MINUTES. The claim is a conditional UPDATE, so two experts asking at once never get the
    same task; an expired claim is free again. A task the user already gave a verdict on (the first
    of two blind reviews, a skip) is never offered to them again. The task comes back with
    `waiting_since` (its first label's time, or None)."""
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=user)
    # Only the id is chosen among the queue's tasks: joining their images first would read the
    # whole image table at every claim.
    candidates = _in_queue(_claimable(user, now), queue_taxon_id, second_opinion).order_by(
        "-score", "pk"
    )
    lost: set[int] = set()
    while True:  # each lost race removes a task from the candidates, so this ends
        task_id = candidates.exclude(pk__in=lost).values_list("pk", flat=True).first()
        if task_id is None:
            return None
        claim = {"claimed_by": user, "claimed_until": now + timedelta(minutes=CLAIM_MINUTES)}
        if ReviewTask.objects.filter(free, pk=task_id, state=ReviewState.OPEN).update(**claim):
            return (
                ReviewTask.objects.annotate(waiting_since=first_label_at())
                .select_related("image", "queue_taxon")  # the desk shows both
                .get(pk=task_id)
            )
        lost.add(task_id)  # another expert got it first: try the next one, never answer "empty"


def second_opinion_note(*, task: ReviewTask, now: datetime | None = None) -> str:
    """Why a second opinion past the wait is offered outside its taxon, e.g. 'second opinion: waited
    52 h for another red deer expert'; empty for every other task."""
    since = getattr(task, "waiting_since", None)
    if since is None or task.reviews_needed < 2:
        return ""
    waited = (now or timezone.now()) - since
    if waited < timedelta(hours=settings.FAUNE["SECOND_OPINION_WAIT_HOURS"]):
        return ""
    hours = waited // timedelta(hours=1)
    if task.queue_taxon is None:
        return _("second opinion: waited %(hours)d h for another expert") % {"hours": hours}
    return _("second opinion: waited %(hours)d h for another %(taxon)s expert") % {
        "hours": hours,
        "taxon": taxon_name(task.queue_taxon),
    }


def review_task_held(task_id: int, *, user: User) -> ReviewTask:
    """The task, locked for this transaction, if the user holds a live claim on it; else
    a conflict."""
    held = ReviewTask.objects.filter(
        pk=task_id, state=ReviewState.OPEN, claimed_by=user, claimed_until__gte=timezone.now()
    )
    # with its image: the verdict labels it
    task = unique_or_none(held.select_related("image").select_for_update(of=("self",)))
    if task is None:
        raise ReviewConflict(
            _(
                "This task is no longer yours (its claim expired or it was finished); "
                "claim the next one."
            )
        )
    return task


def review_task_release(task: ReviewTask, **changes: object) -> None:
    """Give the claim back (and apply `changes`, e.g. a new state or queue)."""
    changes = {"claimed_by": None, "claimed_until": None, **changes}
    ReviewTask.objects.filter(pk=task.pk).update(**changes)
    for name, value in changes.items():
        setattr(task, name, value)


def review_tasks_requeue(*, moves: dict[int, tuple[int | None, Reason, float]]) -> int:
    """Move unclaimed open tasks to another queue ({task id: (queue taxon id or None, reason,
    score)}), e.g. when a new production version predicts something else. Claimed tasks are left
    with the expert working them, and so are tasks an expert has judged already: their queue and
    reason are that expert's doing (unsure: sent to triage for another expert; the first of a
    double review), and their undo depends on them staying."""
    now = timezone.now()
    judged = Exists(ReviewVerdict.objects.filter(task=OuterRef("pk")))
    moved = 0
    with transaction.atomic():
        for task_id, (queue_taxon_id, reason, score) in moves.items():
            moved += (
                ReviewTask.objects.filter(
                    Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
                    pk=task_id,
                    state=ReviewState.OPEN,
                )
                .exclude(judged)
                .update(queue_taxon_id=queue_taxon_id, score=score, **reason_fields(reason))
            )
    return moved


def review_task_unclaim(*, task_id: int, user: User) -> bool:
    """Give back the user's claim without a verdict (the desk went back to an earlier task after an
    undo): the task is free for anyone at once, and still offered to this user later."""
    return bool(
        ReviewTask.objects.filter(pk=task_id, claimed_by=user, state=ReviewState.OPEN).update(
            claimed_by=None, claimed_until=None
        )
    )
