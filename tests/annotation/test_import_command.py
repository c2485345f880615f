"""`manage.py import_images` over the three layouts, generated here so the tests need nothing
from outside."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Annotation, Deployment, Image, Sequence, Taxon
from tests.factories import write_jpeg

pytestmark = pytest.mark.django_db


def run_import(*args: str) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_images", *args, stdout=out, stderr=err)
    lines = out.getvalue().strip().splitlines()
    return json.loads(lines[-1]), out.getvalue() + err.getvalue()


def test_plain_folder_subfolders_become_deployments_and_names_may_have_spaces(tmp_path):
    write_jpeg(tmp_path / "card/Col du Lautaret/IMG 0001.JPG", taken="2024:05:01 10:00:00", seed=1)
    write_jpeg(tmp_path / "card/Col du Lautaret/IMG 0002.JPG", taken="2024:05:01 10:00:05", seed=2)
    write_jpeg(tmp_path / "card/Bois noir/IMG 0001.JPG", taken="2024:05:01 10:00:05", seed=3)
    (tmp_path / "card/Bois noir/notes.txt").write_text("battery low")
    counts, output = run_import(str(tmp_path / "card"), "--organisation", "Nouveau Parc")
    assert counts == {"imported": 3, "duplicates": 0, "rejected": 1, "sequences": 2, "labelled": 0}
    assert "Created organisation 'Nouveau Parc'" in output and "notes.txt" in output
    assert set(Deployment.objects.values_list("name", flat=True)) == {
        "Col du Lautaret",
        "Bois noir",
    }


def test_running_twice_counts_duplicates(tmp_path):
    write_jpeg(tmp_path / "card/a.jpg")
    run_import(str(tmp_path / "card"), "--organisation", "P")
    counts, _ = run_import(str(tmp_path / "card"), "--organisation", "P")
    assert counts["duplicates"] == 1 and counts["imported"] == 0 and Image.objects.count() == 1


def test_class_folders_in_french_or_english_become_labels(tmp_path):
    write_jpeg(tmp_path / "set/StationA/Sanglier/1.jpg", seed=1)
    write_jpeg(tmp_path / "set/StationA/roe_deer/2.jpg", seed=2)
    write_jpeg(tmp_path / "set/StationB/Renard/3.jpg", seed=3)
    counts, output = run_import(str(tmp_path / "set"), "--organisation", "P", "--format", "classes")
    assert counts["imported"] == 3 and counts["labelled"] == 3
    labels = dict(Annotation.objects.values_list("image__original_name", "taxon__slug"))
    assert labels == {
        "StationA/Sanglier/1.jpg": "wild-boar",
        "StationA/roe_deer/2.jpg": "roe-deer",
        "StationB/Renard/3.jpg": "fox",
    }
    assert set(Deployment.objects.values_list("name", flat=True)) == {"StationA", "StationB"}
    assert "as classes" in output


def test_auto_detects_class_folders(tmp_path):
    write_jpeg(tmp_path / "set/blaireau/1.jpg", seed=1)
    write_jpeg(tmp_path / "set/loup/2.jpg", seed=2)
    counts, output = run_import(str(tmp_path / "set"), "--organisation", "P")
    assert counts["labelled"] == 2 and "as classes" in output


def test_unknown_classes_stop_the_import_with_their_names_counts_and_suggestions(tmp_path):
    write_jpeg(tmp_path / "set/Sanglier/1.jpg", seed=1)
    write_jpeg(tmp_path / "set/Okapi/2.jpg", seed=2)
    write_jpeg(tmp_path / "set/Okapi/4.jpg", seed=4)
    write_jpeg(tmp_path / "set/Quokka/3.jpg", seed=3)
    write_jpeg(tmp_path / "set/chevreuils/5.jpg", seed=5)
    with pytest.raises(CommandError) as stopped:
        run_import(str(tmp_path / "set"), "--organisation", "P", "--format", "classes")
    message = str(stopped.value)
    assert "3 class name(s) need a taxon: “Okapi” (2), “Quokka” (1), “chevreuils” (1)" in message
    assert "Sanglier (1): wild-boar (French name “sanglier”)" in message
    assert (
        "chevreuils (1): no taxon yet; suggested roe-deer (plural of a name “chevreuil”)" in message
    )
    assert Image.objects.count() == 0 and not Taxon.objects.filter(name_en="Okapi").exists()


def test_map_and_mapping_file_decide_the_classes_and_are_kept_on_the_batch(tmp_path):
    from annotation.models import UploadBatch

    write_jpeg(tmp_path / "set/Okapi/1.jpg", seed=1)
    write_jpeg(tmp_path / "set/chevreuils/2.jpg", seed=2)
    write_jpeg(tmp_path / "set/Quokka/3.jpg", seed=3)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "Okapi": {
                    "name_en": "okapi",
                    "name_fr": "okapi",
                    "scientific_name": "Okapia johnstoni",
                },
                "Quokka": None,
            }
        )
    )
    counts, output = run_import(
        str(tmp_path / "set"),
        "--organisation",
        "P",
        "--format",
        "classes",
        "--mapping",
        str(mapping),
        "--map",
        "chevreuils=chevreuil",
    )
    assert counts["imported"] == 3 and counts["labelled"] == 2 and "Created taxon 'okapi'" in output
    assert Taxon.objects.get(name_en="okapi").scientific_name == "Okapia johnstoni"
    labels = dict(Annotation.objects.values_list("image__original_name", "taxon__slug"))
    assert labels == {
        "Okapi/1.jpg": "okapi",
        "chevreuils/2.jpg": "roe-deer",
    }  # Quokka: stored without a label
    assert UploadBatch.objects.get().class_mapping == {
        "Okapi": "okapi",
        "Quokka": None,
        "chevreuils": "roe-deer",
    }


def test_a_mapping_naming_no_class_or_no_taxon_is_refused_before_anything_is_stored(tmp_path):
    write_jpeg(tmp_path / "set/Okapi/1.jpg", seed=1)
    with pytest.raises(CommandError, match="The import has no class named 'Zebra'"):
        run_import(
            str(tmp_path / "set"),
            "--organisation",
            "P",
            "--format",
            "classes",
            "--map",
            "Zebra=fox",
        )
    with pytest.raises(CommandError, match="Unknown taxon 'licorne'"):
        run_import(
            str(tmp_path / "set"),
            "--organisation",
            "P",
            "--format",
            "classes",
            "--map",
            "Okapi=licorne",
        )
    assert Image.objects.count() == 0


def test_create_taxa_adds_the_unknown_classes(tmp_path):
    write_jpeg(tmp_path / "set/Okapi/1.jpg", seed=1)
    counts, output = run_import(
        str(tmp_path / "set"), "--organisation", "P", "--format", "classes", "--create-taxa"
    )
    assert counts["labelled"] == 1 and Taxon.objects.filter(name_en="Okapi").exists()
    assert "Created taxon 'Okapi'" in output


def _coco(tmp_path, images, annotations, categories):
    root = tmp_path / "coco"
    root.mkdir(exist_ok=True)
    (root / "dataset.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return root


def test_coco_boxes_dates_locations_and_sequence_ids(tmp_path):
    root = tmp_path / "coco"
    write_jpeg(root / "img/a.jpg", size=(200, 100), seed=1)
    write_jpeg(root / "img/b.jpg", size=(200, 100), seed=2)
    write_jpeg(root / "img/c.jpg", size=(200, 100), seed=3)
    images = [
        {
            "id": 1,
            "file_name": "img/a.jpg",
            "width": 200,
            "height": 100,
            "datetime": "2020-01-01 00:00:00",
            "location": "site-7",
            "seq_id": "S1",
        },
        {
            "id": 2,
            "file_name": "img/b.jpg",
            "width": 200,
            "height": 100,
            "datetime": "2020-01-01 03:00:00",
            "location": "site-7",
            "seq_id": "S1",
        },
        {"id": 3, "file_name": "img/c.jpg", "width": 200, "height": 100, "location": "site-7"},
        {"id": 4, "file_name": "img/missing.jpg", "width": 200, "height": 100},
    ]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 5, "bbox": [20, 10, 100, 50]},
        {"id": 2, "image_id": 2, "category_id": 5, "bbox": [0, 0, 10, 10]},
        {"id": 3, "image_id": 3, "category_id": 0},
    ]
    _coco(tmp_path, images, annotations, [{"id": 0, "name": "empty"}, {"id": 5, "name": "red_fox"}])
    counts, output = run_import(str(root), "--organisation", "P")
    assert counts == {"imported": 3, "duplicates": 0, "rejected": 1, "sequences": 2, "labelled": 3}
    assert "missing on disk" in output
    box = Annotation.objects.get(image__original_name="img/a.jpg")
    assert box.taxon.slug == "fox" and (box.box_x, box.box_y, box.box_w, box.box_h) == (
        0.1,
        0.1,
        0.5,
        0.5,
    )
    assert (
        Sequence.objects.get(external_id="S1").images.count() == 2
    )  # seq_id wins over the 3-hour gap
    assert Annotation.objects.get(image__original_name="img/c.jpg").taxon.slug == "empty"
    assert Image.objects.get(original_name="img/a.jpg").deployment.name == "site-7"


def test_coco_paths_escaping_the_folder_are_refused(tmp_path):
    write_jpeg(tmp_path / "outside.jpg")
    root = _coco(tmp_path, [{"id": 1, "file_name": "../outside.jpg"}], [], [])
    counts, output = run_import(str(root), "--organisation", "P", "--format", "coco")
    assert counts["rejected"] == 1 and "outside the dataset folder" in output


def test_a_coco_name_no_disk_can_hold_is_refused_as_missing_and_a_bom_is_read(tmp_path):
    write_jpeg(tmp_path / "coco/a.jpg", seed=1)
    images = [
        {"id": 1, "file_name": "a.jpg"},
        {"id": 2, "file_name": "x" * 300 + ".jpg"},  # over the file system's 255 bytes
    ]
    root = _coco(tmp_path, images, [], [{"id": 1, "name": "fox"}])
    index = root / "dataset.json"
    index.write_bytes(b"\xef\xbb\xbf" + index.read_bytes())  # as Windows tools write it
    counts, output = run_import(str(root), "--organisation", "P", "--format", "coco")
    assert counts["imported"] == 1 and counts["rejected"] == 1 and "missing on disk" in output


def test_sequence_ids_longer_than_their_column_stay_apart(tmp_path):
    start = "camera-7/" + "s" * 250
    images = [
        {"id": 1, "file_name": "a.jpg", "seq_id": start + "-1"},
        {"id": 2, "file_name": "b.jpg", "seq_id": start + "-2"},
        {"id": 3, "file_name": "c.jpg", "seq_id": start + "-2"},
    ]
    for seed, name in enumerate("abc"):
        write_jpeg(tmp_path / "coco" / f"{name}.jpg", seed=seed)
    root = _coco(tmp_path, images, [], [])
    counts, _ = run_import(str(root), "--organisation", "P", "--format", "coco")
    assert counts["imported"] == 3 and counts["sequences"] == 2
    stored = sorted(Sequence.objects.values_list("external_id", flat=True))
    assert all(len(key) == 200 and key.startswith("camera-7/") for key in stored)


def test_broken_coco_file_is_a_clear_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/x.json").write_text('{"images": [ oops "categories"')
    with pytest.raises(CommandError, match="not a readable COCO"):
        run_import(str(tmp_path / "d"), "--organisation", "P", "--format", "coco")


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run_import(str(tmp_path / "nope"), "--organisation", "P")


def test_maxlag_option_groups_sequences(tmp_path):
    write_jpeg(tmp_path / "c/a.jpg", taken="2024:05:01 10:00:00", seed=1)
    write_jpeg(tmp_path / "c/b.jpg", taken="2024:05:01 10:01:00", seed=2)
    counts, _ = run_import(str(tmp_path / "c"), "--organisation", "P", "--maxlag", "120")
    assert counts["sequences"] == 1
