"""Grouping a whole history of frames into sequences at once, for tools that hold every frame in
memory (the active-learning simulation). The database groups frames incrementally as they arrive
(`annotation/services/sequences.py`); both follow the same rule, so a dataset is cut the same way
offline as after an import:

- an explicit sequence id from the dataset (COCO `seq_id`) wins;
- a frame without a time is a sequence of its own;
- otherwise the frames of one camera are sorted by time and a gap over `maxlag_s` seconds starts a
  new sequence.

Keys are opaque strings, unique across cameras; only their equality means anything.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Frame:
    camera: str
    taken_at: dt.datetime | None = None
    sequence_id: str = ""


def group_sequences(frames: Sequence[Frame], *, maxlag_s: float) -> list[str]:
    """One sequence key per frame, in the order of `frames`."""
    keys = [""] * len(frames)
    timed: dict[str, list[tuple[int, dt.datetime]]] = defaultdict(
        list
    )  # per camera: (position, time)
    for index, frame in enumerate(frames):
        if frame.sequence_id:
            keys[index] = f"{frame.camera}#id:{frame.sequence_id}"
        elif frame.taken_at is None:
            keys[index] = f"{frame.camera}#frame:{index}"
        else:
            timed[frame.camera].append((index, frame.taken_at))
    for camera, rows in timed.items():
        for (index, _), number in zip(
            rows, _runs([time for _, time in rows], maxlag_s), strict=True
        ):
            keys[index] = f"{camera}#time:{number}"
    return keys


def _runs(times: list[dt.datetime], maxlag_s: float) -> list[int]:
    """The run number of each time (in the given order) once sorted: a gap over maxlag_s starts a
    new run."""
    order = sorted(range(len(times)), key=times.__getitem__)
    numbers, run = [0] * len(times), 0
    for previous, current in zip(order, order[1:], strict=False):
        if (times[current] - times[previous]).total_seconds() > maxlag_s:
            run += 1
        numbers[current] = run
    return numbers
