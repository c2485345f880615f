"""The upload page in a real Chromium: choose a deployment, drop files, watch progress, read
the report."""

import pytest

from annotation.models import Deployment, Image
from tests.browser.conftest import log_in, switch_to
from tests.factories import jpeg_bytes, zip_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


def test_partner_uploads_files_and_a_zip_into_a_new_deployment(page, partner, tmp_path):
    files = []
    for seed in range(3):
        path = tmp_path / f"IMG_{seed}.JPG"
        path.write_bytes(jpeg_bytes(seed=seed, taken=f"2024:05:01 10:00:0{seed}"))
        files.append(str(path))
    (tmp_path / "broken.jpg").write_bytes(b"not a picture")
    (tmp_path / "card.zip").write_bytes(zip_bytes({"DCIM/IMG_9.JPG": jpeg_bytes(seed=9)}))
    files += [str(tmp_path / "broken.jpg"), str(tmp_path / "card.zip")]

    log_in(page, "paula")
    page.goto("/upload/")
    page.fill("#deployment-name", "Vallon de la Mine")
    page.set_input_files("#files", files)
    page.wait_for_selector("#batch-link")
    assert "imported: 4, duplicates: 0, rejected: 1" in page.inner_text("#progress-text")
    assert page.eval_on_selector("#progress", "p => p.value") == 100

    page.click("#batch-link")
    assert "Imported: 4 Duplicates: 0 Rejected: 1" in " ".join(page.inner_text("#counts").split())
    assert "broken.jpg" in page.inner_text("#problems")
    assert "not an image" in page.inner_text("#problems")
    assert Deployment.objects.get().name == "Vallon de la Mine"
    assert Image.objects.filter(deployment__name="Vallon de la Mine").count() == 4


def test_counts_read_right_in_french_for_one_file(page, partner, tmp_path):
    """French counts 0 and 1 in the singular: "1 sur 1 fichier", and the batch's counts read
    label then number, right for any number."""
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes())
    log_in(page, "paula")
    page.goto("/upload/")
    switch_to(page, "Français")
    page.fill("#deployment-name", "Combe")
    page.set_input_files("#files", [str(path)])
    page.wait_for_selector("#batch-link")
    assert "importés : 1, doublons : 0, refusés : 0" in page.inner_text("#progress-text")
    page.click("#upload-finish")
    page.wait_for_selector("#phase-stored[data-state=done]")
    assert page.inner_text("#phase-stored .phase-text") == "1 sur 1 fichier"

    page.click("#report-link")
    counts = " ".join(page.inner_text("#counts").split())
    assert counts.startswith("Importées : 1 Doublons : 0 Refusés : 0")


def test_upload_without_deployment_asks_for_one(page, partner, tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes())
    log_in(page, "paula")
    page.goto("/upload/")
    page.set_input_files("#files", [str(path)])
    assert "Choose a deployment" in page.inner_text("#upload-error")
    assert Image.objects.count() == 0


def test_images_page_shows_thumbnails_and_labels(page, partner, tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes())
    log_in(page, "paula")
    page.goto("/upload/")
    page.fill("#deployment-name", "Cam")
    page.set_input_files("#files", [str(path)])
    page.wait_for_selector("#batch-link")
    page.click("#upload-finish")
    page.wait_for_selector("#phase-stored[data-state=done]")
    # one file, not "files"
    assert page.inner_text("#phase-stored .phase-text") == "1 of 1 file"
    page.goto("/images/")
    page.click(".grid figure a")
    page.select_option("#id_taxon", label="fox")
    page.click("text=Save label")
    assert "fox" in page.inner_text("#current-label")
    natural_width = page.eval_on_selector("img.main", "img => img.naturalWidth")
    assert natural_width == 64
