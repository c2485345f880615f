"""The review desk in a real Chromium: an expert claims a sequence from a queue, flips through its
frames, sees the model's suggestions and labelled look-alikes, splits a frame off, draws a box and
labels from the keyboard."""

import datetime as dt

import pytest

from annotation.models import Annotation, ReviewTask, Taxon
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_announce, batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from inference.models import Prediction
from inference.services.selection import selection_batch_open
from tests import factories
from tests.browser.conftest import log_in
from tests.factories import write_jpeg

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]
T0 = dt.datetime(2024, 5, 1, 10, 0, 0)


def _ingest(org, camera, tmp_path, name: str, seed: int, seconds: int):
    batch = batch_open(organisation=org, uploader=None, deployment=camera)
    taken = (T0 + dt.timedelta(seconds=seconds)).strftime("%Y:%m:%d %H:%M:%S")
    path = write_jpeg(tmp_path / f"{name}.jpg", seed=seed, taken=taken, size=(160, 120))
    image = image_ingest(path=path, name=path.name, batch=batch, deployment=camera).image
    batch_announce(
        batch
    )  # queues the real pre-labelling job (run inline by the test settings' sync cluster)
    return image


@pytest.fixture
def desk(zero_shot, org, other_org, coordinator, tmp_path):
    """Real pre-labels (zero-shot EfficientNet-Lite0) on a 3-frame sequence and on labelled
    look-alikes, then a real selection batch that queues the sequence; an expert of every
    animal taxon."""
    version = zero_shot
    camera = deployment_get_or_create(organisation=org, name="Col du Lautaret")
    burst = [_ingest(org, camera, tmp_path, f"burst{i}", seed=1, seconds=2 * i) for i in range(3)]
    references = [
        _ingest(org, camera, tmp_path, f"ref{i}", seed=1, seconds=3600 * (i + 1)) for i in range(2)
    ]
    top = Prediction.objects.get(image=burst[0], version=version).taxon
    for (
        image
    ) in references:  # the same picture, labelled: the nearest look-alikes of the suggested taxon
        annotation_add(image=image, taxon=top, author=coordinator)
    selection_batch_open(user=None, strategy="margin", size=5)
    assert ReviewTask.objects.filter(sequence=burst[0].sequence).exists()
    factories.member("vera", other_org, "expert", taxa=list(Taxon.objects.filter(kind="animal")))
    return {"burst": burst, "references": references, "top": top, "camera": camera}


@pytest.fixture
def two_tasks(desk, org, tmp_path):
    _ingest(org, desk["camera"], tmp_path, "later", seed=7, seconds=86400)
    selection_batch_open(user=None, strategy="margin", size=5)
    assert ReviewTask.objects.count() == 2
    # vera reviews every taxon, so this pick went to its top taxon's queue: the test works them both
    # in triage
    ReviewTask.objects.update(queue_taxon=None)
    return desk


def test_expert_labels_a_sequence_from_the_keyboard(page, desk):
    burst, top = desk["burst"], desk["top"]
    log_in(page, "vera")
    page.goto("/review/")
    page.click("#queues button:has-text('triage')")
    page.wait_for_selector("#suggestions li")
    task = ReviewTask.objects.get(sequence=burst[0].sequence)
    shown_first = [image.pk for image in burst].index(task.image_id) + 1
    assert (
        page.inner_text("#frame-position") == f"{shown_first} / 3"
    )  # opens on the frame selection picked
    assert top.name_en in page.inner_text("#suggestions li:first-child")
    page.wait_for_selector("#references img")
    assert page.locator("#references img").count() == 2

    page.click("#strip img[data-index='0']")
    page.keyboard.press("ArrowLeft")  # from the first frame, left wraps round to the last
    assert page.inner_text("#frame-position") == "3 / 3"
    page.keyboard.press("x")
    assert "frame 3 only" in page.inner_text("#mode")
    page.keyboard.press("e")  # the third frame is empty: split off
    assert "1 frame(s) split off" in page.inner_text("#split-note")

    page.keyboard.press("ArrowLeft")
    page.keyboard.press("b")
    viewer = page.locator("#frame").bounding_box()
    page.mouse.move(viewer["x"] + viewer["width"] * 0.25, viewer["y"] + viewer["height"] * 0.25)
    page.mouse.down()
    page.mouse.move(
        viewer["x"] + viewer["width"] * 0.75, viewer["y"] + viewer["height"] * 0.5, steps=4
    )
    page.mouse.up()
    assert page.is_visible("#boxes-drawn .box.drawn")

    page.keyboard.press("Enter")  # confirm the top suggestion for the other frames
    page.wait_for_function("document.getElementById('status').textContent.includes('Labelled ')")
    said = page.inner_text("#status")
    # the box counts one animal of the top taxon: its count, unless the expert typed another
    assert (
        f"{top.name_en} ×1 on 2 frames" in said and "empty on 1 frame" in said and "1 box" in said
    ), said
    labels = {
        a.image_id: a
        for a in Annotation.objects.filter(author__username="vera", box_w__isnull=True)
    }
    assert labels[burst[2].pk].taxon.slug == "empty"
    assert labels[burst[0].pk].taxon == labels[burst[1].pk].taxon == top
    assert labels[burst[0].pk].count == 1 and labels[burst[2].pk].count is None
    boxed = Annotation.objects.get(author__username="vera", box_w__isnull=False)
    assert (
        boxed.image_id == burst[1].pk
        and abs(boxed.box_x - 0.25) < 0.05
        and abs(boxed.box_w - 0.5) < 0.05
    )
    assert ReviewTask.objects.get(sequence=burst[0].sequence).state == "done"


def test_typing_a_taxon_and_marking_unsure(page, two_tasks):
    log_in(page, "vera")
    page.goto("/review/?queue=triage")
    page.wait_for_selector("#suggestions li")
    first = page.get_attribute("#work", "data-task")
    page.keyboard.press("u")
    page.wait_for_function("document.getElementById('status').textContent.includes('triage')")
    assert ReviewTask.objects.filter(verdicts__kind="unsure").count() == 1
    page.wait_for_function(f"document.getElementById('work').dataset.task !== {first!r}")
    page.wait_for_selector("#suggestions li")
    shown = ReviewTask.objects.get(claimed_by__username="vera", state="open")
    assert shown.verdicts.count() == 0
    page.keyboard.press("/")
    page.keyboard.type("wolf")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('status').textContent.includes('Labelled')")
    assert Annotation.objects.get(author__username="vera").taxon.slug == "wolf"
    assert ReviewTask.objects.get(pk=shown.pk).state == "done"
    page.wait_for_function(
        "document.getElementById('status').textContent.includes('queue is empty')"
    )
