"""Undo. Every person's decision (a review verdict, a label, accepted pre-labels, a proposal…) is
recorded with the label events it wrote and, for a review task, the task's fields before and after.
Undoing it is a newer decision whose label events (source `undo`) withdraw those events: the record
stays append-only, and every frame the decision touched falls back to the label it had before, as
does its review task.

An undo is refused (409) rather than losing someone's work: when anyone labelled those frames since,
when another expert reviewed the task since or holds it now, or when the task moved on (a
coordinator decided)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from annotation.models import (
    WAITING,
    Annotation,
    Decision,
    DecisionKind,
    Image,
    LabelSource,
    ProposalStatus,
    ReviewState,
    ReviewTask,
    ReviewVerdict,
    Taxon,
    VerdictKind,
)
from annotation.services.annotations import annotation_add, current_labels_refresh
from annotation.services.review import CLAIM_MINUTES
from annotation.taxon_names import taxon_name
from faune_platform.errors import NotFound, StateConflict

# Fields of a review task a decision changes and an undo puts back (its claim is handled apart).
TASK_FIELDS = ("state", "queue_taxon_id", "reason", "reason_words", "resolved_by_id")
# What a person may take back: not an undo itself, nor a coordinator's acceptance of a proposal (it
# created a taxon other people may already be using).
UNDOABLE = (
    DecisionKind.VERDICT,
    DecisionKind.LABEL,
    DecisionKind.ACCEPT,
    DecisionKind.RESOLVE,
    DecisionKind.PROPOSAL,
)


class UndoRefused(StateConflict):
    pass


class UndoNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Undone:
    undo: Decision  # the new decision that took `undo.undoes` back
    task: ReviewTask | None  # the review task, when it is back in the hands of the person who undid


def task_fields(task: ReviewTask) -> dict[str, Any]:
    return {name: getattr(task, name) for name in TASK_FIELDS}


def decision_open(
    *, author: User, kind: str, summary: str = "", task: ReviewTask | None = None
) -> Decision:
    """Start recording a decision; call before changing `task`, so that its fields before
    are kept."""
    return Decision.objects.create(
        author=author,
        kind=kind,
        summary=summary[:300],
        task=task,
        task_before=task_fields(task) if task else {},
    )


def decision_close(
    decision: Decision,
    *,
    summary: str,
    task: ReviewTask | None = None,
    verdict: dict[str, Any] | None = None,
) -> Decision:
    """Say what was saved (the toast's words) and keep the task's fields after the decision: an undo
    checks that nothing moved the task on since."""
    decision.summary = summary[:300]
    decision.verdict = verdict
    decision.task_after = task_fields(task) if task is not None else {}
    decision.save(update_fields=["summary", "verdict", "task_after"])
    return decision


@transaction.atomic
def label_decided(
    *, image: Image, taxon: Taxon, author: User, whole_sequence: bool = False, **options: Any
) -> tuple[Annotation, Decision]:
    """One label a person gives on an image or its sequence (`annotation_add`'s options), recorded
    as a decision they can undo."""
    decision = decision_open(author=author, kind=DecisionKind.LABEL)
    annotation = annotation_add(
        image=image,
        taxon=taxon,
        author=author,
        whole_sequence=whole_sequence,
        decision=decision,
        **options,
    )
    where = _("its whole sequence") if whole_sequence else image.original_name
    accepted = _("accepted pre-label ") if options.get("accept_prediction") else ""
    decision_close(
        decision,
        summary=_("Labelled %(accepted)s%(taxon)s on %(where)s.")
        % {"accepted": accepted, "taxon": taxon_name(taxon), "where": where},
    )
    return annotation, decision


def decisions_undoable(
    *, user: User, limit: int = 5, image: Image | None = None
) -> QuerySet[Decision]:
    """The user's newest decisions not undone yet (those that touched `image` or its sequence,
    when given)."""
    decisions = Decision.objects.filter(author=user, kind__in=UNDOABLE, undone_by__isnull=True)
    if image is not None:
        touched = Q(annotations__image=image) | Q(annotations__sequence_id=image.sequence_id)
        decisions = decisions.filter(touched).distinct()
    return decisions.order_by("-created_at", "-pk")[:limit]


@transaction.atomic
def decision_undo(*, decision_id: int, user: User) -> Undone:
    decision = (
        Decision.objects.select_for_update(of=("self",))
        .filter(pk=decision_id, author=user, kind__in=UNDOABLE)
        .select_related("task")
        .first()
    )
    if decision is None:
        raise UndoNotFound(_("You have no decision #%(id)s to undo.") % {"id": decision_id})
    if Decision.objects.filter(undoes=decision).exists():
        raise UndoRefused(_("“%(summary)s” was already undone.") % {"summary": decision.summary})
    events = list(decision.annotations.select_related("taxon"))
    frames = _touched_frames(events)
    _refuse_if_labelled_since(decision, events, frames)
    task = _task_for_undo(decision, user) if decision.task_id else None
    undo = _record_undo(decision, events, user)
    current_labels_refresh(images=Image.objects.filter(pk__in=frames))
    back = _task_restore(decision, task, user) if task is not None else None
    return Undone(undo=undo, task=back)


def _touched_frames(events: list[Annotation]) -> list[int]:
    """Every frame whose label an event may have changed (a sequence label changes all of its
    frames), locked for this transaction so that no label lands on them while the undo decides."""
    if not events:
        return []
    frames = Q(pk__in={e.image_id for e in events if e.image_id})
    frames |= Q(sequence_id__in={e.sequence_id for e in events if e.sequence_id})
    return list(Image.objects.select_for_update().filter(frames).values_list("pk", flat=True))


def _refuse_if_labelled_since(
    decision: Decision, events: list[Annotation], frames: list[int]
) -> None:
    if not events:
        return
    sequences = Image.objects.filter(pk__in=frames).values("sequence_id")
    newer = (
        Annotation.objects.filter(
            Q(image_id__in=frames) | Q(sequence_id__in=sequences), pk__gt=max(e.pk for e in events)
        )
        .exclude(decision=decision)
        .select_related("author", "taxon")
        .order_by("-pk")
        .first()
    )
    if newer is None:
        return
    when = timezone.localtime(newer.created_at).strftime("%H:%M")
    if newer.author_id == decision.author_id:
        raise UndoRefused(
            _("You labelled these frames again since (%(taxon)s at %(when)s): undo that first.")
            % {"taxon": taxon_name(newer.taxon), "when": when}
        )
    who = newer.author.username if newer.author else _("an import")
    raise UndoRefused(
        _(
            "%(who)s labelled these frames %(taxon)s at %(when)s, after “%(summary)s”: undoing it "
            "now would discard their work. Label the frames again instead."
        )
        % {"who": who, "taxon": taxon_name(newer.taxon), "when": when, "summary": decision.summary}
    )


def _task_for_undo(decision: Decision, user: User) -> ReviewTask:
    """The decision's task, locked, if nothing moved it on since: the same fields as the decision
    left, no other expert's label verdict since, and nobody else holding it now."""
    if decision.task_id is None:  # callers ask only about decisions made on a task
        raise ValueError("This decision was made on no review task.")
    task = (
        ReviewTask.objects.select_for_update(of=("self",))
        .select_related("claimed_by")
        .get(pk=decision.task_id)
    )
    if decision.task_after and task_fields(task) != decision.task_after:
        raise UndoRefused(
            _("This task moved on since (it is now %(state)s): it can no longer be undone.")
            % {"state": task.get_state_display()}
        )
    others = ReviewVerdict.objects.filter(
        task=task, kind=VerdictKind.LABEL, created_at__gt=decision.created_at
    )
    reviewer = others.exclude(expert=user).select_related("expert").first()
    if reviewer is not None:
        raise UndoRefused(
            _("%(who)s reviewed this task since: it can no longer be undone.")
            % {"who": reviewer.expert.username if reviewer.expert else _("another expert")}
        )
    held = task.claimed_until is not None and task.claimed_until >= timezone.now()
    if held and task.claimed_by is not None and task.claimed_by_id != user.pk:
        raise UndoRefused(
            _("%(who)s is working on this task now: it can no longer be undone.")
            % {"who": task.claimed_by.username}
        )
    _refuse_if_a_newer_task_waits(decision, task)
    return task


def _refuse_if_a_newer_task_waits(decision: Decision, task: ReviewTask) -> None:
    """A finished task that the undo would open again, while a newer task (a correction, a
    selection) waits on the same sequence for the same reason: one sequence waits in one task."""
    if decision.task_before.get("state") not in WAITING or task.state in WAITING:
        return
    newer = ReviewTask.objects.filter(
        sequence_id=task.sequence_id, opened_for=task.opened_for, state__in=WAITING
    ).exclude(pk=task.pk)
    if newer.exists():
        raise UndoRefused(
            _(
                "A newer review task waits on this sequence: this one can no longer be undone; "
                "give your verdict there."
            )
        )


def _record_undo(decision: Decision, events: list[Annotation], user: User) -> Decision:
    """The undo decision, and one `undo` event per event withdrawn (same target, so the sequence's
    stamp moves and a reviewer who loaded it before is told). The one-to-one links refuse a second
    undo of either."""
    try:
        with transaction.atomic():
            undo = Decision.objects.create(
                author=user,
                kind=DecisionKind.UNDO,
                undoes=decision,
                task_id=decision.task_id,
                summary=(_("Undone: %(summary)s") % {"summary": decision.summary})[:300],
            )
            Annotation.objects.bulk_create(
                Annotation(
                    undoes=event,
                    source=LabelSource.UNDO,
                    role=event.role,
                    author=user,
                    taxon=event.taxon,
                    image_id=event.image_id,
                    sequence_id=event.sequence_id,
                    decision=undo,
                )
                for event in events
            )
    except IntegrityError:
        raise UndoRefused(
            _("“%(summary)s” was already undone.") % {"summary": decision.summary}
        ) from None
    return undo


def _task_restore(decision: Decision, task: ReviewTask, user: User) -> ReviewTask | None:
    """Put the task's fields back as they were before the decision. A verdict or a proposal goes
    back to the person who undid it, claimed, so they can decide again; their verdict is withdrawn
    (the decision keeps a copy)."""
    changes = {
        name: decision.task_before[name] for name in TASK_FIELDS if name in decision.task_before
    }
    mine = decision.kind in (DecisionKind.VERDICT, DecisionKind.PROPOSAL)
    if mine:
        ReviewVerdict.objects.filter(task=task, expert=user).delete()
        changes.update(
            claimed_by=user,
            claimed_until=timezone.now() + timedelta(minutes=CLAIM_MINUTES),
        )
    if decision.kind == DecisionKind.PROPOSAL:
        task.proposals.filter(status=ProposalStatus.PENDING).update(status=ProposalStatus.WITHDRAWN)
    ReviewTask.objects.filter(pk=task.pk).update(**changes)
    task.refresh_from_db()
    return task if mine and task.state == ReviewState.OPEN else None
