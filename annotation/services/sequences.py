"""Grouping frames into sequences as they arrive, in any order.

Sequences of one camera are separated by gaps over `maxlag`. A new frame can only shrink gaps, so
it joins the sequences whose [start - maxlag, end + maxlag] window holds it, merging them when it
bridges two: the result is the same as grouping the whole sorted history again, whatever the
upload order.
"""

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from annotation.models import Annotation, Image, Sequence
from annotation.services.annotations import current_labels_refresh
from annotation.services.review import review_tasks_merge
from faune_platform.jobs import task_enqueue_on_commit


def _scope(image: Image) -> dict[str, Any]:
    if image.deployment_id:
        return {"deployment_id": image.deployment_id}
    return {"deployment_id": None, "batch_id": image.batch_id}


def _as_stored(external_id: str) -> str:
    """An import's sequence id as its column holds it: one too long keeps its start and a digest of
    the whole, so two long ids that share a start stay two sequences."""
    limit = Sequence._meta.get_field("external_id").max_length or 200
    if len(external_id) <= limit:
        return external_id
    digest = hashlib.sha256(external_id.encode()).hexdigest()[:16]
    return f"{external_id[: limit - 17]}#{digest}"


def sequence_place(*, image: Image, maxlag_s: float, external_id: str = "") -> Sequence:
    """Find or make the image's sequence. Call inside the transaction that holds the
    camera's lock."""
    scope = {"organisation_id": image.organisation_id, **_scope(image)}
    if external_id:
        stored = _as_stored(external_id)
        sequence, _ = Sequence.objects.get_or_create(external_id=stored, **scope)
        return _stretch(sequence, image)
    if image.taken_at is None:
        return Sequence.objects.create(**scope)
    lag = timedelta(seconds=maxlag_s)
    touching = list(
        Sequence.objects.filter(
            external_id="", start__lte=image.taken_at + lag, end__gte=image.taken_at - lag, **scope
        ).order_by("start", "pk")
    )
    if not touching:
        return Sequence.objects.create(start=image.taken_at, end=image.taken_at, **scope)
    keep = touching[0]
    for other in touching[1:]:
        _absorb(keep, other)
    return _stretch(keep, image)


def _absorb(keep: Sequence, other: Sequence) -> None:
    """Move every frame, every sequence-level label and every review task (with its verdicts, claim
    or conflict) of `other` into `keep`: nothing is lost in a merge. The frames' current labels are
    worked out again, since a sequence label of either side now covers the other's frames. What is
    derived from predictions (the sequence's verdict) is worked out again by the apps that own it,
    announced once the merge commits."""
    (keep_start, keep_end), (other_start, other_end) = _span(keep), _span(other)
    # Both sides' frames locked first, in the order a label locks a sequence's frames: a label being
    # written on one of them finishes before the current labels are worked out again (else, on
    # PostgreSQL, the refresh could read the frames as they were before it and write that back).
    list(
        Image.objects.select_for_update()
        .filter(sequence__in=[keep.pk, other.pk])
        .values_list("pk", flat=True)
    )
    Image.objects.filter(sequence=other).update(sequence=keep)
    Annotation.objects.filter(sequence=other).update(sequence=keep)
    review_tasks_merge(keep=keep, other=other)
    current_labels_refresh(images=Image.objects.filter(sequence=keep))
    keep.start = min(keep_start, other_start)
    keep.end = max(keep_end, other_end)
    other.delete()
    for task in settings.FAUNE[
        "AFTER_SEQUENCE_MERGE_TASKS"
    ]:  # named in settings: this app imports no consumer
        task_enqueue_on_commit(task, [keep.pk])


def _span(sequence: Sequence) -> tuple[datetime, datetime]:
    """The start and end of a sequence found by its time (`sequence_place` merges only those)."""
    if sequence.start is None or sequence.end is None:
        raise ValueError(f"Sequence #{sequence.pk} has no time span to merge by.")
    return sequence.start, sequence.end


def _stretch(sequence: Sequence, image: Image) -> Sequence:
    if image.taken_at is not None:
        sequence.start = min(sequence.start or image.taken_at, image.taken_at)
        sequence.end = max(sequence.end or image.taken_at, image.taken_at)
    sequence.save()
    return sequence
