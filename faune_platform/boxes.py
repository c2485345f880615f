"""Where something is on a frame, and what a detector calls it: the one box type and the two
category vocabularies every layer shares. No Django here: engine code, the Django-free import
readers and the apps all import it, so it sits below all of them.

A box is normalised: x and y are the top-left corner and w, h the width and height, each as a
fraction of the frame as it is displayed (after its EXIF orientation). Every format converts through
`Box`: the models' four columns `box_x, box_y, box_w, box_h`, MegaDetector's and the stored JSON's
`[x, y, w, h]` fractions, COCO's `[x, y, w, h]` in pixels, Camtrap DP's `bboxX, bboxY, bboxWidth,
bboxHeight` fractions."""

import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from enum import StrEnum
from typing import ClassVar

# A drawn or stored box may overrun the frame's edge by this much (a browser's rounding), no more.
EDGE_TOLERANCE = 1e-4


class BoxError(ValueError):
    """The numbers do not make a box on the frame; the message says which rule they break."""


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BoxError(f"a box's {name} must be a finite number, not {value!r}")
    return float(value)


def _inside(start: float, size: float) -> tuple[float, float] | None:
    """(start, size) of the part of a span that lies within [0, 1]; None when none of it
    does. A span already inside keeps its exact size (end - start would add float noise to
    imported numbers)."""
    low, high = min(max(start, 0.0), 1.0), min(max(start + size, 0.0), 1.0)
    if high <= low:
        return None
    return low, (size if (low, high) == (start, start + size) else high - low)


@dataclass(frozen=True, order=True)
class Box:
    """A rectangle on a frame as fractions of its size; made only valid (`BoxError` otherwise)."""

    x: float
    y: float
    w: float
    h: float

    COLUMNS: ClassVar[tuple[str, str, str, str]] = ("box_x", "box_y", "box_w", "box_h")

    def __post_init__(self) -> None:
        for field, said in (("x", "x"), ("y", "y"), ("w", "width"), ("h", "height")):
            object.__setattr__(
                self, field, _number(getattr(self, field), said)
            )  # frozen: set once, here
        if not (0 <= self.x <= 1 and 0 <= self.y <= 1 and 0 < self.w <= 1 and 0 < self.h <= 1):
            raise BoxError(
                "a box is x, y, width, height as fractions of the image, each between 0 and 1"
            )
        # the small extra absorbs float error when both ends were rounded to EDGE_TOLERANCE's digits
        if (
            self.x + self.w > 1 + EDGE_TOLERANCE + 1e-9
            or self.y + self.h > 1 + EDGE_TOLERANCE + 1e-9
        ):
            raise BoxError("the box runs past the edge of the image")

    # --- from and to the formats ------------------------------------------------------------------

    @classmethod
    def clipped(cls, x: float, y: float, w: float, h: float) -> "Box | None":
        """The part of a normalised box that lies inside the frame; None when none of it does (or a
        number is not finite: such a box cannot be placed)."""
        if not all(math.isfinite(value) for value in (x, y, w, h)):
            return None
        across, down = _inside(x, w), _inside(y, h)
        if across is None or down is None:
            return None
        return cls(across[0], down[0], across[1], down[1])

    @classmethod
    def from_list(cls, values: Sequence[float]) -> "Box":
        """From `[x, y, w, h]` fractions: MegaDetector's `bbox`, a prediction's or an embedding's
        stored box."""
        if len(values) != 4:
            raise BoxError(f"a box is 4 numbers (x, y, width, height), not {len(values)}")
        return cls(*values)

    def to_list(self, digits: int | None = None) -> list[float]:
        """`[x, y, w, h]` fractions (MegaDetector's `bbox`, stored JSON), rounded to `digits`
        when given."""
        values = list(astuple(self))
        return values if digits is None else [round(value, digits) for value in values]

    def to_tuple(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.w, self.h

    @classmethod
    def from_pixels(cls, values: Sequence[float], width: float, height: float) -> "Box | None":
        """From COCO's `[x, y, w, h]` in pixels of a `width` x `height` image, clipped to the frame;
        None when none of it is inside."""
        x, y, w, h = (float(value) for value in values)
        return cls.clipped(x / width, y / height, w / width, h / height)

    def to_pixels(self, width: int, height: int) -> list[float]:
        """COCO's `[x, y, w, h]` in pixels of a `width` x `height` image, to the hundredth."""
        return [
            round(self.x * width, 2),
            round(self.y * height, 2),
            round(self.w * width, 2),
            round(self.h * height, 2),
        ]

    @classmethod
    def from_columns(
        cls, x: float | None, y: float | None, w: float | None, h: float | None
    ) -> "Box | None":
        """From a model's `box_x, box_y, box_w, box_h` columns; None when they are empty (a label
        without box)."""
        if x is None or y is None or w is None or h is None:
            return None
        return cls(x, y, w, h)

    def columns(self) -> dict[str, float]:
        """The model's four columns, to pass as keyword arguments: `Annotation(**box.columns())`."""
        return dict(zip(self.COLUMNS, astuple(self), strict=True))

    def rounded(self, digits: int) -> "Box":
        """The box to `digits` decimals, so that the same box read from two sources compares equal;
        a side too small to show at that precision keeps its smallest step."""
        step = 10.0**-digits
        return Box(
            round(self.x, digits),
            round(self.y, digits),
            max(round(self.w, digits), step),
            max(round(self.h, digits), step),
        )

    # --- in pixels --------------------------------------------------------------------------------

    @property
    def area(self) -> float:
        return self.w * self.h

    def square_around(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The crop a classifier sees, as (left, top, right, bottom) pixels of a `width` x
        `height` image: a square centred on the box, as large as its longer side, slid back inside
        the image."""
        x, y, w, h = self.x * width, self.y * height, self.w * width, self.h * height
        side = min(max(w, h, 1.0), width, height)
        left = min(max(x + w / 2 - side / 2, 0), width - side)
        top = min(max(y + h / 2 - side / 2, 0), height - side)
        return round(left), round(top), round(left + side), round(top + side)

    def widened_pixels(
        self, margin: float, width: int, height: int
    ) -> tuple[int, int, int, int] | None:
        """The box widened by `margin` of its size on each side, as (left, top, right, bottom) whole
        pixels inside a `width` x `height` image; None when nothing of it is inside."""
        left, top = (self.x - margin * self.w) * width, (self.y - margin * self.h) * height
        right, bottom = (
            (self.x + self.w * (1 + margin)) * width,
            (self.y + self.h * (1 + margin)) * height,
        )
        left, top = max(0, int(left)), max(0, int(top))
        right, bottom = min(width, int(right + 0.999)), min(height, int(bottom + 0.999))
        return (left, top, right, bottom) if right > left and bottom > top else None


WHOLE_FRAME = Box(0.0, 0.0, 1.0, 1.0)


class Category(StrEnum):
    """What a frame shows at the detector's level, in the pool's words: a
    taxon's kind, a prediction's category. A detector's `person` is `HUMAN` here
    (see `DetectorCategory.category`)."""

    ANIMAL = "animal"
    HUMAN = "human"
    VEHICLE = "vehicle"
    EMPTY = "empty"

    @classmethod
    def of(cls, value: str) -> "Category | None":
        """The category spelt `value`; None for any other word (an export's `unknown`, say)."""
        return cls._value2member_map_.get(value)  # type: ignore[return-value]

    @property
    def observation_type(self) -> str:
        """Camtrap DP's `observationType`: the same words, but an empty frame is `blank`."""
        return "blank" if self is Category.EMPTY else self.value

    @classmethod
    def from_observation_type(cls, value: str) -> "Category | None":
        """The category a Camtrap DP `observationType` names; None for `unknown`, `unclassified` and
        the like."""
        return cls.EMPTY if value == "blank" else cls.of(value)


class DetectorCategory(StrEnum):
    """What a detector found, in MegaDetector's words (stored so on each detection). `EMPTY` is the
    row that remembers a detector looked and found nothing: MegaDetector has no id for it."""

    ANIMAL = "animal"
    PERSON = "person"
    VEHICLE = "vehicle"
    EMPTY = "empty"

    @property
    def megadetector_id(self) -> str | None:
        """MegaDetector's category id: "1" animal, "2" person, "3" vehicle; None for EMPTY."""
        return MEGADETECTOR_IDS.get(self)

    @classmethod
    def from_name(cls, name: str, index: int) -> "DetectorCategory":
        """A detector's own name for a class (a YOLO file's names, a batch file's
        `detection_categories`), read by the words in it; a name without one falls back on
        its position `index` in MegaDetector's order (animal, person, vehicle), and past
        those on animal."""
        lowered = name.lower()
        for category in DETECTED:
            if category.value in lowered:
                return category
        if "human" in lowered:
            return cls.PERSON
        return DETECTED[index] if 0 <= index < len(DETECTED) else cls.ANIMAL

    @property
    def category(self) -> Category:
        """The pool's word for what this detection shows (a person is labelled human)."""
        return Category.HUMAN if self is DetectorCategory.PERSON else Category(self.value)


# What a frame may show besides an animal: the detector alone decides these, and each is also a
# taxon whose slug is the category's word (seeded with the pool).
NOT_ANIMAL = (Category.HUMAN, Category.VEHICLE, Category.EMPTY)

# What a detector can find, in MegaDetector's order: it numbers them from 1.
DETECTED = (DetectorCategory.ANIMAL, DetectorCategory.PERSON, DetectorCategory.VEHICLE)
MEGADETECTOR_IDS = {category: str(number) for number, category in enumerate(DETECTED, start=1)}
# A batch-output file's `detection_categories` as MegaDetector writes it: {"1": "animal", ...}
MEGADETECTOR_CATEGORIES = {number: category.value for category, number in MEGADETECTOR_IDS.items()}
