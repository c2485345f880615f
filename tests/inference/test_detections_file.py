"""MegaDetector batch-output files: every field read is checked, boxes are clipped to the frame, and
the import command refuses a bad file with a message instead of a traceback."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from inference.engine.detections import DetectionFileError, read_megadetector_json
from inference.models import Detection


def _write(tmp_path, data) -> str:
    path = tmp_path / "md.json"
    path.write_text(json.dumps(data))
    return str(path)


def _one(detection: dict) -> dict:
    return {"images": [{"file": "a.jpg", "detections": [detection]}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _one({"category": "1", "conf": 0.9}),
            r"images\[0\] \(a.jpg\) detections\[0\]\.bbox must be 4 numbers",
        ),
        (
            _one({"category": "abc", "conf": 0.9, "bbox": [0, 0, 1, 1]}),
            r"detections\[0\]\.category must be one of",
        ),
        (
            _one({"category": "1", "conf": "high", "bbox": [0, 0, 1, 1]}),
            r"detections\[0\]\.conf must be a number",
        ),
        (_one({"category": "1", "conf": 0.9, "bbox": ["0", 0, 1, 1]}), r"detections\[0\]\.bbox"),
        (_one({"category": "1", "conf": 0.9, "bbox": [0, 0, 1e400, 1]}), r"detections\[0\]\.bbox"),
        (
            _one({"category": "1", "conf": 0.9, "bbox": [0, 0, 10**400, 1]}),
            r"detections\[0\]\.bbox",
        ),
        ({"images": 5}, "JSON object with an 'images' list"),
        ([1, 2], "JSON object with an 'images' list"),
        ({"images": [7]}, r"images\[0\] must be an object"),
        ({"images": [{"file": ["a.jpg"]}]}, r"images\[0\]\.file must be the image's path"),
        (
            {"images": [{"file": "a.jpg", "detections": {"category": "1"}}]},
            "detections must be a list",
        ),
        (
            {"images": [], "detection_categories": ["animal"]},
            "detection_categories must map ids to names",
        ),
    ],
)
def test_bad_fields_are_refused_naming_the_entry_and_field(tmp_path, data, message):
    with pytest.raises(DetectionFileError, match=message):
        read_megadetector_json(_write(tmp_path, data))


def test_boxes_are_clipped_to_the_frame_and_empty_ones_dropped(tmp_path):
    boxes = [
        [-0.2, 0.5, 0.5, 0.8],
        [0.9, 0.9, 0.5, 0.5],
        [1.2, 0.1, 0.2, 0.2],
        [0.3, 0.3, -0.1, 0.2],
        [0.1, 0.2, 0.3, 0.4],
    ]
    data = {
        "images": [
            {
                "file": "a.jpg",
                "detections": [
                    {"category": "1", "conf": 0.1 * (i + 1), "bbox": box}
                    for i, box in enumerate(boxes)
                ],
            }
        ]
    }
    found = read_megadetector_json(_write(tmp_path, data))["a.jpg"]
    assert [d.box.to_list(digits=6) for d in found] == [
        [0.1, 0.2, 0.3, 0.4],
        [0.9, 0.9, 0.1, 0.1],
        [0.0, 0.5, 0.3, 0.5],
    ]
    assert all(0 <= d.box.x and d.box.x + d.box.w <= 1 and d.box.y + d.box.h <= 1 for d in found)


def test_categories_may_be_numbers_or_named_in_the_file(tmp_path):
    data = {
        "images": [
            {
                "file": "a.jpg",
                "detections": [
                    {"category": 2, "conf": 1, "bbox": [0, 0, 1, 1]},
                    {"category": "7", "conf": 0.5, "bbox": [0, 0, 1, 1]},
                ],
            },
            {"file": "b.jpg", "failure": "unreadable", "detections": "junk"},
        ],
        "detection_categories": {"2": "person", "7": "deer"},
    }
    found = read_megadetector_json(_write(tmp_path, data))
    assert list(found) == ["a.jpg"] and [d.category for d in found["a.jpg"]] == ["person", "animal"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_one({"category": "1", "conf": 0.9}), "bbox"),
        (_one({"category": "abc", "conf": 0.9, "bbox": [0, 0, 1, 1]}), "category"),
        ({"images": 5}, "'images' list"),
    ],
)
def test_the_import_command_refuses_a_bad_file_with_a_message(tmp_path, data, field):
    with pytest.raises(CommandError, match=field):
        call_command(
            "import_detections", _write(tmp_path, data), stdout=io.StringIO(), stderr=io.StringIO()
        )
    assert not Detection.objects.exists()


@pytest.mark.django_db
def test_a_name_two_organisations_share_gets_no_box_unless_one_is_named(tmp_path, org, other_org):
    from annotation.services.batches import batch_open
    from annotation.services.ingest import image_ingest
    from tests.factories import write_jpeg

    ours, _theirs = (
        image_ingest(
            path=write_jpeg(tmp_path / owner.name / "IMG_0001.JPG", seed=seed),
            name="cam1/IMG_0001.JPG",
            batch=batch_open(organisation=owner, uploader=None),
            deployment=None,
        ).image
        for seed, owner in enumerate((org, other_org))
    )
    entry = {"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]}
    md = tmp_path / "md.json"
    md.write_text(json.dumps({"images": [{"file": "cam1/IMG_0001.JPG", "detections": [entry]}]}))
    out = io.StringIO()
    call_command("import_detections", str(md), stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue().splitlines()[-1])["matched"] == 0
    assert not Detection.objects.exists()  # on neither: it could be either's
    call_command("import_detections", str(md), "--organisation", org.name, stdout=io.StringIO())
    assert set(Detection.objects.values_list("image_id", flat=True)) == {ours.pk}
