"""What experts say about a review task, and when it becomes labels.

A label verdict covers the whole sequence: one taxon for every frame, except frames the expert split
off with another taxon. It may add boxes (each with its taxon) and observations: per taxon, how many
animals and what they were like (Camtrap DP's count, lifeStage, sex, behavior); a taxon seen that
labels no frame is recorded as such an observation of the sequence. Labels reach the pool only when
the task has all the verdicts it needs: at once for most tasks; for the share reviewed twice, when
the second expert agrees with the first (else the task waits in the conflict queue for a
coordinator). So no expert's label is ever replaced silently by another's.

Each verdict is recorded as a decision (see `undo`), so the expert can take it back."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from annotation.models import (
    Decision,
    DecisionKind,
    Image,
    LifeStage,
    ReviewState,
    ReviewTask,
    ReviewVerdict,
    Sex,
    Taxon,
    VerdictKind,
)
from annotation.selectors import sequence_frames
from annotation.services.annotations import Details, annotation_add, sequence_conflict_check
from annotation.services.reasons import reason_fields, task_reason
from annotation.services.review import ReviewConflict, review_task_held, review_task_release
from annotation.services.undo import decision_close, decision_open
from annotation.taxon_names import taxon_name
from faune_platform.boxes import Box
from faune_platform.errors import InputRefused, Worded, gettext_noop

MAX_BOXES = 100  # per verdict: more than any frame holds animals worth a box each


class VerdictError(InputRefused):
    pass


@dataclass(frozen=True)
class DrawnBox:
    frame: int  # image id
    box: Box
    taxon: Taxon | None = None  # None: the taxon the verdict gives its frame


@dataclass(frozen=True)
class Observation:
    """How many of a taxon the sequence shows (at most at once), and what they were like."""

    taxon: Taxon
    count: int | None = None
    life_stage: str = ""
    sex: str = ""
    behavior: str = ""


@dataclass(frozen=True)
class Verdict:
    kind: str = VerdictKind.LABEL
    taxon: Taxon | None = None  # every frame's taxon, unless split off below
    split: dict[int, Taxon] = field(default_factory=dict)  # {frame image id: another taxon}
    boxes: tuple[DrawnBox, ...] = ()
    observations: tuple[Observation, ...] = ()
    expected_current_id: int | None = (
        None  # the task's `labels_stamp` the expert saw (0: none), to catch a race
    )
    # the frames the expert saw (None: not said): a merge since can bring frames, with labels older
    # than the stamp, that the verdict would label unseen
    seen_frames: frozenset[int] | None = None


RELOAD_TASK = gettext_lazy("reload the task to see their label, then decide.")


def _frame_ids(task: ReviewTask) -> list[int]:
    return list(sequence_frames(task.sequence_id).values_list("pk", flat=True))


def _frames_of(task: ReviewTask, verdict: Verdict) -> dict[str, int]:
    """{frame id (as JSON keys are strings): taxon id} for every frame of the task's sequence."""
    if verdict.taxon is None:
        raise VerdictError(_("Say which taxon the sequence shows."))
    frames = _frame_ids(task)
    if verdict.seen_frames is not None and verdict.seen_frames != set(frames):
        raise ReviewConflict(
            _(
                "This sequence's frames changed since you loaded it (a later photo joined it); "
                "reload the task to see them all, then decide."
            )
        )
    strangers = set(verdict.split) - set(frames)
    if strangers:
        raise VerdictError(
            _("Frames %(frames)s are not in this task's sequence.") % {"frames": sorted(strangers)}
        )
    if any(drawn.frame not in frames for drawn in verdict.boxes):
        raise VerdictError(_("A box was drawn on a frame that is not in this task's sequence."))
    return {str(pk): verdict.split.get(pk, verdict.taxon).pk for pk in frames}


def _check_details(verdict: Verdict) -> None:
    if len(verdict.boxes) > MAX_BOXES:
        raise VerdictError(_("At most %(n)d boxes per verdict.") % {"n": MAX_BOXES})
    taxa = [observation.taxon.pk for observation in verdict.observations]
    if len(taxa) != len(set(taxa)):
        raise VerdictError(_("Give each taxon's count and details once."))
    for observation in verdict.observations:
        if observation.life_stage not in ("", *LifeStage.values) or observation.sex not in (
            "",
            *Sex.values,
        ):
            raise VerdictError(
                _("Life stage is adult, subadult or juvenile; sex is female or male.")
            )


def _payload(verdict: Verdict) -> dict[str, Any]:
    """The verdict as stored: boxes and observations by taxon id."""
    boxes = [
        {
            "frame": d.frame,
            "x": d.box.x,
            "y": d.box.y,
            "w": d.box.w,
            "h": d.box.h,
            "taxon": d.taxon.pk if d.taxon else None,
        }
        for d in verdict.boxes
    ]
    observations = [
        {
            "taxon": o.taxon.pk,
            "count": o.count,
            "life_stage": o.life_stage,
            "sex": o.sex,
            "behavior": o.behavior,
        }
        for o in verdict.observations
    ]
    return {"boxes": boxes, "observations": observations}


def review_verdict_submit(*, task_id: int, user: User, verdict: Verdict) -> ReviewTask:
    """Record the verdict of the user holding the task. The task comes back with `decision`, the
    record an undo takes back (its `summary` says what was saved)."""
    if verdict.kind not in VerdictKind.values:
        raise VerdictError(
            _("Unknown verdict %(kind)r; use one of %(kinds)s.")
            % {"kind": verdict.kind, "kinds": ", ".join(VerdictKind.values)}
        )
    with transaction.atomic():
        task = review_task_held(task_id, user=user)
        frames = _frames_of(task, verdict) if verdict.kind == VerdictKind.LABEL else {}
        _check_details(verdict)
        payload = (
            _payload(verdict)
            if verdict.kind == VerdictKind.LABEL
            else {"boxes": [], "observations": []}
        )
        ReviewVerdict.objects.create(
            task=task, expert=user, kind=verdict.kind, frames=frames, **payload
        )
        decision = decision_open(author=user, kind=DecisionKind.VERDICT, task=task)
        if verdict.kind == VerdictKind.SKIP:
            review_task_release(task)
            summary = _("Skipped; it stays in the queue for others.")
        elif verdict.kind == VerdictKind.UNSURE:  # someone else, from any taxon, may know
            unsure = Worded(gettext_noop("unsure (%(who)s)"), {"who": user.username})
            review_task_release(
                task, queue_taxon=None, **reason_fields([unsure, *task_reason(task)])
            )
            summary = _("Unsure: sent to triage for another expert.")
        else:
            known = _taxa_named_in(verdict)
            _settle(task, user, verdict.expected_current_id, decision, known)
            summary = _label_summary(task, frames, payload, known)
        task.decision = decision_close(
            decision,
            summary=summary,
            task=task,
            verdict={"kind": verdict.kind, "frames": frames, **payload},
        )
    return task


def _label_summary(
    task: ReviewTask, frames: dict[str, int], payload: dict[str, Any], known: dict[int, Taxon]
) -> str:
    """What was saved and what became of it (labelled, or waiting for a second expert or
    a coordinator)."""
    text = _what(frames, payload, known)
    if task.state == ReviewState.OPEN:
        return _("Saved %(what)s; a second expert will review it blind.") % {"what": text}
    if task.state == ReviewState.CONFLICT:
        return _("Saved %(what)s; the experts disagree, a coordinator will decide.") % {
            "what": text
        }
    return _("Labelled %(what)s.") % {"what": text}


def _what(frames: dict[str, int], payload: dict[str, Any], known: dict[int, Taxon]) -> str:
    """'roe deer ×2 on 3 frames; fox ×1 also seen; 1 box'."""
    named = _taxa({*frames.values(), *(o["taxon"] for o in payload["observations"])}, known)
    names = {pk: taxon_name(taxon) for pk, taxon in named.items()}
    counts = {o["taxon"]: o["count"] for o in payload["observations"]}
    on_frames = Counter(frames.values())
    parts = [
        ngettext("%(taxon)s on %(n)d frame", "%(taxon)s on %(n)d frames", n)
        % {"taxon": _with_count(names[taxon], counts.get(taxon)), "n": n}
        for taxon, n in on_frames.most_common()
    ]
    parts += [
        _("%(taxon)s also seen") % {"taxon": _with_count(names[taxon], count)}
        for taxon, count in counts.items()
        if taxon not in on_frames
    ]
    if payload["boxes"]:
        parts.append(
            ngettext("%(n)d box", "%(n)d boxes", len(payload["boxes"]))
            % {"n": len(payload["boxes"])}
        )
    return "; ".join(parts)


def _with_count(name: str, count: int | None) -> str:
    return f"{name} ×{count}" if count else name


def _taxa_named_in(verdict: Verdict) -> dict[int, Taxon]:
    """The taxa a verdict names, already loaded when the request was read."""
    taxa = [verdict.taxon, *verdict.split.values(), *(d.taxon for d in verdict.boxes)]
    taxa += [o.taxon for o in verdict.observations]
    return {taxon.pk: taxon for taxon in taxa if taxon is not None}


def _taxa(ids: set[int | None], known: dict[int, Taxon]) -> dict[int, Taxon]:
    """These taxa by id: the known ones as they are, the others (another expert's verdict) read."""
    wanted = {pk for pk in ids if pk is not None}
    missing = wanted - known.keys()
    found = Taxon.objects.in_bulk(missing) if missing else {}
    return {**found, **{pk: known[pk] for pk in wanted & known.keys()}}


def _settle(
    task: ReviewTask,
    user: User,
    expected_current_id: int | None,
    decision: Decision,
    known: dict[int, Taxon],
) -> None:
    labels = list(task.verdicts.filter(kind=VerdictKind.LABEL))
    if len(labels) < task.reviews_needed:
        review_task_release(task)  # waits, blind, for the next expert
        return
    if not all(verdict.agrees_with(labels[0]) for verdict in labels[1:]):
        review_task_release(task, state=ReviewState.CONFLICT)
        return
    sequence_conflict_check(
        task.sequence_id, expected_stamp=expected_current_id, advice=RELOAD_TASK
    )
    for verdict in labels:
        stored = {"boxes": verdict.boxes, "observations": verdict.observations}
        # the user who settles it is already loaded, rights and all
        author = user if verdict.expert_id == user.pk else (verdict.expert or user)
        _write_labels(task, verdict.frames, stored, author, decision, known)
    review_task_release(task, state=ReviewState.DONE)


def _write_labels(
    task: ReviewTask,
    frames: dict[str, int],
    payload: dict[str, Any],
    author: User,
    decision: Decision,
    known: dict[int, Taxon],
) -> None:
    """Other taxa seen and the boxes first, then the frames' own labels (one for the sequence when
    every frame agrees, else one per frame): written last, those stay the labels in force, as the
    rule is 'newest wins'. No savepoint around each: the labels stand or fall with the verdict."""
    observations = {o["taxon"]: o for o in payload["observations"]}
    taxa = _taxa({*frames.values(), *observations, *(b["taxon"] for b in payload["boxes"])}, known)
    split = len(set(frames.values())) > 1
    # frames are loaded only when labels go on single frames
    wanted = [int(pk) for pk in frames] if split or payload["boxes"] else []
    images = Image.objects.in_bulk(wanted)
    for taxon_id in observations.keys() - set(frames.values()):
        annotation_add(
            image=task.image,
            taxon=taxa[taxon_id],
            author=author,
            whole_sequence=True,
            reviewing=True,
            details=_details(observations[taxon_id]),
            decision=decision,
            savepoint=False,
        )
    for drawn in payload["boxes"]:
        taxon_id = drawn["taxon"] or frames[str(drawn["frame"])]
        annotation_add(
            image=images[drawn["frame"]],
            taxon=taxa[taxon_id],
            author=author,
            reviewing=True,
            box=Box(drawn["x"], drawn["y"], drawn["w"], drawn["h"]),
            decision=decision,
            savepoint=False,
        )
    if not split:
        taxon_id = next(iter(frames.values()))
        annotation_add(
            image=task.image,
            taxon=taxa[taxon_id],
            author=author,
            whole_sequence=True,
            reviewing=True,
            details=_details(observations.get(taxon_id)),
            decision=decision,
            savepoint=False,
        )
        return
    for pk, taxon_id in frames.items():
        annotation_add(
            image=images[int(pk)],
            taxon=taxa[taxon_id],
            author=author,
            reviewing=True,
            details=_details(observations.get(taxon_id)),
            decision=decision,
            savepoint=False,
        )


def _details(observation: dict[str, Any] | None) -> Details | None:
    if observation is None:
        return None
    return Details(
        count=observation["count"],
        life_stage=observation["life_stage"],
        sex=observation["sex"],
        behavior=observation["behavior"],
    )


def review_conflict_resolve(*, task_id: int, user: User, verdict: Verdict) -> ReviewTask:
    """A coordinator settles a disagreement: their verdict becomes the label, the experts' verdicts
    stay on record for the agreement report."""
    with transaction.atomic():
        task = (
            ReviewTask.objects.select_for_update()
            .filter(pk=task_id, state=ReviewState.CONFLICT)
            .first()
        )
        if task is None:
            raise ReviewConflict(
                _("This conflict was already resolved (or the task is not in conflict).")
            )
        frames = _frames_of(task, verdict)
        _check_details(verdict)
        sequence_conflict_check(
            task.sequence_id, expected_stamp=verdict.expected_current_id, advice=RELOAD_TASK
        )
        decision = decision_open(author=user, kind=DecisionKind.RESOLVE, task=task)
        payload, known = _payload(verdict), _taxa_named_in(verdict)
        _write_labels(task, frames, payload, user, decision, known)
        review_task_release(task, state=ReviewState.DONE, resolved_by=user)
        task.decision = decision_close(
            decision,
            summary=_("Resolved as %(what)s.") % {"what": _what(frames, payload, known)},
            task=task,
            verdict={"frames": frames, **payload},
        )
    return task
