"""Several animals in one sequence: boxes, each with its taxon, and per taxon a count and Camtrap
DP's life stage, sex and behaviour; the frames' own labels stay the ones in force. A partner's
correction task carries the label it checks, which the desk offers first."""

import importlib

import pytest
from django.apps import apps

from annotation.models import Annotation, Image, ReviewTask
from annotation.services.annotations import annotation_add
from annotation.services.review import ReviewItem, review_tasks_create
from tests.annotation.test_review import _frames, claim, label
from tests.factories import taxon

pytestmark = pytest.mark.django_db


@pytest.fixture
def burst(org, tmp_path):
    frames = _frames(org, tmp_path, "herd", 2)
    review_tasks_create(items=[ReviewItem(frames[0], None, "undefined", 0.5)], origin="test")
    return frames


def test_boxes_with_their_taxa_counts_and_details_are_kept(burst, expert):
    task = claim(expert).json()
    boxes = [
        {"frame": burst[0].pk, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2},
        {"frame": burst[0].pk, "x": 0.5, "y": 0.1, "w": 0.2, "h": 0.2, "taxon": None},
        {"frame": burst[0].pk, "x": 0.1, "y": 0.6, "w": 0.3, "h": 0.3, "taxon": "fox"},
    ]
    observations = [
        {
            "taxon": "wild-boar",
            "count": 2,
            "life_stage": "juvenile",
            "sex": "",
            "behavior": "rooting",
        },
        {"taxon": "fox", "count": 1, "life_stage": "adult", "sex": "female"},
    ]
    answer = label(
        expert, task["id"], {"taxon": "wild-boar", "boxes": boxes, "observations": observations}
    )
    assert answer.status_code == 201, answer.json()
    assert (
        answer.json()["saved"]["summary"]
        == "Labelled wild boar ×2 on 2 frames; fox ×1 also seen; 3 boxes."
    )
    sequence_label = Annotation.objects.get(
        sequence_id=burst[0].sequence_id, taxon__slug="wild-boar"
    )
    assert (sequence_label.count, sequence_label.life_stage, sequence_label.behavior) == (
        2,
        "juvenile",
        "rooting",
    )
    fox = Annotation.objects.get(
        sequence_id=burst[0].sequence_id, taxon__slug="fox"
    )  # an animal no frame is named by
    assert (fox.count, fox.life_stage, fox.sex) == (1, "adult", "female")
    boxed = Annotation.objects.filter(image=burst[0], box_w__isnull=False).order_by(
        "box_x", "box_y"
    )
    assert [(a.taxon.slug, a.box_x) for a in boxed] == [
        ("wild-boar", 0.1),
        ("fox", 0.1),
        ("wild-boar", 0.5),
    ]
    for frame in Image.objects.filter(
        pk__in=[f.pk for f in burst]
    ):  # the frames stay wild boar, the label in force
        assert frame.current_label_id == sequence_label.pk


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"observations": [{"taxon": "fox", "life_stage": "old"}]}, "life_stage"),
        ({"observations": [{"taxon": "fox", "count": 0}]}, "count"),
        ({"observations": [{"taxon": "fox"}, {"taxon": "renard"}]}, "once"),
        (
            {"boxes": [{"frame": 10**9, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]},
            "not in this task's sequence",
        ),
        ({"boxes": [{"frame": 1, "x": 0.9, "y": 0.1, "w": 0.2, "h": 0.2}]}, "edge"),
        (
            {"boxes": [{"frame": 1, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "taxon": "unicorn"}]},
            "unicorn",
        ),
    ],
)
def test_bad_details_are_refused_and_label_nothing(burst, expert, change, said):
    task = claim(expert).json()
    for box in change.get("boxes", []):
        box["frame"] = burst[0].pk if box["frame"] == 1 else box["frame"]
    answer = label(expert, task["id"], {"taxon": "fox", **change})
    assert answer.status_code == 400 and said in str(answer.json()), answer.json()
    assert not Annotation.objects.exists() and ReviewTask.objects.get(pk=task["id"]).state == "open"


def test_a_partner_correction_task_carries_the_label_it_checks(org, tmp_path, partner, coordinator):
    from inference.services.corrections import _check_item

    frames = _frames(org, tmp_path, "hog", 1, seed=40)
    label_ = annotation_add(
        image=frames[0], taxon=taxon("hedgehog"), author=partner, whole_sequence=True
    )

    class Said:  # what the model said: dog at 0.05
        taxon, category, score = taxon("dog"), "animal", 0.05

    item = _check_item(label_, frames[0], Said(), frozenset({taxon("hedgehog").pk}))
    task = review_tasks_create(items=[item], origin="correction")[0]
    assert task.checks_label == label_
    data = claim(coordinator, taxon("hedgehog").pk).json()
    assert data["reason"] == "partner correction to hedgehog; the model said dog (0.05)"
    assert (
        data["checks_label"]["taxon"]["slug"] == "hedgehog"
        and data["checks_label"]["author"] == "paula"
    )


def test_the_migration_links_old_correction_tasks_to_the_partner_label(
    org, tmp_path, partner, coordinator
):
    frames = _frames(org, tmp_path, "old", 1, seed=60)
    partner_label = annotation_add(image=frames[0], taxon=taxon("hedgehog"), author=partner)
    task = review_tasks_create(
        items=[ReviewItem(frames[0], taxon("hedgehog"), "partner correction", 0.9)],
        origin="correction",
    )[0]
    annotation_add(
        image=frames[0], taxon=taxon("fox"), author=partner
    )  # a later label: not what was checked
    migration = importlib.import_module("annotation.migrations.0011_review_task_checks_label")
    migration.link_partner_corrections(apps, None)
    assert ReviewTask.objects.get(pk=task.pk).checks_label == partner_label
