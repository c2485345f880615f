"""Browsing the pool in a real Chromium: thumbnails say what each image is and who said so (the
model's pre-labels looking different from labels), the filters survive paging, stored boxes sit
on the photo at any size, and the image page steps through the list it came from with links and
arrow keys."""

import datetime as dt
import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command

from annotation import views
from annotation.models import Annotation, Image
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_announce, batch_open
from annotation.services.ingest import IngestHints, IngestLabel, image_ingest
from annotation.services.organisations import deployment_get_or_create
from faune_platform.boxes import Box
from inference.models import Prediction
from tests import factories
from tests.browser.conftest import log_in
from tests.factories import taxon, write_jpeg

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


def ingest(
    camera, tmp_path, name: str, *, day: int, size=(160, 120), labels=(), announce=False
) -> Image:
    batch = batch_open(organisation=camera.organisation, uploader=None, deployment=camera)
    path = write_jpeg(
        tmp_path / f"{name}.jpg",
        seed=day * 7 + len(name),
        size=size,
        taken=dt.datetime(2024, 5, day, 10),
    )
    image = image_ingest(
        path=path,
        name=path.name,
        batch=batch,
        deployment=camera,
        hints=IngestHints(labels=tuple(labels)),
    ).image
    if announce:
        batch_announce(
            batch
        )  # queues the real pre-labelling job (run inline by the test settings' sync cluster)
    return image


def figure(page, image: Image):
    return page.locator(f"#thumbnails figure[data-image='{image.pk}']")


def query_of(url: str) -> dict:
    return {key: values[0] for key, values in parse_qs(urlparse(url).query).items()}


@pytest.fixture
def pool(zero_shot, settings, org, tmp_path):
    """Camera A: three images only the (real, zero-shot) model has pre-labelled, on May 1-3, and one
    a partner labelled; camera B: one imported with its label."""
    partner = factories.member("paula", org)
    a, b = (
        deployment_get_or_create(organisation=org, name=name)
        for name in ("Col du Lautaret", "Vallon")
    )
    model = [ingest(a, tmp_path, f"model{day}", day=day, announce=True) for day in (1, 2, 3)]
    settings.FAUNE = {**settings.FAUNE, "AFTER_INGEST_TASKS": []}
    fox = ingest(a, tmp_path, "fox", day=4)
    annotation_add(image=fox, taxon=taxon("fox"), author=partner, announce=False)
    imported = ingest(b, tmp_path, "imported", day=5, labels=[IngestLabel(taxon("badger"))])
    assert Prediction.objects.filter(image__in=model).count() == 3
    return {"a": a, "b": b, "model": model, "fox": fox, "imported": imported}


def test_thumbnails_say_who_labelled_them_and_filters_survive_paging(page, pool, monkeypatch):
    log_in(page, "paula")
    page.goto("/images/")
    assert page.inner_text("#image-count") == "5 images"
    assert page.inner_text(f"{figure_css(pool['fox'])} figcaption").startswith("fox partner")
    assert page.inner_text(f"{figure_css(pool['imported'])} figcaption").startswith("badger import")
    for image in pool["model"]:
        prediction = Prediction.objects.get(image=image)
        caption = figure(page, image).locator("figcaption")
        assert caption.locator(".label").inner_text() == prediction.taxon.name_en
        assert caption.locator(".model-score").inner_text() == f"model {prediction.score:.2f}"
    # the model's pre-labels look different from labels: a dashed frame and an italic name
    style = (
        "(el) => [getComputedStyle(el).borderTopStyle, "
        "getComputedStyle(el.querySelector('.label')).fontStyle]"
    )
    assert figure(page, pool["model"][0]).evaluate(style) == ["dashed", "italic"]
    assert figure(page, pool["fox"]).evaluate(style) == ["solid", "normal"]
    assert "Zero-shot model" in page.inner_text("#prelabel-legend")

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    page.select_option("select[name=deployment]", label="Col du Lautaret")
    page.select_option("select[name=source]", "model")
    page.click("#image-filters button[type=submit]")
    assert page.inner_text("#image-count") == "3 images"
    assert "page 1 of 2" in page.inner_text(".pager")
    first_page = {
        page.locator("#thumbnails figure").nth(i).get_attribute("data-image") for i in range(2)
    }
    page.click(".pager >> text=next →")
    assert "page 2 of 2" in page.inner_text(".pager")
    assert query_of(page.url) == {"deployment": str(pool["a"].pk), "source": "model", "page": "2"}
    assert (
        page.locator("select[name=source]").input_value() == "model"
    )  # the form still shows the filters
    [last] = [page.locator("#thumbnails figure").first.get_attribute("data-image")]
    assert {*first_page, last} == {str(image.pk) for image in pool["model"]}

    page.fill("input[name=taken_from]", "2024-05-02")
    page.fill("input[name=taken_to]", "2024-05-02")
    page.click("#image-filters button[type=submit]")
    assert page.inner_text("#image-count") == "1 image"
    assert page.locator("#thumbnails figure").first.get_attribute("data-image") == str(
        pool["model"][1].pk
    )

    response = page.goto("/images/?taken_from=2024-05-03&taken_to=2024-05-01")
    assert response.status == 400
    assert "The date range ends (2024-05-01) before it starts (2024-05-03)." in page.inner_text(
        "#filter-errors"
    )
    assert page.is_visible("#image-filters")  # the person can fix the filters right there
    assert page.locator("#thumbnails").count() == 0 and page.locator("#image-count").count() == 0


def figure_css(image: Image) -> str:
    return f"#thumbnails figure[data-image='{image.pk}']"


def box_matches(page, selector: str, fractions: tuple[float, float, float, float]) -> None:
    photo = page.locator("#photo img.main").bounding_box()
    box = page.locator(selector).bounding_box()
    x, y, w, h = fractions
    expected = (
        photo["x"] + x * photo["width"],
        photo["y"] + y * photo["height"],
        w * photo["width"],
        h * photo["height"],
    )
    found = (box["x"], box["y"], box["width"], box["height"])
    assert all(abs(a - b) <= 1.0 for a, b in zip(found, expected, strict=True)), (found, expected)


def test_stored_boxes_sit_on_the_photo_at_any_size(page, org, tmp_path):
    factories.member("paula", org)
    camera = deployment_get_or_create(organisation=org, name="Col du Lautaret")
    human = (0.1, 0.2, 0.3, 0.4)
    image = ingest(
        camera,
        tmp_path,
        "boxed",
        day=1,
        size=(640, 480),
        labels=[IngestLabel(taxon("fox"), Box(*human))],
    )
    detector = [0.55, 0.5, 0.4, 0.45]
    md = tmp_path / "md.json"
    md.write_text(
        json.dumps(
            {
                "images": [
                    {
                        "file": "boxed.jpg",
                        "detections": [
                            {"category": "1", "conf": 0.93, "bbox": detector},
                            {"category": "1", "conf": 0.01, "bbox": [0, 0, 1, 1]},
                        ],
                    }
                ]
            }
        )
    )
    call_command("import_detections", str(md))

    log_in(page, "paula")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/images/{image.pk}/")
    page.wait_for_selector(".box.detector")
    page.wait_for_function("document.querySelector('#photo img.main').complete")
    assert (
        page.locator(".box.detector").count() == 1
    )  # the 0.01 box is under the detection threshold
    assert page.inner_text(".box.human") == "fox · import"
    assert page.inner_text(".box.detector") == "animal 0.93"
    assert (
        page.inner_text("#detector-box-count") == "1" and page.inner_text("#human-box-count") == "1"
    )
    box_matches(page, ".box.human", human)
    box_matches(page, ".box.detector", tuple(detector))
    wide = page.locator("#photo img.main").bounding_box()["width"]

    page.set_viewport_size({"width": 640, "height": 900})
    assert page.locator("#photo img.main").bounding_box()["width"] < wide * 0.7
    box_matches(page, ".box.human", human)
    box_matches(page, ".box.detector", tuple(detector))

    page.keyboard.press("b")
    assert page.is_hidden(".box.human") and page.is_hidden(".box.detector")
    page.keyboard.press("b")
    assert page.is_visible(".box.human") and page.is_visible(".box.detector")


def test_previous_and_next_step_through_the_list_it_came_from(page, org, tmp_path):
    factories.member("paula", org)
    a, b = (
        deployment_get_or_create(organisation=org, name=name)
        for name in ("Col du Lautaret", "Vallon")
    )
    images = [ingest(a, tmp_path, f"a{day}", day=day) for day in (1, 2, 3)]
    ingest(b, tmp_path, "b1", day=4)  # newest of all, but on the other camera: never stepped to
    newest_first = images[::-1]

    log_in(page, "paula")
    page.goto(f"/images/?deployment={a.pk}&source=none")
    page.locator("#thumbnails figure a").first.click()
    page.wait_for_load_state()  # the page's keys work once its script has run
    assert page.url.endswith(f"/images/{newest_first[0].pk}/?deployment={a.pk}&source=none")
    assert page.inner_text("#browse-position") == "1 of 3"
    assert page.locator("#previous-image").count() == 0
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/images/{newest_first[1].pk}/?deployment={a.pk}&source=none")
    assert page.inner_text("#browse-position") == "2 of 3"
    page.click("#next-image")
    page.wait_for_url(f"**/images/{newest_first[2].pk}/?**")
    page.wait_for_load_state()
    assert page.locator("#next-image").count() == 0
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/images/{newest_first[1].pk}/?**")

    page.focus("#id_count")  # a field being typed in keeps its arrow keys
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    assert f"/images/{newest_first[1].pk}/" in page.url

    page.select_option("#id_taxon", label="fox")
    page.click("button:has-text('Save label')")
    page.wait_for_load_state()
    assert "Labelled fox on a2.jpg." in page.inner_text("[role=status]")  # the undo toast
    assert query_of(page.url) == {
        "deployment": str(a.pk),
        "source": "none",
    }  # still within the same list
    assert page.inner_text("#browse-position") == "no longer in this list (2 images)"
    assert Annotation.objects.filter(image=newest_first[1]).exists()
    page.keyboard.press("ArrowRight")  # its neighbours are still the list's
    page.wait_for_url(f"**/images/{newest_first[2].pk}/?**")
    assert page.inner_text("#browse-position") == "2 of 2"

    page.click("#back-to-list")
    assert page.locator("select[name=source]").input_value() == "none"
    assert page.locator("select[name=deployment]").input_value() == str(a.pk)
    assert page.inner_text("#image-count") == "2 images"
