"""Malformed input through the real ingest path: damaged JPEG/PNG/TIFF, broken zips, nonsense COCO
and MegaDetector files, through the services and the upload endpoint. The only failures allowed are
the domain's own refusals (a report line saying why, ArchiveRejected, LayoutError, UnmappedClasses,
DetectionFileError); never a 5xx, and a refused file leaves nothing behind: no Image row, no file
in media."""

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from annotation.ingest.archive import ArchiveRejected, extract_zip
from annotation.ingest.plans import LayoutError
from annotation.models import BatchOutcome, Image
from annotation.services.batches import batch_open
from annotation.services.class_mapping import UnmappedClasses
from annotation.services.imports import import_prepare
from annotation.services.ingest import image_ingest
from tests.conftest import stored_files
from tests.factories import jpeg_bytes, upload, zip_bytes

# An unclosed file is a leak: an upload of a thousand damaged files would hold a thousand
# open files.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SAMPLES = {
    "jpg": jpeg_bytes(seed=1, taken="2024:05:01 10:00:00"),
    "png": jpeg_bytes(seed=2, fmt="PNG"),
    "tif": jpeg_bytes(seed=3, fmt="TIFF"),
    "zip": zip_bytes({"DCIM/IMG_1.JPG": jpeg_bytes(seed=4), "DCIM/notes.txt": b"card 7"}),
}


def _flip(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


def damaged(data: bytes) -> st.SearchStrategy[bytes]:
    """A real file cut short, with bytes overwritten, with junk spliced in, or junk behind its
    magic number."""
    return st.one_of(
        st.integers(0, len(data) - 1).map(lambda n: data[:n]),
        st.lists(
            st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), min_size=1, max_size=12
        ).map(lambda edits: _flip(data, edits)),
        st.tuples(st.integers(0, len(data)), st.binary(min_size=1, max_size=64)).map(
            lambda cut: data[: cut[0]] + cut[1] + data[cut[0] :]
        ),
        st.binary(max_size=256).map(lambda junk: data[:8] + junk),
    )


malformed_file = st.sampled_from(sorted(SAMPLES)).flatmap(
    lambda kind: st.tuples(st.just(kind), damaged(SAMPLES[kind]))
)


class _Rollback(Exception):
    """Each example's rows are taken back, so the next one starts from the same database."""


def _rolled_back(action):
    try:
        with transaction.atomic():
            result = action()
            raise _Rollback(result)
    except _Rollback as done:
        return done.args[0]


@FUZZ
@given(case=malformed_file)
def test_image_ingest_reports_a_refusal_and_stores_nothing(
    org, partner, tmp_path_factory, settings, case
):
    kind, data = case
    path = tmp_path_factory.mktemp("fuzz") / f"card.{kind}"
    path.write_bytes(data)
    before = stored_files(settings)

    def ingest():
        item = image_ingest(
            path=path,
            name=path.name,
            batch=batch_open(organisation=org, uploader=partner),
            deployment=None,
        )
        return item.outcome, Image.objects.count()

    outcome, images = _rolled_back(ingest)
    if outcome == BatchOutcome.REJECTED:
        assert images == 0 and stored_files(settings) == before


@FUZZ
@given(case=malformed_file)
def test_the_upload_endpoint_never_fails_and_keeps_nothing_it_refused(org, partner, settings, case):
    kind, data = case
    api = APIClient()
    api.force_authenticate(partner)
    before = stored_files(settings)

    def post():
        response = api.post(
            "/api/images/",
            {
                "files": [upload(f"card.{kind}", data)],
                "organisation": org.pk,
                "deployment_name": "Col",
            },
            format="multipart",
        )
        return response.status_code, response.json(), Image.objects.count()

    status, body, images = _rolled_back(post)
    assert status in (200, 201, 400), (status, body)
    if status == 400:
        assert "No file was accepted" in body["detail"] and all(f["reason"] for f in body["files"])
        assert images == 0 and stored_files(settings) == before
    # the endpoint reports a file that made the service raise as refused "because of an internal
    # error": a bug
    assert not any("internal error" in f["reason"] for f in body["files"]), body


@FUZZ
@given(data=damaged(SAMPLES["zip"]))
def test_a_damaged_zip_is_refused_or_unpacked_inside_its_folder(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("zip")
    archive = folder / "card.zip"
    archive.write_bytes(data)
    try:
        extract_zip(archive, folder / "out", max_total_bytes=10**6, max_ratio=10)
    except ArchiveRejected as refusal:
        assert str(refusal)
    assert all(p.resolve().is_relative_to(folder.resolve()) for p in folder.rglob("*"))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def coco_like() -> st.SearchStrategy:
    """Objects shaped almost like COCO Camera Traps, each field possibly of the wrong type
    or missing."""
    image = st.fixed_dictionaries(
        {},
        optional={
            "id": json_values | st.integers(0, 3),
            "file_name": json_values | st.just("IMG_1.JPG"),
            "width": json_values,
            "height": json_values,
            "datetime": json_values,
            "seq_id": json_values,
        },
    )
    annotation = st.fixed_dictionaries(
        {},
        optional={
            "image_id": json_values | st.integers(0, 3),
            "category_id": json_values | st.integers(0, 3),
            "bbox": json_values | st.lists(json_values, max_size=5),
        },
    )
    category = st.fixed_dictionaries(
        {},
        optional={
            "id": json_values | st.integers(0, 3),
            "name": json_values | st.sampled_from(["fox", "renard", "?"]),
        },
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "images": st.lists(image, max_size=3) | json_values,
            "annotations": st.lists(annotation, max_size=3) | json_values,
            "categories": st.lists(category, max_size=3) | json_values,
        },
    )


@FUZZ
@given(index=coco_like() | json_values, raw=st.booleans(), junk=st.binary(max_size=64))
def test_a_malformed_coco_index_is_refused_with_a_reason(tmp_path_factory, index, raw, junk):
    root = tmp_path_factory.mktemp("coco")
    (root / "IMG_1.JPG").write_bytes(SAMPLES["jpg"])
    (root / "index.json").write_bytes(junk if raw else json.dumps(index).encode())
    try:
        _rolled_back(
            lambda: import_prepare(root=root, fmt="coco", deployment_name=None, create_taxa=False)
        )
    except (LayoutError, UnmappedClasses) as refusal:
        assert str(refusal)


def megadetector_like() -> st.SearchStrategy:
    detection = st.fixed_dictionaries(
        {},
        optional={
            "category": json_values | st.sampled_from(["1", "2", "9"]),
            "conf": json_values,
            "bbox": json_values | st.lists(st.floats(-2, 2), min_size=4, max_size=4),
        },
    )
    entry = st.fixed_dictionaries(
        {},
        optional={
            "file": json_values | st.just("IMG_1.JPG"),
            "failure": json_values,
            "detections": st.lists(detection, max_size=3) | json_values,
        },
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "images": st.lists(entry, max_size=3) | json_values,
            "detection_categories": json_values,
        },
    )


@FUZZ
@given(content=megadetector_like() | json_values, raw=st.booleans(), junk=st.binary(max_size=64))
def test_a_malformed_megadetector_file_is_refused_by_the_command(
    tmp_path_factory, content, raw, junk
):
    path = tmp_path_factory.mktemp("md") / "md.json"
    path.write_bytes(junk if raw else json.dumps(content).encode())
    try:
        _rolled_back(lambda: call_command("import_detections", str(path), stdout=io.StringIO()))
    except CommandError as refusal:
        assert str(refusal)


def test_the_samples_themselves_are_accepted(org, partner, tmp_path):
    """The fuzzed files start from files the pool takes, so a refusal above is the
    damage's doing."""
    batch = batch_open(organisation=org, uploader=partner)
    for kind in ("jpg", "png", "tif"):
        path = tmp_path / f"ok.{kind}"
        path.write_bytes(SAMPLES[kind])
        assert (
            image_ingest(path=path, name=path.name, batch=batch, deployment=None).outcome
            == BatchOutcome.IMPORTED
        )
    with zipfile.ZipFile(io.BytesIO(SAMPLES["zip"])) as bundle:
        assert bundle.testzip() is None
    assert Path(tmp_path).exists()
