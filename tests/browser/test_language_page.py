"""The footer's language switch in a real Chromium: Français turns the page and the navigation
French, the choice follows the person to the next pages (and through logging in), English turns
everything back."""

import re

import pytest

from tests.browser.conftest import log_in, switch_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def nav_words(page) -> list[str]:
    return [word.strip() for word in page.locator("header.top nav a").all_inner_texts()]


def pressed(page) -> list[str]:
    """The languages the switch marks as the active one."""
    return page.locator("#language-switch button[aria-pressed=true]").all_inner_texts()


def test_switching_to_french_turns_the_navigation_french_and_it_stays_french(page, partner):
    log_in(page, "paula")
    page.goto("/deployments/")
    assert nav_words(page)[:2] == ["Images", "Upload"] and "Deployments" in nav_words(page)
    assert pressed(page) == ["English"] and page.locator("html").get_attribute("lang") == "en"
    switch = page.locator("#language-switch")
    assert switch.is_visible()
    main = page.locator("main").bounding_box()
    assert switch.bounding_box()["y"] >= main["y"] + main["height"], (
        "the switch sits in the footer, under the page"
    )

    switch_to(page, "Français")
    assert page.url.endswith("/deployments/"), (
        "the switch brings the person back to the page they were on"
    )
    assert (
        "Dépôt" in nav_words(page)
        and "Déploiements" in nav_words(page)
        and "Upload" not in nav_words(page)
    )
    assert pressed(page) == ["Français"] and page.locator("html").get_attribute("lang") == "fr"
    # each language keeps its own name, so a person who reads only one of them finds the way back
    assert page.locator("#language-switch button").all_inner_texts() == ["English", "Français"]

    page.locator("a.brand").click()  # the next page keeps the choice
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("h1").inner_text() == "Bienvenue, paula"
    assert page.get_by_role("button", name="Déconnecter paula").is_visible()

    switch_to(page, "English")
    assert page.locator("h1").inner_text() == "Welcome, paula"
    assert "Upload" in nav_words(page) and "Dépôt" not in nav_words(page)
    assert pressed(page) == ["English"]


def test_a_visitor_chooses_french_by_keyboard_before_logging_in(page, partner):
    page.goto("/accounts/login/")
    assert page.locator("h1").inner_text() == "Log in"
    page.locator("#language-switch").get_by_role("button", name="Français").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Connexion"

    log_in(page, "paula")
    assert page.locator("h1").inner_text() == "Bienvenue, paula"
    assert "Dépôt" in nav_words(page)
