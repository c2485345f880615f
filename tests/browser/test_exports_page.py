"""The export page in a real Chromium: a link from another page pre-fills it, only the chosen
format's options show, the export runs and its page follows progress, lists what the deployments
lack and offers the download; an expert of another organisation sees people blurred on the image
page, the partner sees them as taken."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image as PILImage

from annotation.models import Role
from inference.models import ExportJob
from tests import factories
from tests.browser.conftest import log_in
from tests.exports_pool import build_pool

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def pool(org, other_org, partner, other_partner):
    return build_pool(org, other_org, partner, other_partner)


def _visible(page, selector: str) -> bool:
    return page.locator(selector).first.is_visible()


def test_a_link_prefills_the_export_and_the_partner_downloads_it(page, pool):
    log_in(page, "paula")
    page.goto(
        f"/exports/?organisation={pool.org.pk}&format=coco&labelled=yes&deployment={pool.camera.pk}"
    )
    assert page.locator("#id_format").input_value() == "coco"
    assert page.locator("#id_labelled").input_value() == "yes"
    options = page.locator("#id_deployment option")
    assert options.all_inner_texts() == [
        "Col du Lautaret"
    ]  # the other organisation's camera is not offered
    assert page.locator("#id_deployment option:checked").inner_text() == "Col du Lautaret"
    assert _visible(page, "#id_title") and not _visible(
        page, "#id_sampling_design"
    )  # COCO: no Camtrap options
    assert not _visible(page, "#id_language")

    page.goto(
        f"/exports/?organisation={pool.org.pk}&format=coco&labelled=yes&deployment={pool.camera.pk}"
        "&source=human&taken_from=2024-05-02&taken_to=2024-05-03"
    )  # the image list's own keys
    assert page.locator("#id_source option:checked").inner_text() == "person (partner)"
    assert page.locator("#id_taken_after").input_value() == "2024-05-02T00:00"
    assert page.locator("#id_taken_before").input_value() == "2024-05-03T23:59:59"
    page.select_option("#id_source", "")
    page.fill("#id_taken_after", "")
    page.fill("#id_taken_before", "")

    page.select_option("#id_format", "camtrapdp")
    assert (
        _visible(page, "#id_sampling_design")
        and _visible(page, "#id_media")
        and _visible(page, "#id_utc_offset")
    )
    page.select_option("#id_format", "deepfaune_csv")
    assert _visible(page, "#id_language") and not _visible(page, "#id_sampling_design")
    page.select_option("#id_format", "camtrapdp")
    page.select_option("#id_labelled", "")
    page.click("#start-export")  # the test cluster runs the job inline

    page.wait_for_selector("#download")
    assert page.inner_text("#export-status") == "done"
    assert "7 of 7 images" in page.inner_text("#export-count")
    assert "Parc des Écrins / Col du Lautaret" in page.inner_text("#export-scope")
    notes = page.inner_text("#export-notes")
    assert "1 image(s) showing people were blurred." in notes and "written as UTC" in notes
    with page.expect_download() as waiting:
        page.click("#download")
    bundle = zipfile.ZipFile(waiting.value.path())
    names = bundle.namelist()
    assert "datapackage.json" in names and len([n for n in names if n.startswith("media/")]) == 7
    assert not any("IMG_90" in name for name in names)
    assert "IMG_90" not in bundle.read("media.csv").decode()

    page.goto("/exports/")
    row = page.locator("#export-list tr", has_text="Camtrap DP")
    assert (
        row.locator("text=done").is_visible() and row.locator("a", has_text="download").is_visible()
    )


def test_the_page_follows_a_running_export(page, pool, partner):
    job = ExportJob.objects.create(
        created_by=partner,
        format="coco",
        scope={"organisation": pool.org.pk},
        organisations=[pool.org.pk],
        status="running",
        total=7,
        done=3,
    )
    log_in(page, "paula")
    page.goto(f"/exports/{job.pk}/")
    assert page.inner_text("#export-status") == "running"
    assert "3 of 7 images" in page.inner_text("#export-count")
    assert page.locator("#export-bar").evaluate("bar => bar.value") == pytest.approx(
        3 / 7, abs=1e-3
    )
    assert page.locator("#download").count() == 0
    ExportJob.objects.filter(pk=job.pk).update(done=6)
    page.wait_for_function(
        "() => document.getElementById('export-count').textContent.includes('6 of 7')"
    )
    ExportJob.objects.filter(pk=job.pk).update(
        status="failed", error="the worker ran out of disk space"
    )
    page.wait_for_selector("[role=alert]")  # the page reloads once the job ends
    assert "ran out of disk space" in page.inner_text("[role=alert]")
    assert page.inner_text("#export-status") == "failed"


def test_a_partner_of_another_organisation_cannot_open_it(page, pool, partner):
    job = ExportJob.objects.create(
        created_by=partner, format="coco", organisations=[pool.org.pk], status="done"
    )
    log_in(page, "otto")
    response = page.goto(f"/exports/{job.pk}/")
    assert response.status == 404 and page.locator("h1").inner_text() == "Not found"
    assert page.goto(f"/exports/{job.pk}/download").status == 404
    page.goto("/exports/")
    assert page.locator("#export-list").inner_text().count("COCO") == 0


def _displayed(page, image_id: int) -> np.ndarray:
    page.set_viewport_size(
        {"width": 1280, "height": 1100}
    )  # the whole photo in view: no scrolling mid-shot
    page.goto(f"/images/{image_id}/")
    page.wait_for_function(
        "() => { const img = document.querySelector('img.main'); "
        "return img && img.complete && img.naturalWidth > 0; }"
    )
    page.wait_for_load_state(
        "networkidle"
    )  # the stored boxes drawn over it have arrived: the layout is settled
    page.uncheck("#show-boxes")  # the photograph alone, without the boxes' outlines
    box = page.locator(
        "img.main"
    ).bounding_box()  # at a fractional height that differs with the menu's length:
    clip = {
        key: round(box[key]) for key in ("x", "y", "width", "height")
    }  # the pixels the photo is drawn on
    shot = page.screenshot(clip=clip)
    return np.asarray(PILImage.open(io.BytesIO(shot)).convert("RGB")).astype(int)


def test_an_expert_of_another_organisation_sees_the_person_blurred(
    page, browser, live_server, pool, other_org
):
    factories.member("hugo", other_org, Role.EXPERT, taxa=[factories.taxon("human")])
    log_in(page, "paula")
    as_taken = _displayed(page, pool.person.pk)
    other = browser.new_context(base_url=live_server.url)
    expert_page = other.new_page()
    try:
        log_in(expert_page, "hugo")
        seen = _displayed(expert_page, pool.person.pk)
    finally:
        other.close()
    assert seen.shape == as_taken.shape
    height, width = seen.shape[:2]
    box = (slice(int(0.3 * height), int(0.7 * height)), slice(int(0.53 * width), int(0.72 * width)))
    assert (
        np.abs(seen[box] - as_taken[box]).mean() > 15
    )  # the person's box is blurred for the expert:
    assert seen[box].std() < as_taken[box].std() / 2  # its detail is gone
    far = (slice(0, height), slice(0, int(0.35 * width)))
    assert np.abs(seen[far] - as_taken[far]).mean() < 6  # the rest of the photograph is the same


def test_the_image_list_and_a_deployment_page_link_to_their_export(page, pool):
    log_in(page, "paula")
    page.goto(f"/images/?deployment={pool.camera.pk}&source=human&taken_from=2024-05-02")
    assert page.inner_text("#image-count") == "4 images"
    page.click("#export-these")
    page.wait_for_url("**/exports/?*")
    assert page.locator("#id_deployment option:checked").all_inner_texts() == ["Col du Lautaret"]
    assert page.locator("#id_source").input_value() == "human"
    assert page.locator("#id_taken_after").input_value() == "2024-05-02T00:00"
    page.click("#start-export")
    page.wait_for_selector("#download")
    assert "4 of 4 images" in page.inner_text("#export-count")  # what the list showed, no more

    page.goto(f"/deployments/{pool.camera.pk}/")
    page.click("#export-deployment")
    assert page.locator("#id_deployment option:checked").all_inner_texts() == ["Col du Lautaret"]
