"""The review desk as experts use it all day, in a real Chromium: the photo with nothing under it
and boxes on the animal at any zoom, zoom / pan / light for dark infrared frames, keys listed and
silent while typing, undo of the last verdicts, a partner's choice offered first, typed and new
taxa, several boxes and counts, and a taxon not in the list sent to the coordinators."""

import datetime as dt

import pytest

from annotation.models import Annotation, Image, ReviewTask, Taxon, TaxonProposal
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_announce, batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from annotation.services.review import ReviewItem, review_tasks_create
from annotation.services.taxa import taxon_create
from tests import factories
from tests.browser.conftest import log_in
from tests.factories import write_jpeg

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]
T0 = dt.datetime(2024, 5, 1, 22, 0, 0)


def _frames(
    org, tmp_path, name: str, count: int, *, size=(100, 75), seed: int = 3, seconds: int = 0
) -> list:
    camera = deployment_get_or_create(organisation=org, name=f"camera {name}")
    batch = batch_open(organisation=org, uploader=None, deployment=camera)
    frames = []
    for i in range(count):
        taken = (T0 + dt.timedelta(seconds=seconds + 2 * i)).strftime("%Y:%m:%d %H:%M:%S")
        path = write_jpeg(tmp_path / f"{name}{i}.jpg", seed=seed + i, taken=taken, size=size)
        frames.append(image_ingest(path=path, name=path.name, batch=batch, deployment=camera).image)
    batch_announce(batch)
    return frames


@pytest.fixture
def night(org, other_org, tmp_path):
    """Three 100x75 frames (the size of night infrared crops people complained about), in triage; an
    expert of every animal taxon. No pre-label: the desk says so, and experts type the taxon."""
    frames = _frames(org, tmp_path, "night", 3)
    review_tasks_create(items=[ReviewItem(frames[0], None, "margin pick", 0.5)], origin="test")
    factories.member("vera", other_org, "expert", taxa=list(Taxon.objects.filter(kind="animal")))
    return frames


def _open_task(page) -> None:
    log_in(page, "vera")
    page.goto("/review/?queue=triage")
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_function("document.getElementById('frame').naturalWidth > 0")


def _drag(page, box, start, end) -> None:
    """A drag from `start` to `end`, fractions of the element's bounding `box`."""
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=4)
    page.mouse.up()


def test_a_photo_has_no_player_under_it_and_boxes_stay_on_it_at_any_zoom(page, night):
    _open_task(page)
    assert page.is_visible("#frame") and not page.is_visible("#frame-video")
    photo, viewer = page.locator("#frame").bounding_box(), page.locator("#viewer").bounding_box()
    assert (
        abs(viewer["height"] - photo["height"]) <= 1 and photo["height"] > 200
    )  # upscaled, nothing below it
    assert abs(photo["width"] / photo["height"] - 100 / 75) < 0.01  # not squashed

    page.keyboard.press("b")
    _drag(page, photo, (0.25, 0.25), (0.75, 0.5))
    drawn = page.locator("#boxes-drawn .box").bounding_box()
    assert abs(drawn["x"] - (photo["x"] + 0.25 * photo["width"])) < 3
    assert abs(drawn["y"] - (photo["y"] + 0.25 * photo["height"])) < 3
    assert abs(drawn["height"] - 0.25 * photo["height"]) < 3

    page.keyboard.press("+")
    page.keyboard.press("+")
    zoomed = page.locator("#frame").bounding_box()
    assert abs(zoomed["width"] / photo["width"] - 1.5625) < 0.01
    assert (
        page.locator("#viewer").bounding_box() == viewer
    )  # the page does not move, the frame does
    moved = page.locator("#boxes-drawn .box").bounding_box()  # still on the same part of the photo
    assert abs((moved["x"] - zoomed["x"]) / zoomed["width"] - 0.25) < 0.01
    assert abs((moved["y"] - zoomed["y"]) / zoomed["height"] - 0.25) < 0.01
    assert "zoom 156%" in page.inner_text("#view-state")

    page.mouse.move(
        viewer["x"] + viewer["width"] / 2, viewer["y"] + viewer["height"] / 2
    )  # pan by dragging
    page.mouse.down()
    page.mouse.move(
        viewer["x"] + viewer["width"] / 2 - 80, viewer["y"] + viewer["height"] / 2 - 40, steps=4
    )
    page.mouse.up()
    panned = page.locator("#frame").bounding_box()
    assert (
        panned["x"] < zoomed["x"] - 40
        and panned["x"] + panned["width"] >= viewer["x"] + viewer["width"] - 1
    )

    page.keyboard.press(
        "b"
    )  # a box drawn on the zoomed frame is stored in fractions of the whole photo
    _drag(page, viewer, (0.4, 0.4), (0.6, 0.6))
    second = page.locator("#boxes-drawn .box").nth(1).bounding_box()
    expected_x = (viewer["x"] + 0.4 * viewer["width"] - panned["x"]) / panned["width"]
    assert abs((second["x"] - panned["x"]) / panned["width"] - expected_x) < 0.01
    page.keyboard.press("l")
    page.keyboard.press("c")
    assert "brightness(1.2) contrast(1.2)" in page.get_attribute("#frame", "style")
    assert "light 120%" in page.inner_text("#view-state")
    page.keyboard.press("0")
    assert page.inner_text("#view-state") == "" and page.locator("#frame").bounding_box() == photo

    page.keyboard.press("/")
    page.keyboard.type("wild boar")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('status').textContent.includes('Labelled')")
    stored = sorted(Annotation.objects.filter(box_w__isnull=False), key=lambda a: a.box_x)
    assert [round(a.box_x, 2) for a in stored] == [0.25, round(expected_x, 2)]
    assert (
        stored[1].box_w < 0.2
    )  # drawn a fifth of the viewer wide at 156%: a smaller share of the photo


def test_keys_are_listed_and_never_fire_while_typing(page, night):
    _open_task(page)
    assert "undo your last verdict" in page.inner_text("#keys-short")
    page.keyboard.press("?")
    assert page.is_visible("#help") and "stretch the frame's greys" in page.inner_text("#help")
    page.keyboard.press("Escape")
    assert not page.is_visible("#help")

    page.keyboard.press("o")  # count and details of the chosen taxon
    assert page.evaluate("document.activeElement.classList.contains('obs-count')")
    page.keyboard.type("3")
    page.keyboard.press("e")  # would be 'empty' outside a field
    page.keyboard.press("Enter")  # would confirm outside a field
    page.locator(".obs-behavior").first.click()
    page.keyboard.type("eating a hedge")  # e, a, h, d, g: all keys of the desk
    page.wait_for_timeout(300)
    assert page.input_value(".obs-behavior") == "eating a hedge"
    assert not Annotation.objects.exists() and page.inner_text("#frame-position") == "1 / 3"
    assert page.is_hidden("#propose") and page.inner_text("#view-state") == ""
    page.keyboard.press("Escape")  # leaves the field: keys work again
    page.keyboard.press("ArrowRight")
    assert page.inner_text("#frame-position") == "2 / 3"


def test_an_expert_undoes_the_last_verdict_and_gets_the_task_back(page, night, partner):
    annotation_add(
        image=night[0], taxon=Taxon.objects.get(slug="cow"), author=partner, whole_sequence=True
    )
    _open_task(page)
    task = page.get_attribute("#work", "data-task")
    page.keyboard.press("/")
    page.keyboard.type("roe deer")
    page.keyboard.press("Enter")
    page.wait_for_selector("#toast:not([hidden])")
    assert "Labelled roe deer on 3 frames." in page.inner_text("#toast")
    assert page.is_visible("#toast-undo")
    assert {Image.objects.get(pk=f.pk).current_taxon.slug for f in night} == {"roe-deer"}
    assert "Labelled roe deer on 3 frames." in page.inner_text("#recent")

    page.keyboard.press("z")
    page.wait_for_function("document.getElementById('toast-text').textContent.startsWith('Undone')")
    page.wait_for_selector("#work:not([hidden])")
    assert page.get_attribute("#work", "data-task") == task  # the task is back on the desk
    assert page.locator("#recent li.undone").count() == 1
    assert "cow by paula" in page.inner_text("#current-label")
    assert {Image.objects.get(pk=f.pk).current_taxon.slug for f in night} == {
        "cow"
    }  # as before the verdict
    held = ReviewTask.objects.get(pk=task)
    assert (held.state, held.claimed_by.username) == ("open", "vera")
    page.keyboard.press("z")  # nothing left to undo: said, nothing changes
    page.wait_for_function(
        "document.getElementById('toast-text').textContent.includes('Nothing left to undo')"
    )


def test_a_typed_split_leaves_the_field_empty_and_a_taxon_added_meanwhile_is_known(
    page, night, coordinator
):
    _open_task(page)
    page.keyboard.press("x")
    page.keyboard.press("/")
    page.keyboard.type("fox")
    page.keyboard.press("Enter")
    assert "1 frame(s) split off" in page.inner_text("#split-note")
    assert page.input_value("#taxon-search") == ""
    taxon_create(
        name_en="golden jackal", name_fr="chacal doré", created_by=coordinator
    )  # after the page loaded
    page.keyboard.press("/")
    page.keyboard.type("chacal doré")  # typed afresh, not appended to 'fox'
    assert page.input_value("#taxon-search") == "chacal doré"
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('status').textContent.includes('Labelled')")
    assert "golden jackal on 2 frames; fox on 1 frame" in page.inner_text("#status")
    assert [Image.objects.get(pk=f.pk).current_taxon.slug for f in night] == [
        "fox",
        "golden-jackal",
        "golden-jackal",
    ]


def test_several_boxes_each_with_its_taxon_and_counts(page, night):
    _open_task(page)
    photo = page.locator("#frame").bounding_box()
    for start, end in (
        ((0.1, 0.1), (0.3, 0.3)),
        ((0.5, 0.1), (0.7, 0.3)),
        ((0.1, 0.6), (0.4, 0.9)),
    ):
        page.keyboard.press("b")
        _drag(page, photo, start, end)
    page.keyboard.press("t")  # the last box's animal
    page.keyboard.type("fox")
    page.keyboard.press("Enter")
    page.wait_for_selector(".observation[data-slug='fox']")
    assert page.inner_text("#boxes-drawn .box:nth-child(3) .tag") == "3 fox"  # named on the frame
    assert page.get_attribute(".observation[data-slug='fox'] .obs-count", "placeholder") == "1"
    page.keyboard.press("Escape")
    page.select_option(".observation[data-slug='fox'] .obs-sex", "female")
    page.locator(".observation[data-main] .obs-stage").select_option("juvenile")
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    page.keyboard.type("wild boar")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('status').textContent.includes('Labelled')")
    said = page.inner_text("#status")
    assert "wild boar ×2 on 3 frames; fox ×1 also seen; 3 boxes" in said, (
        said
    )  # counts from the boxes
    boar = Annotation.objects.get(sequence_id=night[0].sequence_id, taxon__slug="wild-boar")
    fox = Annotation.objects.get(sequence_id=night[0].sequence_id, taxon__slug="fox")
    assert (boar.count, boar.life_stage, fox.count, fox.sex) == (2, "juvenile", 1, "female")
    boxes = Annotation.objects.filter(image=night[0], box_w__isnull=False).order_by(
        "box_y", "box_x"
    )
    assert [a.taxon.slug for a in boxes] == ["wild-boar", "wild-boar", "fox"]


def test_a_taxon_not_in_the_list_reaches_the_coordinators_with_its_frames(
    page, night, coordinator, browser, live_server
):
    _open_task(page)
    page.keyboard.press("p")
    assert page.is_visible("#propose")
    assert page.evaluate("document.activeElement.id") == "propose-name"
    page.keyboard.type("golden jackal")
    page.fill("#propose-scientific", "Canis aureus")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.getElementById('status').textContent.includes('Proposed the new taxon')"
    )
    assert page.is_hidden("#propose") and ReviewTask.objects.get().state == "proposed"

    desk = browser.new_context(base_url=live_server.url).new_page()
    log_in(desk, "cora")
    desk.goto("/review/")
    desk.click("#proposals-link")
    card = desk.locator(".proposal").first
    assert (
        "“golden jackal” Canis aureus" in card.inner_text()
        and "Proposed by vera" in card.inner_text()
    )
    assert card.locator(".strip img").count() == 3
    desk.wait_for_function(
        "[...document.querySelectorAll('.proposal .strip img')].every((i) => i.naturalWidth > 0)"
    )
    card.locator(".accept-new input[name=name_fr]").fill("chacal doré")
    card.locator(".accept-new button").click()
    assert "Accepted “golden jackal” as golden jackal: 3 frames labelled." in desk.inner_text(
        "main"
    )
    assert desk.is_visible("#no-proposals")
    assert {Image.objects.get(pk=f.pk).current_taxon.name_fr for f in night} == {"chacal doré"}
    assert TaxonProposal.objects.get().status == "accepted"
    desk.context.close()


@pytest.fixture
def partner_correction(zero_shot, org, other_org, partner, coordinator, tmp_path):
    """Real pre-labels (zero-shot EfficientNet-Lite0) on a 2-frame sequence and on two labelled
    look-alikes of the same picture; the partner says hedgehog where the model was unsure, which
    opens a correction check."""
    from inference.services.corrections import partner_corrections_route

    burst = _frames(org, tmp_path, "hog", 2, size=(160, 120), seed=1)
    looks = _frames(org, tmp_path, "ref", 2, size=(160, 120), seed=1, seconds=7200)
    hedgehog = Taxon.objects.get(slug="hedgehog")
    for (
        image
    ) in looks:  # labelled hedgehogs: what the desk shows as references of the partner's choice
        annotation_add(image=image, taxon=hedgehog, author=coordinator)
    org.check_corrections_below = 1.0
    org.save()
    label = annotation_add(
        image=burst[0], taxon=hedgehog, author=partner, whole_sequence=True, announce=False
    )
    factories.member("vera", other_org, "expert", taxa=list(Taxon.objects.filter(kind="animal")))
    assert partner_corrections_route(annotation_ids=[label.pk]) == 1
    return burst


def test_a_partner_correction_offers_the_partners_choice_first(page, partner_correction):
    task = ReviewTask.objects.get()
    assert task.queue_taxon.slug == "hedgehog" and "the model said" in task.reason
    log_in(page, "vera")
    page.goto("/review/")
    page.click("#queues button:has-text('hedgehog')")
    page.wait_for_selector("#suggestions li:nth-child(2)")
    first = page.inner_text("#suggestions li:first-child")
    assert "1. hedgehog" in first and "partner's choice (paula)" in first and "(Enter)" in first
    assert "hedgehog" not in page.inner_text(
        "#suggestions li:nth-child(2)"
    )  # then the model's own top
    assert page.inner_text("#prediction").startswith("Model:")
    page.wait_for_selector("#references img")
    assert page.inner_text("#references h3:first-of-type") == "hedgehog (partner's choice (paula))"
    assert page.locator("#references .strip").first.locator("img").count() == 2
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.getElementById('status').textContent.includes('Labelled hedgehog')"
    )
    label = Annotation.objects.get(author__username="vera")
    sequence = partner_correction[0].sequence_id
    assert (label.taxon.slug, label.source, label.sequence_id) == ("hedgehog", "expert", sequence)
