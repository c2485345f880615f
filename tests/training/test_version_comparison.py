"""Comparing two versions on a round's test split scores them exactly as the round did: the same
items, the same classes, the same figures; a candidate that never ran on the pool is compared from
what the round kept."""

import json

import numpy as np
import pytest

from annotation.models import Image
from inference.engine.stored import to_f16_bytes
from inference.models import ModelVersion, Prediction
from inference.services.registry import default_version_ensure
from tests.training.test_rounds import labelled_pool, run_round
from training.services.compare import versions_compare
from training.services.rounds import round_dir
from training.services.scoring import LOGITS_FILE

pytestmark = pytest.mark.django_db

SHOWN = ("count", "accuracy", "macro_f1", "sequence_accuracy", "ece")


@pytest.fixture
def finished(org, settings):
    settings.FAUNE = {
        **settings.FAUNE,
        "AUTO_PROMOTE": False,
    }  # the candidate waits, as users saw it
    labelled_pool(
        org, default_version_ensure(), {"fox": 90, "wild-boar": 90, "roe-deer": 60}, seed=3
    )
    done = run_round()
    assert done.status == "done" and done.candidate.status == "candidate"
    return done


def _store_predictions(
    version: ModelVersion, logits: dict[int, np.ndarray], taxa: list[int]
) -> None:
    """What the pre-labelling job stores: float16 logits in the version's own class order."""
    order = list(version.classes.order_by("index").values_list("taxon_id", flat=True))
    rows = []
    for image_id, values in logits.items():
        own = np.full(len(order), -30.0)
        for column, taxon_id in enumerate(taxa):
            if taxon_id in order:
                own[order.index(taxon_id)] = values[column]
        rows.append(
            Prediction(
                image_id=image_id,
                version=version,
                category="animal",
                score=0.5,
                logits=to_f16_bytes(own),
            )
        )
    Prediction.objects.bulk_create(rows)


def test_the_candidate_against_production_gives_the_round_pages_figures(finished):
    assert not Prediction.objects.filter(
        version=finished.candidate
    ).exists()  # never ran on the pool
    result = versions_compare(training_round=finished, a=finished.parent, b=finished.candidate)
    test = finished.metrics["candidate"]["test"]
    assert result["images"] == result["test_images"] == test["count"] > 0 and not result["left_out"]
    for side, role in (("a", "production"), ("b", "candidate")):
        assert {k: result[side][k] for k in SHOWN} == {
            k: finished.metrics[role]["test"][k] for k in SHOWN
        }
    assert (
        result["difference"] == finished.metrics["comparison"]
    )  # the same paired bootstrap, B − A
    per_class = {row["class"]: row for row in test["per_class"] if row["support"]}
    assert {row["class"]: row["recall_b"] for row in result["per_class"]} == {
        name: row["recall"] for name, row in per_class.items()
    }


def test_rounds_frozen_before_classes_were_kept_are_scored_by_the_same_rule(finished):
    """An older round: no classes in labels.json, no saved logits. The classes are worked out again
    from the frozen labels, and the versions' stored predictions give the same figures."""
    folder = round_dir(finished.pk)
    with np.load(folder / LOGITS_FILE) as saved:
        kept = {
            role: dict(zip(saved["image_ids"].tolist(), saved[role], strict=True))
            for role in ("candidate", "production")
        }
    frozen = json.loads((folder / "labels.json").read_text())
    taxa = frozen.pop("classes")
    frozen.pop("y")
    (folder / "labels.json").write_text(json.dumps(frozen))
    (folder / LOGITS_FILE).unlink()
    Prediction.objects.filter(version=finished.parent).delete()
    _store_predictions(finished.parent, kept["production"], taxa)
    _store_predictions(finished.candidate, kept["candidate"], taxa)
    result = versions_compare(training_round=finished, a=finished.parent, b=finished.candidate)
    assert result["images"] == finished.metrics["candidate"]["test"]["count"]
    for side, role in (("a", "production"), ("b", "candidate")):
        assert result[side]["macro_f1"] == pytest.approx(
            finished.metrics[role]["test"]["macro_f1"], abs=1e-3
        )
        assert result[side]["source"] == "its stored predictions"


def test_items_one_side_lacks_are_left_out_of_both_and_counted(finished):
    other = ModelVersion.objects.create(
        name="older",
        version="1",
        backbone=finished.parent.backbone,
        head_kind="trained_head",
        artifacts={},
    )
    for index, row in enumerate(finished.candidate.classes.all()):
        other.classes.create(index=index, taxon=row.taxon)
    with np.load(round_dir(finished.pk) / LOGITS_FILE) as saved:
        ids, logits = saved["image_ids"].tolist(), saved["candidate"]
    taxa = list(finished.candidate.classes.order_by("index").values_list("taxon_id", flat=True))
    half = len(ids) // 2
    _store_predictions(other, dict(zip(ids[:half], logits[:half], strict=True)), taxa)
    result = versions_compare(training_round=finished, a=other, b=finished.candidate)
    assert half > 3 and result["images"] == result["a"]["count"] == result["b"]["count"] == half
    assert result["left_out"] == [{"version": "older 1", "count": len(ids) - half}]
    assert result["a"]["accuracy"] == result["b"]["accuracy"]  # the same logits on the same images


def test_a_version_that_says_none_of_the_rounds_classes_is_refused(finished):
    stranger = ModelVersion.objects.create(
        name="birds",
        version="1",
        backbone=finished.parent.backbone,
        head_kind="trained_head",
        artifacts={},
    )
    from tests.factories import taxon

    stranger.classes.create(index=0, taxon=taxon("bird"))
    result = versions_compare(training_round=finished, a=stranger, b=finished.candidate)
    assert result["images"] == 0 and "birds 1 says none of this round's classes" in result["detail"]


def test_the_compare_page_defaults_to_the_rounds_own_pair(client, partner, finished):
    client.force_login(partner)
    page = client.get(f"/rounds/{finished.pk}/compare/")
    result = page.context["result"]
    assert page.context["chosen"] == {"a": finished.parent, "b": finished.candidate}
    assert result["b"]["macro_f1"] == finished.metrics["candidate"]["test"]["macro_f1"]
    assert f"same {result['images']} test images" in page.content.decode()
    assert Image.objects.count() > result["images"]  # only the test split is scored
