"""The export format writers on plain records (no database): Camtrap DP rows, COCO, MegaDetector,
DeepFaune, and the files an export appends to and streams."""

import datetime as dt
import io
import json
import zipfile

from faune_platform.boxes import Box, DetectorCategory
from inference.engine.exports import camtrapdp, coco, deepfaune, megadetector
from inference.engine.exports.files import (
    append_csv,
    lengths,
    rewind,
    write_json_with_arrays,
    zip_stream,
)
from inference.engine.exports.records import Classification, Event, Found, Frame, Site

T0 = dt.datetime(2024, 5, 2, 6, 0, 0)
LABELLED_AT = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
DEER = dict(
    kind="animal", taxon_id=3, scientific_name="Cervus elaphus", name_en="red deer", name_fr="cerf"
)


def label(**fields) -> Classification:
    return Classification(
        **{
            **DEER,
            "method": "human",
            "by": "paula",
            "at": LABELLED_AT,
            "source": "partner",
            **fields,
        }
    )


def frame(pk: int, seconds: int = 0, **fields) -> Frame:
    return Frame(
        **{
            "id": pk,
            "site_id": "Col",
            "sequence_id": 7,
            "taken_at": T0 + dt.timedelta(seconds=seconds),
            "name": f"card/IMG_{pk:04d}.JPG",
            "kind": "image",
            "mediatype": "image/jpeg",
            "width": 200,
            "height": 100,
            **fields,
        }
    )


def test_a_sequence_gives_an_event_observation_and_boxed_frames_their_own():
    event = Event(
        7,
        "Col",
        (
            frame(1, label=label(count=2)),
            frame(2, 2, label=label(count=3, box=Box(0.1, 0.2, 0.3, 0.4))),
            frame(3, 4),
        ),
    )
    rows = camtrapdp.observation_rows(event, "+01:00")
    assert [row["observationLevel"] for row in rows] == ["event", "media"]
    first = rows[0]
    assert (
        first["eventStart"] == "2024-05-02T06:00:00+01:00"
        and first["eventEnd"] == "2024-05-02T06:00:04+01:00"
    )
    assert (
        first["mediaID"] == "" and first["eventID"] == "7" and first["count"] == 3
    )  # most seen on one frame
    assert first["scientificName"] == "Cervus elaphus" and first["classificationMethod"] == "human"
    assert (
        first["classificationTimestamp"] == "2024-06-01T12:00:00Z"
        and first["classificationProbability"] == ""
    )
    boxed = rows[1]
    assert boxed["mediaID"] == "2" and (
        boxed["bboxX"],
        boxed["bboxY"],
        boxed["bboxWidth"],
        boxed["bboxHeight"],
    ) == ("0.1", "0.2", "0.3", "0.4")


def test_a_single_image_gives_a_media_observation():
    alone = Event(8, "Col", (frame(5, label=label(box=Box(0.5, 0.25, 0.25, 0.5))),))
    (row,) = camtrapdp.observation_rows(alone, "")
    assert (
        row["observationLevel"] == "media"
        and row["mediaID"] == "5"
        and row["eventStart"].endswith("Z")
    )
    assert row["bboxWidth"] == "0.25"


def test_types_from_labels_and_from_the_model():
    machine = dict(method="machine", by="deepfaune 1.3", probability=0.951234, source="model")
    cases = {
        "animal": label(),
        "human": label(kind="human", scientific_name="Homo sapiens"),
        "vehicle": label(kind="vehicle", scientific_name=""),
        "blank": label(kind="empty", scientific_name=""),
        "unknown": Classification(kind="unknown", **machine),
    }
    for expected, said in cases.items():
        (row,) = camtrapdp.observation_rows(Event(1, "Col", (frame(1, label=said),)), "")
        assert row["observationType"] == expected
        assert row["scientificName"] == (
            said.scientific_name if expected in ("animal", "human") else ""
        )
    (unknown,) = camtrapdp.observation_rows(
        Event(1, "Col", (frame(1, label=cases["unknown"]),)), ""
    )
    assert (
        unknown["classificationMethod"] == "machine"
        and unknown["classificationProbability"] == "0.9512"
    )
    (nothing,) = camtrapdp.observation_rows(Event(1, "Col", (frame(1),)), "")
    assert nothing["observationType"] == "unclassified" and not nothing.get("classificationMethod")
    verdict = Classification(**DEER, **machine)
    (event_row,) = camtrapdp.observation_rows(Event(1, "Col", (frame(1), frame(2, 1)), verdict), "")
    assert event_row["observationLevel"] == "event" and event_row["classifiedBy"] == "deepfaune 1.3"


def test_a_persons_word_wins_over_a_models_in_an_event():
    imported = label(
        method="machine", by="Western Europe species model", probability=0.88, source="import"
    )
    event = Event(1, "Col", (frame(1, label=imported), frame(2, 1, label=label())))
    (row,) = camtrapdp.observation_rows(event, "")
    assert row["classificationMethod"] == "human" and row["classificationProbability"] == ""
    machine_only = Event(1, "Col", (frame(1, label=imported), frame(2, 1, label=imported)))
    (row,) = camtrapdp.observation_rows(machine_only, "")
    assert row["classificationMethod"] == "machine" and row["classificationProbability"] == "0.88"


def test_media_rows_flag_people_and_keep_paths_inside_the_package():
    row = camtrapdp.media_row(frame(4, people=True, file_path="media/4-IMG_0004.jpg"), "-05:00")
    assert row["filePublic"] == "false" and row["filePath"] == "media/4-IMG_0004.jpg"
    assert row["timestamp"] == "2024-05-02T06:00:00-05:00" and row["fileName"] == "IMG_0004.JPG"
    assert camtrapdp.media_row(frame(5, name="../../etc/x.jpg"), "")["filePath"] == "etc/x.jpg"
    assert camtrapdp.media_row(frame(5, name="card/../x.jpg"), "")["filePath"] == "card/_/x.jpg"
    assert camtrapdp.media_row(frame(6, name="./~/a.jpg"), "")["filePath"] == "a.jpg"


def test_deployments_say_what_they_lack_and_invent_nothing():
    bare = Site(id="cam", name="cam", organisation="Parc")
    assert camtrapdp.missing_metadata(bare) == [
        "coordinates",
        "set-up date",
        "pick-up date",
        "camera id",
        "camera model",
    ]
    row = camtrapdp.deployment_row(bare, "")
    assert row["latitude"] == row["longitude"] == row["deploymentStart"] == row["cameraModel"] == ""
    full = Site(
        id="cam",
        name="cam",
        organisation="Parc",
        latitude=45.0354,
        longitude=6.4041,
        camera_id="42",
        camera_make="Reconyx",
        camera_model="HF2X",
        start=T0,
        end=T0 + dt.timedelta(days=30),
        utc_offset="+02:00",
    )
    assert camtrapdp.missing_metadata(full) == []
    row = camtrapdp.deployment_row(full, "Z")
    assert (
        row["cameraModel"] == "Reconyx-HF2X"
        and row["deploymentStart"] == "2024-05-02T06:00:00+02:00"
    )
    assert row["latitude"] == "45.0354"


def test_package_descriptor_and_coverage():
    assert camtrapdp.spatial([(45.0, 6.0)]) == {"type": "Point", "coordinates": [6.0, 45.0]}
    box = camtrapdp.spatial([(45.0, 6.0), (46.0, 7.5), (None, None)])
    assert (
        box["type"] == "Polygon"
        and box["coordinates"][0][0] == [6.0, 45.0]
        and box["coordinates"][0][2] == [7.5, 46.0]
    )
    assert camtrapdp.spatial([(None, 1.0)]) is None
    package = camtrapdp.datapackage(
        name="x",
        package_id="1",
        created=LABELLED_AT,
        title="t",
        contributors=[],
        project={},
        spatial_coverage=None,
        temporal=None,
        taxonomic=[],
        source_version="0.1",
    )
    assert (
        "spatial" not in package and "temporal" not in package
    )  # unknown: left out, never made up
    assert [r["schema"] for r in package["resources"]][0].endswith(
        "/1.0.2/deployments-table-schema.json"
    )
    assert camtrapdp.package_name("Faune – Parc des Écrins 2024") == "faune-parc-des-crins-2024"
    assert (
        camtrapdp.valid_offset("+01:00")
        and camtrapdp.valid_offset("Z")
        and not camtrapdp.valid_offset("1:00")
    )


def test_coco_entries_carry_sequences_and_pixel_boxes():
    event = Event(
        9, "Col", (frame(1, label=label(box=Box(0.25, 0.5, 0.5, 0.25), count=2)), frame(2, 3))
    )
    images = coco.image_entries(event)
    assert images[1] == {
        "id": 2,
        "file_name": "card/IMG_0002.JPG",
        "width": 200,
        "height": 100,
        "datetime": "2024-05-02 06:00:03",
        "location": "Col",
        "seq_id": "9",
        "seq_num_frames": 2,
        "frame_num": 1,
    }
    (annotation,) = coco.annotation_entries(event)
    assert annotation == {
        "id": "1-1",
        "image_id": 1,
        "category_id": 3,
        "bbox": [50.0, 50.0, 100.0, 25.0],
        "count": 2,
    }


def test_megadetector_entries():
    seen = frame(
        1,
        detections=(
            Found(DetectorCategory.ANIMAL, 0.91234, Box(0.1, 0.2, 0.3, 0.4)),
            Found(DetectorCategory.PERSON, 0.5, Box(0, 0, 1, 1)),
        ),
    )
    entry = megadetector.image_entry(seen)
    assert entry == {
        "file": "card/IMG_0001.JPG",
        "max_detection_conf": 0.9123,
        "detections": [
            {"category": "1", "conf": 0.9123, "bbox": [0.1, 0.2, 0.3, 0.4]},
            {"category": "2", "conf": 0.5, "bbox": [0, 0, 1, 1]},
        ],
    }
    assert megadetector.image_entry(frame(2, detections=())) == {
        "file": "card/IMG_0002.JPG",
        "max_detection_conf": 0.0,
        "detections": [],
    }
    assert megadetector.image_entry(frame(3)) is None  # no detector looked: nothing to say


def test_deepfaune_rows_in_french_and_english():
    model = dict(
        method="machine", by="v", source="model", top_name_en="red deer", top_name_fr="cerf"
    )
    unsure = Classification(kind="unknown", probability=0.61, **model)
    found = (
        Found(DetectorCategory.ANIMAL, 0.9, Box(0, 0, 0.5, 0.5)),
        Found(DetectorCategory.ANIMAL, 0.1, Box(0, 0, 0.1, 0.1)),
        Found(DetectorCategory.PERSON, 0.7, Box(0.5, 0.5, 0.2, 0.2)),
    )
    event = Event(4, "Col", (frame(1, detections=found), frame(2, 1, label=label(count=3))), unsure)
    rows = deepfaune.table_rows(event, language="fr", threshold=0.2)
    assert rows[0] == {
        "filename": "card/IMG_0001.JPG",
        "date": "2024:05:02 06:00:00",
        "seqnum": 4,
        "prediction": "indefini",
        "top1": "cerf",
        "score": 0.61,
        "count": 1,
        "humancount": 1,
        "source": "model",
    }
    assert rows[1]["prediction"] == "cerf" and rows[1]["score"] == "" and rows[1]["count"] == 3
    assert (
        rows[1]["humancount"] == "" and rows[1]["source"] == "partner"
    )  # no detector looked at it
    english = deepfaune.table_rows(event, language="en", threshold=0.2)
    assert english[0]["prediction"] == "undefined" and english[1]["prediction"] == "red deer"
    assert (
        deepfaune.sorted_path(rows[0], frame(1), unlabelled="non_classe")
        == "indefini/1_IMG_0001.JPG"
    )
    assert deepfaune.folder_name('a/b:c*?"') == "a_b_c_"


def test_deepfaune_french_names_without_accents_as_deepfaune_writes_them():
    said = Classification(
        kind="animal",
        taxon_id=9,
        name_en="squirrel",
        name_fr="écureuil",
        method="machine",
        by="v",
        source="model",
        probability=0.9,
        top_name_en="goat",
        top_name_fr="chèvre",
    )
    event = Event(5, "Col", (frame(1),), said)
    row = deepfaune.table_rows(event, language="fr", threshold=0.2)[0]
    assert (row["prediction"], row["top1"]) == ("ecureuil", "chevre")
    english = deepfaune.table_rows(event, language="en", threshold=0.2)[0]
    assert (english["prediction"], english["top1"]) == ("squirrel", "goat")


def test_deepfaune_table_as_excel(tmp_path):
    from openpyxl import load_workbook

    append_csv(
        tmp_path / "t.csv",
        deepfaune.COLUMNS,
        [{"filename": "a.jpg", "seqnum": 3, "score": 0.5, "prediction": "cerf", "count": ""}],
        header=True,
    )
    deepfaune.csv_to_xlsx(tmp_path / "t.csv", tmp_path / "t.xlsx")
    sheet = load_workbook(tmp_path / "t.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:8] == (
        "filename",
        "date",
        "seqnum",
        "prediction",
        "score",
        "top1",
        "count",
        "humancount",
    )
    assert rows[1][:5] == ("a.jpg", None, 3, "cerf", 0.5)


def test_files_rewind_to_the_last_checkpoint(tmp_path):
    append_csv(tmp_path / "m.csv", ["a", "b"], [{"a": 1, "b": 2}], header=True)
    checkpoint = lengths(tmp_path, ["m.csv", "o.csv"])
    assert checkpoint == {"m.csv": len("a,b\n1,2\n"), "o.csv": 0}
    append_csv(tmp_path / "m.csv", ["a", "b"], [{"a": 3, "b": 4}])  # a chunk killed after this
    (tmp_path / "o.csv").write_text("half a ro")
    rewind(tmp_path, checkpoint)
    assert (tmp_path / "m.csv").read_text() == "a,b\n1,2\n" and (
        tmp_path / "o.csv"
    ).read_text() == ""


def test_json_arrays_are_assembled_from_lines(tmp_path):
    (tmp_path / "images.jsonl").write_text('{"id":1}\n{"id":2}\n')
    (tmp_path / "none.jsonl").write_text("")
    write_json_with_arrays(
        tmp_path / "out.json",
        {"info": {"é": 1}},
        {"images": tmp_path / "images.jsonl", "annotations": tmp_path / "none.jsonl"},
    )
    assert json.loads((tmp_path / "out.json").read_text()) == {
        "info": {"é": 1},
        "images": [{"id": 1}, {"id": 2}],
        "annotations": [],
    }


def test_a_folder_streams_as_a_zip(tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.jpg").write_bytes(bytes(range(256)) * 5000)
    (tmp_path / "media.csv").write_text("mediaID\n1\n")
    data = b"".join(zip_stream(tmp_path, block=4096))
    bundle = zipfile.ZipFile(io.BytesIO(data))
    assert bundle.testzip() is None and sorted(bundle.namelist()) == ["media.csv", "media/a.jpg"]
    assert bundle.read("media/a.jpg") == bytes(range(256)) * 5000
    assert bundle.getinfo("media/a.jpg").compress_type == zipfile.ZIP_STORED
    assert bundle.getinfo("media.csv").compress_type == zipfile.ZIP_DEFLATED
