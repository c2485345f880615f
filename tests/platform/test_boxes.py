"""The one box type and the detector categories (faune_platform/boxes.py): every format converts
through them and back without loss, and numbers that make no box on the frame are refused with a
message that says why."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotation.models import TaxonKind
from faune_platform.boxes import (
    MEGADETECTOR_CATEGORIES,
    NOT_ANIMAL,
    WHOLE_FRAME,
    Box,
    BoxError,
    Category,
    DetectorCategory,
)


@st.composite
def boxes(draw: st.DrawFn) -> Box:
    x, y = draw(st.floats(0, 0.99)), draw(st.floats(0, 0.99))
    return Box(x, y, draw(st.floats(0.001, 1 - x)), draw(st.floats(0.001, 1 - y)))


@given(boxes())
def test_the_model_columns_and_the_json_list_give_back_the_same_box(box):
    assert Box.from_columns(**{name[-1]: value for name, value in box.columns().items()}) == box
    assert Box.from_list(box.to_list()) == box
    assert box.columns() == {"box_x": box.x, "box_y": box.y, "box_w": box.w, "box_h": box.h}


@given(boxes(), st.integers(100, 8000), st.integers(100, 8000))
def test_coco_pixels_come_back_to_the_box_within_a_hundredth_of_a_pixel(box, width, height):
    back = Box.from_pixels(box.to_pixels(width, height), width, height)
    assert back is not None
    assert math.isclose(back.x * width, box.x * width, abs_tol=0.01)
    assert math.isclose((back.y + back.h) * height, (box.y + box.h) * height, abs_tol=0.02)


def test_formats_are_written_as_before():
    box = Box(0.123456789, 0.25, 0.5, 0.375)
    assert box.to_list(digits=4) == [0.1235, 0.25, 0.5, 0.375]  # MegaDetector export
    assert box.to_list(digits=5) == [0.12346, 0.25, 0.5, 0.375]  # Camtrap DP import provenance
    assert box.to_pixels(200, 100) == [24.69, 25.0, 100.0, 37.5]  # COCO
    assert box.to_tuple() == (0.123456789, 0.25, 0.5, 0.375)
    assert Box.from_columns(None, None, None, None) is None  # a label without a box


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        ((0.5, 0.1, 0.6, 0.2), "the box runs past the edge of the image"),
        ((0.1, 0.5, 0.2, 0.6), "the box runs past the edge of the image"),
        ((-0.1, 0.1, 0.2, 0.2), "each between 0 and 1"),
        ((0.1, 0.1, 0, 0.2), "each between 0 and 1"),
        ((0.1, 0.1, 0.2, 1.5), "each between 0 and 1"),
        ((math.nan, 0.1, 0.2, 0.2), "a box's x must be a finite number, not nan"),
        ((0.1, 0.1, math.inf, 0.2), "a box's width must be a finite number, not inf"),
        ((0.1, "0.1", 0.2, 0.2), "a box's y must be a finite number, not '0.1'"),
        ((0.1, 0.1, 0.2, True), "a box's height must be a finite number, not True"),
    ],
)
def test_numbers_that_make_no_box_are_refused_with_the_reason(numbers, message):
    with pytest.raises(BoxError, match=message.replace("(", r"\(")):
        Box(*numbers)
    assert issubclass(BoxError, ValueError)  # the APIs turn it into a 400 with this message


def test_a_list_must_hold_four_numbers():
    with pytest.raises(BoxError, match="4 numbers"):
        Box.from_list([0.1, 0.2, 0.3])


def test_a_browsers_rounding_past_the_edge_is_tolerated():
    assert Box(0.6, 0.0, 0.40005, 1.0).w == 0.40005


def test_clipping_keeps_only_what_lies_inside_the_frame():
    assert Box.clipped(0.25, 0.25, 0.5, 0.5) == Box(0.25, 0.25, 0.5, 0.5)
    assert (
        Box.clipped(0.1, 0.2, 0.3, 0.4).h == 0.4
    )  # inside: the exact numbers, not (0.2 + 0.4) - 0.2
    assert Box.clipped(-0.1, 0.5, 0.5, 0.75) == Box(
        0.0, 0.5, 0.4, 0.5
    )  # the part left of the frame is cut off
    assert Box.clipped(-1, -1, 0.5, 3) is None
    assert Box.clipped(0.5, 0.5, 0, 0.2) is None
    assert Box.clipped(math.nan, 0, 1, 1) is None and Box.clipped(0, 0, math.inf, 1) is None
    assert Box.from_pixels([-20, 10, 100, 500], 200, 100) == Box(0.0, 0.1, 0.4, 0.9)


@given(st.floats(-2, 2), st.floats(-2, 2), st.floats(-2, 3), st.floats(-2, 3))
def test_whatever_is_clipped_is_a_box_inside_the_frame(x, y, w, h):
    box = Box.clipped(x, y, w, h)
    assert box is None or (box.x + box.w <= 1 + 1e-9 and box.y + box.h <= 1 + 1e-9)


def test_pixel_rectangles_for_crops_and_for_blurring():
    assert Box(0.95, 0.0, 0.05, 0.5).square_around(1000, 500) == (750, 0, 1000, 250)
    assert Box(0.25, 0.25, 0.5, 0.5).widened_pixels(0.1, 100, 100) == (20, 20, 80, 80)
    assert WHOLE_FRAME.widened_pixels(0.1, 40, 30) == (0, 0, 40, 30)


def test_rounding_keeps_a_tiny_box_a_box():
    assert Box(0.123456, 0.5, 0.00001, 0.2).rounded(4) == Box(0.1235, 0.5, 0.0001, 0.2)


def test_boxes_sort_and_deduplicate_as_their_numbers_do():
    a, b = Box(0.1, 0.2, 0.3, 0.4), Box(0.1, 0.1, 0.3, 0.4)
    assert sorted({a, b, Box(0.1, 0.2, 0.3, 0.4)}) == [b, a]


def test_megadetector_numbers_its_categories_from_one():
    assert MEGADETECTOR_CATEGORIES == {"1": "animal", "2": "person", "3": "vehicle"}
    assert [c.megadetector_id for c in DetectorCategory] == ["1", "2", "3", None]


@pytest.mark.parametrize(
    ("name", "index", "expected"),
    [
        ("Animal", 5, DetectorCategory.ANIMAL),
        ("human", 0, DetectorCategory.PERSON),
        ("people/person", 0, DetectorCategory.PERSON),
        ("VEHICLE", 0, DetectorCategory.VEHICLE),
        ("", 1, DetectorCategory.PERSON),
        ("class2", 2, DetectorCategory.VEHICLE),
        ("deer", 7, DetectorCategory.ANIMAL),
    ],
)
def test_a_detectors_class_names_are_read_by_their_words_else_by_position(name, index, expected):
    assert DetectorCategory.from_name(name, index) is expected


def test_a_detected_person_is_labelled_human_in_the_pool():
    assert [c.category for c in DetectorCategory] == [
        Category.ANIMAL,
        Category.HUMAN,
        Category.VEHICLE,
        Category.EMPTY,
    ]


def test_camtrap_dp_calls_an_empty_frame_blank():
    assert [c.observation_type for c in Category] == ["animal", "human", "vehicle", "blank"]
    assert all(Category.from_observation_type(c.observation_type) is c for c in Category)
    assert Category.from_observation_type("unclassified") is None and Category.of("unknown") is None


def test_the_taxon_kinds_are_the_categories():
    assert TaxonKind.values == [c.value for c in Category]
    assert set(NOT_ANIMAL) == set(Category) - {Category.ANIMAL}
