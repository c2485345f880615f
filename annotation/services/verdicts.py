"""What experts say about a review task, and when it becomes labels.

A label verdict covers the whole sequence: one taxon for every frame, except frames the expert split off with
another taxon. Labels reach the pool only when the task has all the verdicts it needs: at once for most tasks;
for the share reviewed twice, when the second expert agrees with the first (else the task waits in the conflict
queue for a coordinator). So no expert's label is ever replaced silently by another's."""
from dataclasses import dataclass, field

from django.db import transaction

from annotation.models import Image, ReviewState, ReviewTask, ReviewVerdict, Taxon, VerdictKind
from annotation.selectors import sequence_frames
from annotation.services.annotations import Box, annotation_add, sequence_conflict_check
from annotation.services.review import ReviewConflict, review_task_held, review_task_release


class VerdictError(Exception):
    http_status = 400


@dataclass(frozen=True)
class Verdict:
    kind: str = VerdictKind.LABEL
    taxon: Taxon | None = None  # every frame's taxon, unless split off below
    split: dict[int, Taxon] = field(default_factory=dict)  # {frame image id: another taxon}
    box: tuple[int, Box] | None = None  # (frame image id, box) drawn or fixed by the expert
    expected_current_id: int | None = None  # the task's `labels_stamp` the expert saw (0: none), to catch a race


RELOAD_TASK = "reload the task to see their label, then decide."


def _frame_ids(task: ReviewTask) -> list[int]:
    return list(sequence_frames(task.sequence_id).values_list("pk", flat=True))


def _frames_of(task: ReviewTask, verdict: Verdict) -> dict[str, int]:
    """{frame id (as JSON keys are strings): taxon id} for every frame of the task's sequence."""
    if verdict.taxon is None:
        raise VerdictError("Say which taxon the sequence shows.")
    frames = _frame_ids(task)
    strangers = set(verdict.split) - set(frames)
    if strangers:
        raise VerdictError(f"Frames {sorted(strangers)} are not in this task's sequence.")
    if verdict.box and verdict.box[0] not in frames:
        raise VerdictError("The box was drawn on a frame that is not in this task's sequence.")
    return {str(pk): verdict.split.get(pk, verdict.taxon).pk for pk in frames}


def _box_json(verdict: Verdict) -> dict | None:
    if verdict.box is None:
        return None
    frame, box = verdict.box
    return {"frame": frame, "x": box.x, "y": box.y, "w": box.w, "h": box.h}


def review_verdict_submit(*, task_id: int, user, verdict: Verdict) -> ReviewTask:
    if verdict.kind not in VerdictKind.values:
        raise VerdictError(f"Unknown verdict {verdict.kind!r}; use one of {', '.join(VerdictKind.values)}.")
    with transaction.atomic():
        task = review_task_held(task_id, user)
        frames = _frames_of(task, verdict) if verdict.kind == VerdictKind.LABEL else {}
        ReviewVerdict.objects.create(task=task, expert=user, kind=verdict.kind, frames=frames, box=_box_json(verdict))
        if verdict.kind == VerdictKind.SKIP:
            review_task_release(task)
        elif verdict.kind == VerdictKind.UNSURE:  # someone else, from any taxon, may know
            review_task_release(task, queue_taxon=None, reason=f"unsure ({user.username}): {task.reason}"[:200])
        else:
            _settle(task, user, verdict.expected_current_id)
    return task


def _settle(task: ReviewTask, user, expected_current_id: int | None) -> None:
    labels = list(task.verdicts.filter(kind=VerdictKind.LABEL))
    if len(labels) < task.reviews_needed:
        review_task_release(task)  # waits, blind, for the next expert
        return
    if not all(verdict.agrees_with(labels[0]) for verdict in labels[1:]):
        review_task_release(task, state=ReviewState.CONFLICT)
        return
    sequence_conflict_check(task.sequence_id, expected_current_id, advice=RELOAD_TASK)
    for verdict in labels:
        _write_labels(task, verdict.frames, verdict.box, verdict.expert or user)
    review_task_release(task, state=ReviewState.DONE)


def _write_labels(task: ReviewTask, frames: dict[str, int], box: dict | None, author) -> None:
    """One sequence label when every frame agrees, else one label per frame; the box as a label on its frame."""
    taxa = Taxon.objects.in_bulk(set(frames.values()))
    images = Image.objects.in_bulk([int(pk) for pk in frames])
    if len(set(frames.values())) == 1:
        annotation_add(image=task.image, taxon=taxa[next(iter(frames.values()))], author=author,
                       whole_sequence=True, reviewing=True)
    else:
        for pk, taxon_id in frames.items():
            annotation_add(image=images[int(pk)], taxon=taxa[taxon_id], author=author, reviewing=True)
    if box:
        annotation_add(image=images[box["frame"]], taxon=taxa[frames[str(box["frame"])]], author=author,
                       box=Box(box["x"], box["y"], box["w"], box["h"]), reviewing=True)


def review_conflict_resolve(*, task_id: int, user, verdict: Verdict) -> ReviewTask:
    """A coordinator settles a disagreement: their verdict becomes the label, the experts' verdicts stay on
    record for the agreement report."""
    with transaction.atomic():
        task = ReviewTask.objects.select_for_update().filter(pk=task_id, state=ReviewState.CONFLICT).first()
        if task is None:
            raise ReviewConflict("This conflict was already resolved (or the task is not in conflict).")
        frames = _frames_of(task, verdict)
        sequence_conflict_check(task.sequence_id, verdict.expected_current_id, advice=RELOAD_TASK)
        _write_labels(task, frames, _box_json(verdict), user)
        review_task_release(task, state=ReviewState.DONE, resolved_by=user)
    return task
