"""People pages in a real Chromium: a coordinator creates an organisation and invites an expert
(taxa shown only for experts), passes on the one-time link, the expert chooses a password and
lands on their queues; the last coordinator's controls are locked, and a stale page cannot demote
them either."""

import pytest

from annotation.models import Membership, Role
from tests import factories
from tests.browser.conftest import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


def test_a_coordinator_invites_an_expert_who_sets_a_password_and_finds_their_queue(
    browser, live_server, page, coordinator
):
    log_in(page, "cora")
    page.locator("header nav").get_by_role("link", name="Organisations").click()
    page.fill("#create-organisation input[name=name]", "Parc national des Cévennes")
    page.locator("#create-organisation").get_by_role("button", name="Create").click()
    assert page.locator("h1").inner_text() == "Members of Parc national des Cévennes"
    assert "Created Parc national des Cévennes" in page.locator(".message").inner_text()

    invite = page.locator("#invite")
    picker = invite.locator(".taxa-picker")
    assert not picker.is_visible()  # partner by default: no taxa to choose
    invite.locator("select[name=role]").select_option("expert")
    assert picker.is_visible()
    picker.locator("summary").click()
    picker.get_by_label("red deer").check()
    assert picker.locator("summary").inner_text() == "red deer"  # the summary follows the ticks
    invite.locator("input[name=username]").fill("marc")
    invite.get_by_role("button", name="Invite").click()

    box = page.locator("#password-link")
    assert "Pass this link on to marc" in box.inner_text() and "works once" in box.inner_text()
    link = page.locator("#password-link-url").input_value()
    assert "/accounts/set-password/" in link
    box.get_by_role("button", name="Copy").click()
    box.get_by_role("button", name="Copied").wait_for()
    selected = page.eval_on_selector(
        "#password-link-url", "field => field.value.slice(field.selectionStart, field.selectionEnd)"
    )
    assert selected == link  # selected whole, for Ctrl-C where no clipboard is allowed
    row = page.locator("#members tr[data-username=marc]")
    assert row.locator("select[name=role]").input_value() == "expert"
    assert "red deer" in row.locator(".taxa-picker summary").inner_text()
    page.reload()
    assert page.locator("#password-link").count() == 0  # shown once
    assert row.get_by_text("invited: no password chosen yet").is_visible()

    marc = browser.new_context(base_url=live_server.url).new_page()
    marc.goto(link)
    assert marc.locator("h1").inner_text() == "Choose your password" and "marc" in marc.inner_text(
        "main"
    )
    marc.fill("#id_new_password1", "larch-and-marmots")
    marc.fill("#id_new_password2", "larch-and-marmot")
    marc.get_by_role("button", name="Set my password").click()
    assert "didn’t match" in marc.inner_text("main") or "didn't match" in marc.inner_text("main")
    marc.fill("#id_new_password1", "larch-and-marmots")
    marc.fill("#id_new_password2", "larch-and-marmots")
    marc.get_by_role("button", name="Set my password").click()
    marc.wait_for_url(f"{live_server.url}/")
    assert marc.locator("h1").inner_text() == "Welcome, marc"
    assert "red deer yours" in marc.locator("#queues").inner_text()
    marc.goto(link)
    assert marc.locator("h1").inner_text() == "This link no longer works"

    page.reload()
    assert page.locator("#members tr[data-username=marc] .pending").count() == 0


def test_the_last_coordinator_is_locked_even_from_a_stale_page(browser, live_server, org):
    factories.member("cora", org, Role.COORDINATOR)
    cora = browser.new_context(base_url=live_server.url).new_page()
    log_in(cora, "cora")
    cora.goto(f"/organisations/{org.pk}/members/")
    row = cora.locator("#members tr[data-username=cora]")
    assert (
        row.locator("select[name=role]").is_disabled()
        and row.get_by_role("button", name="Save").is_disabled()
    )
    assert row.get_by_role("button", name="Remove").is_disabled()
    assert "the last coordinator" in row.locator("#last-coordinator").inner_text()

    factories.member("carl", org, Role.COORDINATOR)
    cora.reload()
    assert not row.locator(
        "select[name=role]"
    ).is_disabled()  # two coordinators: either may step down
    carl = browser.new_context(base_url=live_server.url).new_page()
    log_in(carl, "carl")
    carl.goto(f"/organisations/{org.pk}/members/")
    carls_row = carl.locator("#members tr[data-username=carl]")
    carls_row.locator("select[name=role]").select_option("partner")
    carls_row.get_by_role("button", name="Save").click()
    assert "carl is now partner" in carl.locator(".message").inner_text()

    row.locator("select[name=role]").select_option("partner")  # cora's page still offers it
    row.get_by_role("button", name="Save").click()
    assert "cora is the last coordinator" in cora.locator(".message.error").inner_text()
    assert (
        cora.locator("#members tr[data-username=cora] select[name=role]").input_value()
        == "coordinator"
    )
    assert Membership.objects.get(user__username="cora").role == Role.COORDINATOR
