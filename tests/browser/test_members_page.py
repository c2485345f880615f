"""The members page in a real Chromium: a coordinator demotes another, who sees the coordinator's
menu vanish on their very next page."""

import pytest

from annotation.models import Role
from tests import factories
from tests.browser.conftest import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


def test_a_demotion_on_the_members_page_takes_the_menu_away_at_once(browser, live_server, org):
    factories.member("cora", org, Role.COORDINATOR)
    factories.member("carl", org, Role.COORDINATOR)
    factories.member("paula", org, Role.PARTNER)
    pages = {}
    for name in ("cora", "carl"):
        pages[name] = browser.new_context(base_url=live_server.url).new_page()
        pages[name].set_default_timeout(15000)
        log_in(pages[name], name)
    carl = pages["carl"]
    assert "Admin" in carl.inner_text("header nav") and "Active learning" in carl.inner_text(
        "header nav"
    )

    cora = pages["cora"]
    cora.click("header nav >> text=Organisations")
    cora.locator("tr", has_text=org.name).locator("text=Members and roles").click()
    row = cora.locator("#members tr[data-username=carl]")
    assert row.locator("select[name=role]").input_value() == "coordinator"
    row.locator("select[name=role]").select_option("partner")
    row.locator("button", has_text="Save").click()
    assert "carl is now partner" in cora.inner_text("main")
    assert (
        cora.locator("#members tr[data-username=carl] select[name=role]").input_value() == "partner"
    )

    carl.reload()
    menu = carl.inner_text("header nav")
    assert "Admin" not in menu and "Active learning" not in menu and "Organisations" not in menu
    carl.goto("/selection/")
    assert "Only coordinators open selection batches." in carl.inner_text("#refusal")
