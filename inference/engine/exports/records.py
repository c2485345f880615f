"""What the export writers receive: plain, immutable records built by the export service from
the pool.

Times of media, sequences and deployments are the cameras' wall-clock times, naive (the pool keeps
camera time without a zone); `Site.utc_offset` says the zone when it is known. Times of
classifications are real instants (aware). Boxes are normalised [x, y, w, h] with the top-left
corner first."""

import datetime as dt
from dataclasses import dataclass

from faune_platform.boxes import Box, DetectorCategory

UNKNOWN = "unknown"  # the kind of a model's classification too unsure to name a taxon


@dataclass(frozen=True)
class Site:
    """A deployment (a camera at a site for a period), with the id it takes in the export."""

    id: str
    name: str
    organisation: str
    location_name: str = ""
    latitude: float | None = None
    longitude: float | None = None
    camera_id: str = ""
    camera_make: str = ""
    camera_model: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    habitat: str = ""
    utc_offset: str = ""  # "+01:00"; empty when unknown


@dataclass(frozen=True)
class Classification:
    """What a frame or a sequence shows, said by a person (a label) or by a model (a prediction)."""

    kind: str  # a Category (animal / human / vehicle / empty), or UNKNOWN
    taxon_id: int | None = None
    scientific_name: str = ""
    name_en: str = ""
    name_fr: str = ""
    count: int | None = None
    box: Box | None = None
    method: str = "human"  # human / machine
    by: str = ""  # the person, or the model and its version
    at: dt.datetime | None = None
    probability: float | None = None
    source: str = ""  # expert / partner / import / model_accepted / model
    top_name_en: str = (
        ""  # a model's best class even when it is too unsure to say it (DeepFaune's top1)
    )
    top_name_fr: str = ""


@dataclass(frozen=True)
class Found:
    """A box a detector found."""

    category: DetectorCategory
    confidence: float
    box: Box


@dataclass(frozen=True)
class Frame:
    """One photograph or video of the export."""

    id: int
    site_id: str
    sequence_id: int
    taken_at: dt.datetime | None
    name: str  # the path it was uploaded or imported under
    kind: str  # image / video
    mediatype: str
    width: int
    height: int
    people: bool = False
    label: Classification | None = None  # its current label, if any
    prediction: Classification | None = None  # the production model's, if any
    detections: tuple[Found, ...] | None = None  # None: no detector ever looked at it
    detector: str = ""
    file_path: str = ""  # where its file lies in the export ("": not copied)

    @property
    def basename(self) -> str:
        return self.name.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Event:
    """A sequence: the frames of one camera close in time that the export holds, in time order."""

    id: int
    site_id: str
    frames: tuple[Frame, ...]
    verdict: Classification | None = None  # the production model's verdict on the whole sequence

    @property
    def start(self) -> dt.datetime | None:
        return min((f.taken_at for f in self.frames if f.taken_at), default=None)

    @property
    def end(self) -> dt.datetime | None:
        return max((f.taken_at for f in self.frames if f.taken_at), default=None)
