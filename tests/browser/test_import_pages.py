"""Uploads and imports in a real Chromium: the class-mapping step of an import (suggestions, counts,
partners without coordinator controls, the archive never chosen twice), the mapping kept on the
batch's page, and the two phases (stored, pre-labelled) followed live on the upload and batch
pages."""

import pytest

from annotation.models import Annotation, Image, Role, Taxon, UploadBatch
from inference.models import HeadKind, ModelVersion, Prediction, VersionStatus
from tests import factories
from tests.browser.conftest import log_in
from tests.factories import jpeg_bytes, zip_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


def labelled_zip(tmp_path, name="Col du Lautaret.zip"):
    path = tmp_path / name
    path.write_bytes(
        zip_bytes(
            {
                "Sanglier/1.jpg": jpeg_bytes(seed=1),
                "chevreuils/2.jpg": jpeg_bytes(seed=2),
                "Okapi/3.jpg": jpeg_bytes(seed=3),
                "Okapi/4.jpg": jpeg_bytes(seed=4),
            }
        )
    )
    return path


def send_import(page, archive) -> None:
    page.goto("/import/")
    page.set_input_files("#id_archive", str(archive))
    page.select_option("#id_format", "classes")
    page.click("text=Send and check")
    page.wait_for_selector("#class-mapping")


def row(page, name: str):
    return page.locator("#class-mapping tr.class-row", has=page.locator(f"th >> text='{name}'"))


def test_a_partner_maps_the_classes_without_choosing_the_archive_again(page, partner, tmp_path):
    log_in(page, "paula")
    send_import(page, labelled_zip(tmp_path))
    assert "nothing of it is stored yet" in page.inner_text("main") and not Image.objects.exists()
    assert "--create-taxa" not in page.content()
    okapi, chevreuils, sanglier = row(page, "Okapi"), row(page, "chevreuils"), row(page, "Sanglier")
    assert (
        okapi.locator("td.number").inner_text() == "2"
        and sanglier.locator("td.number").inner_text() == "1"
    )
    assert sanglier.locator("select option:checked").inner_text() == "wild boar · sanglier"
    assert "matched" in sanglier.inner_text() and "French name “sanglier”" in sanglier.inner_text()
    assert chevreuils.locator("select option:checked").inner_text() == "roe deer · chevreuil"
    assert (
        "suggested: check it" in chevreuils.inner_text()
        and "plural of a name" in chevreuils.inner_text()
    )
    assert okapi.locator("select").input_value() == "" and "no taxon found" in okapi.inner_text()
    # Coordinator-only controls are not there for a partner, hidden or not.
    assert (
        page.locator("option[value=new]").count() == 0
        and page.locator("fieldset.new-taxon").count() == 0
    )

    page.click(
        "#mapping-submit"
    )  # Okapi not chosen: the browser stops there and puts the focus on it
    okapi_select = okapi.locator("select")
    assert page.evaluate("document.activeElement.id") == okapi_select.get_attribute("id")
    assert (
        okapi_select.evaluate("select => select.validity.valueMissing")
        and not Image.objects.exists()
    )
    okapi_select.select_option("none")
    page.click("#mapping-submit")

    page.wait_for_selector("#applied-mapping")
    mapping = page.inner_text("#applied-mapping")
    assert "Okapi\tnot labelled" in mapping and "chevreuils\troe deer · chevreuil" in mapping
    assert "Col du Lautaret" in page.inner_text(
        "#batch-where"
    )  # the deployment is named after the archive
    stored = page.locator("#phase-stored")
    assert stored.get_attribute("data-state") == "done" and "4 of 4 files" in stored.inner_text()
    page.wait_for_selector("#phase-prelabel[data-state=no_model]")
    assert "no model is in production" in page.inner_text("#phase-prelabel")
    assert dict(Annotation.objects.values_list("image__original_name", "taxon__slug")) == {
        "Sanglier/1.jpg": "wild-boar",
        "chevreuils/2.jpg": "roe-deer",
    }

    page.goto("/batches/")
    cells = page.locator("#batches tr").nth(1).locator("td")
    assert cells.nth(3).inner_text() == "Col du Lautaret" and cells.nth(5).inner_text() == "done"


def test_the_server_refuses_a_new_taxon_from_a_partner_and_explains_a_missing_choice(
    page, partner, tmp_path
):
    log_in(page, "paula")
    send_import(page, labelled_zip(tmp_path))
    token = page.input_value("#mapping-form [name=csrfmiddlewaretoken]")
    form = {
        "csrfmiddlewaretoken": token,
        "class_0": "new",
        "new_0_name_en": "okapi",
        "class_1": "wild-boar",
        "class_2": "roe-deer",
    }
    response = page.request.post(page.url, form=form, headers={"Referer": page.url})
    assert response.status == 403 and "Only coordinators create taxa" in response.text()
    assert not Taxon.objects.filter(name_en="okapi").exists()
    assert UploadBatch.objects.get().status == "open"
    # A browser without form validation sends the empty choice: the step comes back saying what
    # is missing.
    page.eval_on_selector("#mapping-form", "form => { form.noValidate = true; }")
    page.click("#mapping-submit")
    assert "Choose a taxon for this class" in row(page, "Okapi").inner_text()
    assert (
        row(page, "chevreuils").locator("select").input_value() == "roe-deer"
    )  # the rest as chosen
    assert UploadBatch.objects.get().status == "open" and not Image.objects.exists()


def test_a_coordinator_creates_a_taxon_in_the_mapping_step(page, org, tmp_path):
    factories.member("cora", org, Role.COORDINATOR)
    log_in(page, "cora")
    send_import(page, labelled_zip(tmp_path))
    okapi = row(page, "Okapi")
    fields = okapi.locator("fieldset.new-taxon")
    assert fields.is_hidden()
    okapi.locator("select").select_option("new")
    assert fields.is_visible()
    assert page.evaluate("document.activeElement.name") == fields.locator(
        "input"
    ).first.get_attribute("name")
    assert (
        fields.locator("input").first.input_value() == "Okapi"
    )  # named after the class, selected:
    page.keyboard.type("okapi")  # typing replaces it
    assert fields.get_by_label("English name").input_value() == "okapi"
    fields.get_by_label("French name").fill("okapi")
    fields.get_by_label("Scientific name").fill("Okapia johnstoni")
    # the new-taxon fields sit under the select, inside the row, not over the next one
    select_box, fields_box = okapi.locator("select").bounding_box(), fields.bounding_box()
    next_row = row(page, "Sanglier").bounding_box()
    assert fields_box["y"] >= select_box["y"] + select_box["height"] - 1
    assert fields_box["y"] + fields_box["height"] <= next_row["y"] + 1
    page.click("#mapping-submit")
    page.wait_for_selector("#applied-mapping")
    assert "Okapi\tokapi · okapi" in page.inner_text("#applied-mapping")
    taxon = Taxon.objects.get(name_en="okapi")
    assert taxon.scientific_name == "Okapia johnstoni" and taxon.created_by.username == "cora"
    assert Annotation.objects.filter(taxon=taxon).count() == 2


def test_cancelling_a_waiting_import_leaves_nothing(page, partner, tmp_path):
    log_in(page, "paula")
    send_import(page, labelled_zip(tmp_path))
    page.click("#import-cancel")
    assert "Import cancelled; nothing of it was stored." in page.inner_text("main")
    assert not UploadBatch.objects.exists()


def _upload(page, tmp_path, seeds: range) -> None:
    files = []
    for seed in seeds:
        path = tmp_path / f"IMG_{seed}.JPG"
        path.write_bytes(jpeg_bytes(seed=seed, taken=f"2024:05:01 10:00:0{seed}"))
        files.append(str(path))
    page.set_input_files("#files", files)
    page.wait_for_selector("#upload-finish:not([disabled])")


def test_done_closes_the_upload_and_the_page_follows_pre_labelling_live(page, partner, tmp_path):
    version = ModelVersion.objects.create(
        name="test model",
        version="1",
        backbone={},
        head_kind=HeadKind.TRAINED_HEAD,
        status=VersionStatus.PRODUCTION,
    )
    log_in(page, "paula")
    page.goto("/upload/")
    page.fill("#deployment-name", "Vallon de la Mine")
    _upload(page, tmp_path, range(2))
    assert "so far: stored 2, duplicates 0, rejected 0." in page.inner_text("#upload-open")
    assert page.locator(
        "#deployment-name"
    ).is_disabled()  # the open upload's camera cannot change under it
    batch = UploadBatch.objects.get()
    assert batch.status == "open"
    _upload(
        page, tmp_path, range(1, 4)
    )  # a second drop goes into the same upload (IMG_1 again: a duplicate)
    assert "so far: stored 4, duplicates 1, rejected 0." in page.inner_text("#upload-open")
    assert UploadBatch.objects.count() == 1 and batch.images.count() == 4

    page.click("#upload-finish")
    page.wait_for_selector("#phase-stored[data-state=done]")
    batch.refresh_from_db()
    assert batch.status == "done"
    assert "5 of 5 files" in page.inner_text("#phase-stored")
    prelabel = page.locator("#phase-prelabel")
    assert (
        prelabel.get_attribute("data-state") == "waiting"
        and "0 of 4 images" in prelabel.inner_text()
    )
    # Waiting is drawn as an empty bar, not a moving one that would say work goes on.
    assert page.eval_on_selector(
        "#phase-prelabel progress", "bar => [bar.matches(':indeterminate'), bar.value]"
    ) == [False, 0]
    assert page.locator("#upload-open").is_hidden() and page.locator("#report-link").is_visible()

    # The worker predicts the images: the page moves on by itself.
    for image in batch.images.all():
        Prediction.objects.create(
            image=image, version=version, category="animal", score=0.9, top=[]
        )
    page.wait_for_selector("#phase-prelabel[data-state=done]")
    assert "4 of 4 images" in prelabel.inner_text() and "by test model 1" in prelabel.inner_text()
    assert page.eval_on_selector("#phase-prelabel progress", "bar => [bar.value, bar.max]") == [
        4,
        4,
    ]
    stored_bar, prelabel_bar = (
        page.locator(f"#{phase} progress").bounding_box()
        for phase in ("phase-stored", "phase-prelabel")
    )
    assert (
        stored_bar["x"] == prelabel_bar["x"] and stored_bar["y"] < prelabel_bar["y"]
    )  # two aligned rows
    assert stored_bar["width"] == prelabel_bar["width"]

    page.click("#report-link")
    assert (
        "5 of 5 files" in page.inner_text("#phase-stored")
        and page.locator("#close-upload").count() == 0
    )
    page.wait_for_selector("#phase-prelabel[data-state=done]")


def test_an_upload_left_open_can_be_closed_from_its_report(page, partner, tmp_path):
    log_in(page, "paula")
    page.goto("/upload/")
    page.fill("#deployment-name", "Cam")
    _upload(page, tmp_path, range(1))
    page.click("#batch-link")
    assert page.inner_text("#batch-state") == "receiving files"
    assert "press Done when every file is sent" in page.inner_text("#phase-stored")
    # The number of files to come is unknown: an empty, still bar (an animated one would say work
    # goes on).
    page.wait_for_function("document.querySelector('#phase-prelabel').dataset.state !== ''")
    for phase in ("phase-stored", "phase-prelabel"):
        assert (
            page.eval_on_selector(f"#{phase} progress", "bar => bar.matches(':indeterminate')")
            is False
        )
    bar_before = page.locator("#phase-stored progress").bounding_box()
    page.click("#close-upload button")
    assert page.inner_text("#batch-state") == "done" and UploadBatch.objects.get().status == "done"
    bar_after = page.locator("#phase-stored progress").bounding_box()
    assert (bar_after["x"], bar_after["width"]) == (
        bar_before["x"],
        bar_before["width"],
    )  # same bar, other words
    page.goto("/batches/")
    assert page.locator("#batches td[data-state]").inner_text() == "done"
