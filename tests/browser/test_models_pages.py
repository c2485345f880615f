"""Models, rounds, comparison and releases in a real Chromium, as a coordinator walks them after a
round: each version's figures, a confirmation step that says what will happen before anything
changes (from the keyboard, and with JavaScript off), promote/reject from the round page, a
comparison that shows the round page's figures, a model card rendered (and harmless), the release as
one zip, and an icon where browsers look for one."""

import io
import zipfile

import pytest

from annotation.models import Role
from inference.models import ModelStatusChange, ModelVersion
from inference.services.registry import default_version_ensure
from tests import factories
from tests.browser.conftest import log_in
from tests.training.test_rounds import labelled_pool, run_round
from training.models import TrainingRound

ICON_TYPES = ("image/x-icon", "image/vnd.microsoft.icon")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def world(org, settings):
    """A coordinator, a partner, the zero-shot version in production and a round's
    candidate waiting."""
    settings.FAUNE = {**settings.FAUNE, "AUTO_PROMOTE": False}
    factories.member("cora", factories.organisation("Coordination"), Role.COORDINATOR)
    factories.member("paula", org, Role.PARTNER)
    labelled_pool(
        org, default_version_ensure(), {"fox": 90, "wild-boar": 90, "roe-deer": 60}, seed=2
    )
    done = run_round()
    assert done.status == "done" and done.candidate.status == "candidate"
    return done


def _row(page, version: ModelVersion):
    return page.locator(f"#versions tr[data-version='{version.pk}']")


def test_models_page_shows_figures_and_promotes_only_after_a_confirmation_from_the_keyboard(
    page, world
):
    candidate, production = world.candidate, world.parent
    log_in(page, "cora")
    page.click("header nav >> text=Models")
    row = _row(page, candidate)
    test = world.metrics["candidate"]["test"]
    assert row.locator("td.macro-f1").inner_text() == f"{test['macro_f1']:.3f}"
    assert row.locator("td.accuracy").inner_text() == f"{test['accuracy']:.3f}"
    assert (
        row.locator("td.scored-on").inner_text() == f"{test['count']} test images, round {world.pk}"
    )
    as_production = world.metrics["production"]["test"]
    assert (
        _row(page, production).locator("td.macro-f1").inner_text()
        == f"{as_production['macro_f1']:.3f}"
    )
    assert "(as production)" in _row(page, production).locator("td.scored-on").inner_text()
    classes = row.locator("td.classes")
    names = classes.locator(".class-names")
    assert (
        classes.locator("summary").inner_text() == "3" and not names.is_visible()
    )  # folded: lists get long
    classes.locator("summary").click()
    assert names.is_visible() and names.inner_text() == "roe deer, fox, wild boar"

    row.get_by_role("link", name="Promote…").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#confirm")
    assert page.inner_text("#confirm-title") == f"Promote {candidate} to production?"
    effects = page.inner_text("#effects")
    assert (
        f"{production}, in production now, is archived; you can roll back to it later." in effects
    )
    assert "images are pre-labelled again by" in effects
    figures = page.inner_text("#confirm-figures")
    assert f"{test['macro_f1']:.3f}" in figures and f"{as_production['macro_f1']:.3f}" in figures
    assert not page.locator(
        "#not-comparable"
    ).is_visible()  # both were scored on this round's test images
    assert ModelVersion.objects.get(pk=candidate.pk).status == "candidate"  # nothing happened yet

    page.focus("#note")
    page.keyboard.type("better on deer")
    page.keyboard.press("Enter")  # submits the confirmation form
    page.wait_for_url("**/models/")
    assert f"{candidate} is now production." in page.inner_text("[role=status]")
    assert ModelVersion.objects.get(pk=candidate.pk).status == "production"
    first = page.locator("#status-log tr").nth(1).inner_text()
    assert (
        "candidate → production" in first
        and "cora" in first
        and "promoted by hand: better on deer" in first
    )
    assert (
        _row(page, production).get_by_role("link", name="Roll back to this version…").is_visible()
    )


def test_cancel_changes_nothing_and_partners_see_no_controls(browser, live_server, world):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    log_in(page, "paula")
    page.goto("/models/")
    assert page.locator("#versions th", has_text="change").count() == 0
    assert page.get_by_role("link", name="Promote…").count() == 0
    page.goto(f"/models/{world.candidate.pk}/status/?status=production")
    assert "Only coordinators change which model is in production." in page.inner_text("#refusal")
    context.close()

    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    log_in(page, "cora")
    page.goto("/models/")
    _row(page, world.candidate).get_by_role("link", name="Reject…").click()
    assert "Production does not change; nothing is re-predicted." in page.inner_text("#effects")
    page.click("#cancel")
    page.wait_for_url("**/models/")
    assert ModelVersion.objects.get(pk=world.candidate.pk).status == "candidate"
    assert not ModelStatusChange.objects.filter(to_status="rejected").exists()
    context.close()


def test_archiving_works_with_javascript_off(browser, live_server, world):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    log_in(page, "cora")
    page.goto("/models/")
    _row(page, world.candidate).get_by_role("link", name="Archive…").click()
    assert page.inner_text("#confirm-title") == f"Archive {world.candidate}?"
    page.click("#confirm-button")
    page.wait_for_url("**/models/")
    assert f"{world.candidate} is now archived." in page.inner_text("[role=status]")
    assert _row(page, world.candidate).locator(".status").inner_text() == "archived"
    context.close()


def test_the_round_page_rejects_its_candidate_and_comes_back(page, world):
    log_in(page, "cora")
    page.goto(f"/rounds/{world.pk}/")
    actions = page.locator("#candidate-actions")
    assert f"The candidate {world.candidate} is candidate." in actions.inner_text()
    actions.get_by_role("link", name="Reject the candidate…").click()
    assert page.inner_text("#confirm-title") == f"Reject {world.candidate}?"
    page.fill("#note", "worse on foxes")
    page.click("#confirm-button")
    page.wait_for_url(f"**/rounds/{world.pk}/")
    assert f"{world.candidate} is now rejected." in page.inner_text("[role=status]")
    assert f"The candidate {world.candidate} is rejected." in actions.inner_text()
    assert actions.get_by_role("link", name="Reject the candidate…").count() == 0
    assert actions.get_by_role("link", name="Promote the candidate…").is_visible()


def test_the_comparison_shows_the_round_pages_figures_for_the_same_versions(page, world):
    log_in(page, "paula")
    page.goto(f"/rounds/{world.pk}/")
    assert page.locator("#candidate-actions a").count() == 0  # partners read, never change
    on_round = {
        role: page.locator(f"#round-{role} td").all_inner_texts()
        for role in ("candidate", "production")
    }
    difference = (
        page.inner_text("#comparison").split(",")[0].replace("candidate − production", "B − A")
    )
    page.click("#compare-link")
    page.wait_for_selector("#compare-figures")
    count = world.metrics["candidate"]["test"]["count"]
    assert (
        f"Both versions scored on the same {count} test images of this round (of {count})"
        in page.inner_text("#scored-items")
    )
    assert page.locator("#side-a td").all_inner_texts()[:4] == on_round["production"]
    assert page.locator("#side-b td").all_inner_texts()[:4] == on_round["candidate"]
    assert page.inner_text("#difference").split(",")[0] == difference


def test_the_release_page_renders_its_card_safely_and_downloads_one_zip(page, world):
    from inference.services.registry import model_version_promote
    from training.services.releases import release_publish

    promoted = model_version_promote(version=world.candidate)
    release = release_publish(version=promoted, semver="1.0.0", user=None)
    release.model_card += (
        "\n## Notes\n\nSee <script>window.pwned = 1</script> and "
        '<img src=x onerror="window.pwned = 2"> here.\n'
    )
    release.save(update_fields=["model_card"])
    page.goto("/releases/1.0.0/")  # public: no log-in
    card = page.locator("#model-card")
    assert card.locator("h3").first.inner_text() == "Faune classifier 1.0.0"
    table = card.locator("table")
    assert (
        table.locator("th").first.inner_text() == "class" and table.locator("tbody tr").count() == 3
    )
    assert "|---|" not in card.inner_text() and "## " not in card.inner_text()
    assert "<script>window.pwned = 1</script>" in card.inner_text()  # shown as text
    assert page.evaluate("window.pwned") is None
    how_to = page.locator("#how-to-use")
    assert how_to.locator("h2").first.inner_text() == "How to use Faune 1.0.0"
    assert "timm.create_model" in how_to.locator("pre code").last.inner_text()

    with page.expect_download() as waiting:
        page.click("#download-archive")
    download = waiting.value
    assert download.suggested_filename == "faune-1.0.0.zip"
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    assert {
        "faune-1.0.0/HOW_TO_USE.md",
        "faune-1.0.0/timm-weights.pth",
        "faune-1.0.0/SHA256SUMS",
    } <= set(archive.namelist())


def test_every_page_has_an_icon_and_no_404(page, world):
    missing = []
    page.on(
        "response",
        lambda response: missing.append(response.url) if response.status == 404 else None,
    )
    log_in(page, "cora")
    for path in ("/models/", f"/rounds/{world.pk}/", f"/rounds/{world.pk}/compare/", "/releases/"):
        page.goto(path)
        icon = page.locator("link[rel=icon]").get_attribute("href")
        fetched = page.request.get(icon)
        # Python's mimetypes names .ico image/vnd.microsoft.icon; our /favicon.ico view says
        # image/x-icon: both work
        assert fetched.status == 200 and fetched.headers["content-type"] in ICON_TYPES
    root = page.request.get("/favicon.ico")
    assert root.status == 200 and root.headers["content-type"] in ICON_TYPES
    assert root.body() == fetched.body() and root.body()[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert missing == []
    assert TrainingRound.objects.count() == 1


def test_a_french_reader_reads_the_training_pages_in_french(browser, live_server, world):
    """The browser asks for French: headings, buttons, the confirmation step, the class names and a
    refusal from the release service all read French, and the layout's ids stay what the other tests
    rely on."""
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, "cora")
    page.goto("/models/")
    assert page.inner_text("h1") == "Versions du modèle"
    row = _row(page, world.candidate)
    row.locator("td.classes summary").click()
    assert sorted(row.locator(".class-names").inner_text().split(", ")) == [
        "chevreuil",
        "renard",
        "sanglier",
    ]
    row.get_by_role("link", name="Promouvoir…").click()
    assert page.inner_text("#confirm-title") == f"Mettre {world.candidate} en production ?"
    assert f"{world.candidate} devient la version en production" in page.inner_text("#effects")
    assert page.inner_text("#confirm-button") == "Mettre en production"
    assert page.inner_text("#cancel") == "Annuler"

    page.goto("/rounds/")
    assert page.inner_text("h1") == "Cycles de réentraînement"
    assert page.get_by_role("button", name="Lancer un cycle").is_visible()
    page.goto(f"/rounds/{world.pk}/")
    assert page.locator("#round-figures th").nth(1).inner_text() == "exactitude"
    assert page.get_by_role("link", name="Rejeter la version candidate…").is_visible()

    page.goto("/releases/")
    assert page.inner_text("h1") == "Classificateurs publiés"
    assert "Aucune version n'est en production" not in page.inner_text("main")
    page.get_by_label("Version sémantique").fill("un-point-zéro")
    page.get_by_role("button", name=f"Publier {world.parent}").click()
    page.wait_for_url("**/releases/")
    assert "'un-point-zéro' n'est pas une version sémantique comme 1.4.0." in page.inner_text(
        "[role=status]"
    )
    context.close()
