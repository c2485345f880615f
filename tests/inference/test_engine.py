"""Engine code on tiny tensors and arrays: no database."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from faune_platform.boxes import Box
from inference.engine.aggregate import FrameResult, aggregate_sequence, class_probabilities
from inference.engine.backbones import (
    CheckpointError,
    create_timm_model,
    load_deepfaune_checkpoint,
    load_efficientnet_lite0,
    load_timm_checkpoint,
)
from inference.engine.detections import DetectionFileError, YoloDetector, read_megadetector_json
from inference.engine.preprocess import CropRequest, load_crop
from inference.engine.similarity import VectorIndex
from inference.engine.specs import BackboneSpec
from inference.engine.zero_shot import IMAGENET_TO_TAXON, imagenet_to_taxa, zero_shot_slugs

TINY_VIT = BackboneSpec(timm_name="vit_small_patch14_dinov2.lvd142m", input_size=56)


def test_sequence_of_animal_frames_averages_logits():
    frames = [
        FrameResult("animal", np.array([2.0, 0.0, 0.0])),
        FrameResult("animal", np.array([0.0, 1.0, 0.0])),
        FrameResult("empty", None),
    ]
    verdict = aggregate_sequence(frames, threshold=0.5)
    assert verdict.category == "animal" and verdict.class_index == 0 and not verdict.undefined
    assert verdict.top[0][0] == 0 and abs(sum(p for _, p in verdict.top) - 1) < 1e-6


def test_low_score_is_undefined_but_keeps_its_top_class():
    verdict = aggregate_sequence([FrameResult("animal", np.array([0.2, 0.1, 0.0]))], threshold=0.8)
    assert verdict.undefined and verdict.class_index == 0


def test_temperature_softens_scores():
    logits = np.array([3.0, 0.0])
    assert (
        class_probabilities(logits, temperature=3.0)[0]
        < class_probabilities(logits, temperature=1.0)[0]
    )


# Four frames of one sequence, classes (A, B, C). The three ways of pooling frames disagree on them:
# - mean of logits (DeepFaune): A, since A's logits are never very negative while B's and C's
#   once are;
# - mean of probabilities: B, which three frames prefer moderately (p = 0.62 each);
# - the single most confident frame: C (p = 0.993 on the first frame).
DISAGREEING_FRAMES = np.array(
    [[15.0, -30.0, 20.0], [1.0, 1.5, -30.0], [1.0, 1.5, -30.0], [1.0, 1.5, -30.0]]
)


def _softmax_by_hand(logits: list[float]) -> list[float]:
    exps = [math.exp(value) for value in logits]
    return [value / sum(exps) for value in exps]


def test_sequence_verdict_is_the_mean_of_logits_not_of_probabilities_nor_the_best_frame():
    per_frame = [_softmax_by_hand(list(row)) for row in DISAGREEING_FRAMES]
    mean_of_probabilities = np.mean(per_frame, axis=0)
    best_frame = per_frame[int(np.argmax([max(p) for p in per_frame]))]
    assert (int(np.argmax(mean_of_probabilities)), int(np.argmax(best_frame))) == (
        1,
        2,
    )  # the rivals' verdicts
    frames = [FrameResult("animal", row) for row in DISAGREEING_FRAMES] + [
        FrameResult("empty", None)
    ]
    verdict = aggregate_sequence(frames, threshold=0.8)
    expected = _softmax_by_hand([4.5, -6.375, -17.5])  # the column means of DISAGREEING_FRAMES
    assert verdict.class_index == 0 and not verdict.undefined
    assert verdict.score == pytest.approx(expected[0], rel=1e-9)
    assert [i for i, _ in verdict.top] == [0, 1, 2]
    assert [p for _, p in verdict.top] == pytest.approx(expected, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("temperature", [1.0, 4.0, 10.0])
def test_temperature_divides_the_mean_logits_before_the_softmax(temperature):
    frames = [FrameResult("animal", row) for row in DISAGREEING_FRAMES]
    verdict = aggregate_sequence(frames, temperature=temperature, threshold=0.8)
    expected = _softmax_by_hand([4.5 / temperature, -6.375 / temperature, -17.5 / temperature])
    assert verdict.class_index == 0
    assert verdict.score == pytest.approx(expected[0], rel=1e-9)
    assert [p for _, p in verdict.top] == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert verdict.undefined == (expected[0] < 0.8)  # T = 10 softens 0.99998 to 0.69: undefined


def test_a_warmer_temperature_lowers_the_sequence_score():
    frames = [FrameResult("animal", row) for row in DISAGREEING_FRAMES]
    scores = [aggregate_sequence(frames, temperature=t).score for t in (1.0, 4.0, 10.0)]
    assert scores[0] > 0.9999 > scores[1] > 0.9 > 0.8 > scores[2] > 0.6


def test_all_empty_is_empty_and_people_win_by_majority():
    assert aggregate_sequence([FrameResult("empty", None)] * 3).category == "empty"
    frames = [FrameResult("human", None), FrameResult("human", None), FrameResult("vehicle", None)]
    assert aggregate_sequence(frames).category == "human"


def test_zero_shot_mapping_sums_imagenet_classes_and_keeps_the_remainder():
    logits = np.full(1000, -20.0)
    logits[IMAGENET_TO_TAXON["fox"][0]] = 5.0
    mapped = imagenet_to_taxa(logits[None, :], ["fox", "badger"])[0]
    assert np.exp(mapped[0]) > 0.99 and np.exp(mapped[1]) < 0.01
    jeep_only = np.full(1000, -20.0)
    jeep_only[609] = 5.0
    assert (
        np.exp(imagenet_to_taxa(jeep_only[None, :], ["fox"])[0][0]) < 0.01
    )  # no mass moved onto fox


# ImageNet-1k indices with a word of their official name (checked against timm's own ImageNet class
# list, so a table shifted by one, or built from another class order, fails) and the taxon each must
# land on.
KNOWN_IMAGENET_CLASSES = [
    (277, "red fox", "fox"),
    (280, "grey fox", "fox"),
    (341, "hog", "wild-boar"),
    (342, "wild boar", "wild-boar"),
    (294, "brown bear", "bear"),
    (295, "American black bear", "bear"),
    (362, "badger", "badger"),
    (287, "lynx", "lynx"),
    (269, "timber wolf", "wolf"),
    (331, "hare", "lagomorph"),
    (335, "fox squirrel", "squirrel"),
    (336, "marmot", "marmot"),
    (334, "hedgehog", "hedgehog"),
    (345, "ox", "cow"),
    (348, "ram", "sheep"),
    (349, "bighorn", "mouflon"),
    (350, "ibex", "ibex"),
    (339, "sorrel", "equid"),
    (358, "polecat", "mustelid"),
    (17, "jay", "bird"),
    (24, "great grey owl", "bird"),
    (281, "tabby", "cat"),
    (207, "golden retriever", "dog"),
    (333, "hamster", "micromammal"),
    (717, "pickup", "vehicle"),
]


def test_imagenet_class_table_names_what_we_think():
    from timm.data import ImageNetInfo

    names = ImageNetInfo()
    for index, words, _ in KNOWN_IMAGENET_CLASSES:
        assert words.lower() in names.index_to_description(index).lower(), index


@pytest.mark.parametrize(
    ("index", "taxon"), [(index, taxon) for index, _, taxon in KNOWN_IMAGENET_CLASSES]
)
def test_a_confident_imagenet_class_lands_on_its_taxon(index, taxon):
    slugs = zero_shot_slugs(set(IMAGENET_TO_TAXON))
    logits = np.zeros(1000)
    logits[index] = (
        12.0  # softmax puts 0.994 on it; a plain one-hot of 1 would leave the 118 dog breeds ahead
    )
    mapped = np.exp(imagenet_to_taxa(logits[None, :], slugs)[0])
    assert slugs[int(np.argmax(mapped))] == taxon and mapped.max() > 0.99


def test_no_imagenet_class_counts_for_two_taxa():
    indices = [index for table in IMAGENET_TO_TAXON.values() for index in table]
    assert len(indices) == len(set(indices)) and all(0 <= index < 1000 for index in indices)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("sample", "taxon", "least"),
    [
        # Both are clear daytime photos of a single whole animal. The trap photos of a fox, a wolf
        # and a rabbit in animl_southwest are not used: the ImageNet model calls the fox a corgi and
        # the others a fence or a pool table, which says nothing about the mapping. These two say
        # whether the package weights reach timm intact (scrambled weights give noise) and whether
        # the mapping is read at the right indices.
        (
            "ecoassist_test/images/bear.jpg",
            "bear",
            0.9,
        ),  # top ImageNet class: American black bear, 0.95 on bear
        (
            "animl_southwest/images/testdataowl.JPG",
            "bird",
            0.5,
        ),  # grouse, turnstone, ptarmigan: 0.71 on bird
    ],
)
def test_a_real_photo_lands_on_its_taxon_through_the_package_weights(
    shared_camtrap, sample, taxon, least
):
    from inference.engine.specs import EFFICIENTNET_LITE0

    model = load_efficientnet_lite0()
    pixels = load_crop(CropRequest(str(shared_camtrap / sample), None), EFFICIENTNET_LITE0)
    with torch.inference_mode():
        logits, _ = model(pixels[None])
    slugs = zero_shot_slugs(set(IMAGENET_TO_TAXON))
    mapped = np.exp(imagenet_to_taxa(logits.numpy(), slugs)[0])
    assert slugs[int(np.argmax(mapped))] == taxon and mapped.max() > least


def test_square_crop_is_centred_square_and_inside():
    left, top, right, bottom = Box(0.95, 0.0, 0.05, 0.5).square_around(1000, 500)
    assert right - left == bottom - top == 250 and (left, right) == (750, 1000)  # slid back inside


def test_load_crop_gives_a_normalised_tensor(tmp_path):
    path = tmp_path / "a.jpg"
    Image.new("RGB", (800, 600), (200, 100, 50)).save(path)
    tensor = load_crop(CropRequest(str(path), Box(0.25, 0.25, 0.5, 0.5)), BackboneSpec("x", 64))
    assert tensor.shape == (3, 64, 64) and tensor.dtype == torch.float32


def test_efficientnet_lite0_package_weights_map_onto_timm():
    model = load_efficientnet_lite0()
    logits, embedding = model(torch.zeros(2, 3, 224, 224))
    assert (
        logits.shape == (2, 1000) and embedding.shape == (2, 1280) and model.embedding_dim == 1280
    )


def _deepfaune_standin(tmp_path, num_classes: int = 5):
    """A randomly initialised small DINOv2 saved exactly as DeepFaune saves its classifier."""
    model = create_timm_model(TINY_VIT, num_classes=num_classes)
    path = tmp_path / "deepfaune-standin.pt"
    torch.save(
        {
            "args": {"backbone": TINY_VIT.timm_name, "num_classes": num_classes},
            "state_dict": {f"base_model.{k}": v for k, v in model.state_dict().items()},
        },
        path,
    )
    return path


def test_deepfaune_format_loads_and_runs(tmp_path):
    loaded = load_deepfaune_checkpoint(str(_deepfaune_standin(tmp_path)), TINY_VIT)
    logits, embedding = loaded.classifier(torch.zeros(1, 3, 56, 56))
    assert loaded.num_classes == 5 and logits.shape == (1, 5) and embedding.shape == (1, 384)


def test_corrupt_or_wrong_checkpoints_say_why(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x04 definitely not torch")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_deepfaune_checkpoint(str(corrupt))
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="expected a dict with 'args' and 'state_dict'"):
        load_deepfaune_checkpoint(str(plain))
    wrong = tmp_path / "wrong.pt"
    state = torch.load(_deepfaune_standin(tmp_path), weights_only=True)
    state["args"]["num_classes"] = 7
    torch.save(state, wrong)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_deepfaune_checkpoint(str(wrong), TINY_VIT)


def test_timm_state_dict_reads_its_class_count(tmp_path):
    model = create_timm_model(TINY_VIT, num_classes=3)
    path = tmp_path / "timm.pt"
    torch.save(model.state_dict(), path)
    assert load_timm_checkpoint(str(path), TINY_VIT).num_classes == 3


def test_exact_and_ivf_indexes_agree_on_neighbours():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 32))
    vectors = (centres[rng.integers(0, 20, 4000)] + rng.normal(scale=0.3, size=(4000, 32))).astype(
        np.float32
    )
    ids = np.arange(10, 4010)
    exact = VectorIndex.build(ids, vectors, exact_limit=10**6)
    approximate = VectorIndex.build(ids, vectors, exact_limit=100)
    assert (exact.kind, approximate.kind) == ("exact", "ivf-sq8")
    truth = exact.search(vectors[:50], 10).ids
    found = approximate.search(vectors[:50], 10).ids
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)])
    assert recall > 0.8 and truth[0][0] == 10


def test_index_round_trips_and_re_adding_replaces(tmp_path):
    index = VectorIndex.exact(4)
    index.add(np.array([1, 2]), np.eye(4, dtype=np.float32)[:2])
    index.add(np.array([1]), np.eye(4, dtype=np.float32)[2:3])
    index.save(tmp_path / "x.index")
    loaded = VectorIndex.load(tmp_path / "x.index")
    assert loaded.size == 2 and loaded.search(np.eye(4, dtype=np.float32)[2:3], 1).ids[0][0] == 1


def test_megadetector_json_is_read_and_bad_files_refused(tmp_path):
    path = tmp_path / "md.json"
    path.write_text(
        json.dumps(
            {
                "images": [
                    {
                        "file": "cam1\\IMG_1.JPG",
                        "detections": [
                            {"category": "1", "conf": 0.9, "bbox": [0.1, 0.2, 0.3, 0.4]},
                            {"category": "2", "conf": 0.5, "bbox": [0, 0, 0.1, 0.1]},
                        ],
                    },
                    {"file": "cam1/IMG_2.JPG", "detections": []},
                    {"file": "broken.jpg", "failure": "unreadable"},
                ],
                "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
            }
        )
    )
    found = read_megadetector_json(path)
    assert set(found) == {"cam1/IMG_1.JPG", "cam1/IMG_2.JPG"}
    assert [d.category for d in found["cam1/IMG_1.JPG"]] == ["animal", "person"]
    path.write_text("[1, 2")
    with pytest.raises(DetectionFileError):
        read_megadetector_json(path)


@pytest.mark.slow
def test_yolo_detector_runs_a_tiny_random_model_from_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path))
    from inference.engine.detections import import_yolo

    YOLO = import_yolo()  # noqa: N806

    model = YOLO("yolov8n.yaml")
    model.model.names = {0: "animal", 1: "person", 2: "vehicle"}
    weights = tmp_path / "tiny-detector.pt"
    torch.save({"model": model.model, "train_args": {}}, weights)
    detector = YoloDetector(str(weights), image_size=64, min_confidence=0.0)
    results = detector.detect([Image.new("RGB", (128, 96), (90, 120, 60))])
    assert len(results) == 1
    for found in results[0]:
        assert found.category in ("animal", "person", "vehicle") and all(
            0 <= v <= 1 for v in found.box.to_tuple()
        )


def test_importing_ultralytics_leaves_pillow_refusing_non_images(tmp_path):
    from annotation.ingest.media import MediaRejected
    from inference.engine.detections import import_yolo
    from tests.annotation.test_media import _probe

    import_yolo()
    with pytest.raises(MediaRejected, match="not an image or video"):
        _probe(tmp_path, b"plain text, not a picture", "fake.jpg")
