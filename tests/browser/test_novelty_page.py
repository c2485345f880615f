"""Possibly new taxa in a real Chromium: a coordinator starts a scan from the page, sees the
held-back taxon's cluster as a strip of thumbnails, opens it, names a new taxon and labels the whole
cluster at once."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotation.models import Image, ReviewTask, Taxon
from inference.models import NoveltyScan
from tests.browser.conftest import log_in
from tests.factories import jpeg_bytes
from tests.inference.test_novelty import generate, store_pool, version  # noqa: F401 fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def world(org, coordinator, version):  # noqa: F811
    data = generate(
        4,
        known=5,
        labelled_sequences=30,
        unlabelled_sequences=30,
        held_sequences=20,
        frames=2,
        noise=20,
        strays=3,
    )
    images = store_pool(org, data, version, coordinator)
    for image in images.values():  # the pages show thumbnails: give every unlabelled image one
        thumbnail = ContentFile(jpeg_bytes(size=(96, 72), seed=image.pk))
        name = default_storage.save(f"thumbnails/{image.pk}.jpg", thumbnail)
        Image.objects.filter(pk=image.pk).update(thumbnail=name)
    return data, images


def test_coordinator_labels_a_possibly_new_cluster(page, world):
    log_in(page, "cora")
    page.click("nav >> text=Possibly new taxa")
    page.click("#start-scan button[type=submit]")  # the test cluster runs the job inline
    page.wait_for_selector("#clusters li.cluster")
    scan = NoveltyScan.objects.get()
    assert scan.status == "done" and f"Scan {scan.pk}" in page.inner_text("#scan-summary")
    first = scan.clusters[0]
    strip = page.locator("#clusters li.cluster").first.locator(".strip img")
    assert strip.count() == 8
    page.wait_for_function(
        """(images) => [...document.querySelectorAll(images)]
                       .every((img) => img.complete && img.naturalWidth > 0)""",
        arg="#clusters li.cluster:first-child img",
    )
    for index in range(8):
        assert strip.nth(index).is_visible()
        assert strip.nth(index).bounding_box()["height"] > 20
    assert strip.first.get_attribute("src") == f"/images/{first['members'][0]}/thumbnail"

    page.locator("#clusters li.cluster").first.locator("a", has_text="Cluster 1").click()
    page.wait_for_selector("#members figure")
    assert page.locator("#members figure").count() == len(first["members"])
    assert page.locator("#members figure.outlier").count() == len(first["outliers"]) > 0
    page.fill("input[name=name_en]", "golden jackal")
    page.fill("input[name=name_fr]", "chacal doré")
    page.fill("input[name=scientific_name]", "Canis aureus")
    page.click("#label-cluster button[type=submit]")
    page.wait_for_selector("#outcome")

    jackal = Taxon.objects.get(name_en="golden jackal")
    kept = set(first["members"]) - set(first["outliers"])
    assert page.inner_text("#labelled-count") == str(len(kept))
    assert page.inner_text("#review-count") == str(len(first["outliers"]))
    assert "outlier(s) sent to review" in page.inner_text("[role=status]")
    assert set(Image.objects.filter(pk__in=kept).values_list("current_taxon", flat=True)) == {
        jackal.pk
    }
    outliers = Image.objects.filter(pk__in=first["outliers"])
    # a new taxon has no expert yet: its outliers wait in triage, saying so
    queued = ReviewTask.objects.filter(origin__startswith="novelty:")
    sequences = set(outliers.values_list("sequence_id", flat=True))
    assert set(queued.values_list("sequence_id", flat=True)) == sequences
    assert {task.queue_taxon for task in queued} == {None}
    assert all("no expert for golden jackal" in task.reason for task in queued)

    page.click("text=← Possibly new taxa")
    assert "labelled golden jackal by cora" in page.inner_text("#clusters li.cluster:first-child")


@pytest.fixture
def french_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_a_french_coordinator_reads_the_scan_and_its_clusters_in_french(french_page, world):
    page = french_page
    log_in(page, "cora")
    page.goto("/novelty/")
    assert page.inner_text("h1") == "Taxons peut-être nouveaux"
    button = page.locator("#start-scan button[type=submit]")
    assert button.inner_text() == "Chercher des taxons peut-être nouveaux" and button.is_enabled()
    assert (
        "Pas encore d'analyse terminée." in page.inner_text("body")
        and page.locator("text=Graine").is_visible()
    )
    button.click()
    page.wait_for_selector("#clusters li.cluster")
    scan = NoveltyScan.objects.get()
    assert f"Analyse {scan.pk} en file d'attente" in page.inner_text("[role=status]")
    assert (
        page.inner_text("#scan-status b") == "terminé"
    )  # the stored status, "done", in the reader's words
    summary = page.inner_text("#scan-summary")
    assert (
        summary.startswith(f"Analyse {scan.pk} de ")
        and "images non étiquetées incertaines examinées" in summary
    )
    assert "Seuils tirés des données" in summary and "cosine" not in summary
    first = page.locator("#clusters li.cluster").first
    size, outliers = len(scan.clusters[0]["members"]), len(scan.clusters[0]["outliers"])
    assert " ".join(first.inner_text().split()).startswith(
        f"Groupe 1: {size} images, {outliers} atypique"
    )
    thumbnail = first.locator(".strip img").first
    assert (
        thumbnail.get_attribute("alt") == "image typique 1 du groupe 1" and thumbnail.is_visible()
    )
    assert page.locator("text=Taxons peut-être nouveaux").first.is_visible()
    assert "image(s)" not in page.inner_text("#clusters") and "outlier" not in page.inner_text(
        "#clusters"
    )
