"""Security as a person meets it: the log-in lock-out message, the API tokens page, a spent
upload allowance."""

import pytest
from django.utils import timezone

from annotation.models import Image, UploadBatch, UploadUsage
from faune_platform.models import ApiToken
from tests.browser.conftest import log_in
from tests.factories import jpeg_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


def test_a_locked_out_log_in_says_how_long_to_wait(page, partner, settings):
    settings.FAUNE = {**settings.FAUNE, "LOGIN_MAX_FAILURES_PER_USER": 2, "LOGIN_LOCKOUT_S": 300}
    page.goto("/accounts/login/")
    for password in ("wrong", "wrong again", "pw-paula"):
        page.fill("#id_username", "paula")
        page.fill("#id_password", password)
        page.click("button[type=submit]")
    error = page.locator(".errorlist")
    assert error.is_visible()
    assert error.inner_text() == (
        "Too many failed log-in attempts for this account or from this address. "
        "Try again in 5 minutes."
    )
    # the message sits above the fields, where the eye lands after submitting
    assert error.bounding_box()["y"] < page.locator("#id_username").bounding_box()["y"]
    assert page.url.endswith("/accounts/login/")
    assert "Log in" in page.locator("header nav").inner_text()  # still signed out


def test_tokens_are_made_shown_once_listed_and_revoked_on_their_page(page, partner):
    log_in(page, "paula")
    page.locator("header nav").get_by_role("link", name="API tokens").click()
    assert page.locator("#no-tokens").inner_text() == "You have no token that works."
    assert page.locator("#id_days").input_value() == "90"
    page.fill("#id_name", "field laptop")
    page.fill("#id_days", "30")
    page.click("#token-form button[type=submit]")
    secret = page.locator("#new-token-secret")
    assert secret.is_visible() and len(secret.inner_text()) == 64
    assert "shown only this once" in page.locator("#new-token").inner_text()
    row = page.locator("#token-list tbody tr")
    assert (
        row.count() == 1
        and "field laptop" in row.inner_text()
        and secret.inner_text()[:8] in row.inner_text()
    )
    shown = secret.inner_text()
    page.goto("/accounts/tokens/")
    assert page.locator("#new-token-secret").count() == 0 and shown not in page.content()
    page.locator("#token-list").get_by_role("button", name="Revoke").click()
    assert "The token was revoked" in page.locator(".message").inner_text()
    assert page.locator("#no-tokens").is_visible() and not ApiToken.objects.exists()


def test_an_out_of_range_expiry_is_refused_with_a_message(page, partner):
    log_in(page, "paula")
    page.goto("/accounts/tokens/")
    page.fill("#id_name", "forever")
    page.eval_on_selector(
        "#id_days", "input => { input.removeAttribute('max'); input.value = '5000'; }"
    )
    page.click("#token-form button[type=submit]")
    assert "less than or equal to 365" in page.locator("#token-form .errorlist").inner_text()
    assert not ApiToken.objects.exists()


def test_changing_the_password_revokes_the_tokens_on_the_page(page, partner):
    log_in(page, "paula")
    page.goto("/accounts/tokens/")
    page.fill("#id_name", "script")
    page.click("#token-form button[type=submit]")
    page.get_by_role("link", name="Change your password").click()
    page.fill("#id_old_password", "pw-paula")
    page.fill("#id_new_password1", "a much longer one 42")
    page.fill("#id_new_password2", "a much longer one 42")
    page.click("#password-change button[type=submit]")
    assert "1 API token was revoked" in page.locator(".message").inner_text()
    assert page.locator("#no-tokens").is_visible()


def test_a_spent_daily_allowance_stops_the_upload_with_the_reason(
    page, partner, org, tmp_path, settings
):
    settings.FAUNE = {**settings.FAUNE, "DAILY_UPLOAD_FILES": 10}
    UploadUsage.objects.create(organisation=org, day=timezone.now().date(), files=10)
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes())
    log_in(page, "paula")
    page.goto("/upload/")
    page.fill("#deployment-name", "Col")
    page.set_input_files("#files", [str(path)])
    error = page.locator("#upload-error")
    error.wait_for(state="visible")
    text = error.inner_text()
    assert text.startswith("Upload stopped: Parc des Écrins has sent 10 files")
    assert "all of its daily allowance of 10 files" in text and "resets at midnight UTC, in" in text
    assert (
        page.locator("#upload-open").is_hidden() and page.locator("#progress-box").is_hidden()
    )  # no batch opened
    assert Image.objects.count() == 0 and not UploadBatch.objects.exists()


def test_an_upload_that_would_go_over_the_allowance_stops_with_the_reason(
    page, partner, org, tmp_path, settings
):
    settings.FAUNE = {**settings.FAUNE, "DAILY_UPLOAD_FILES": 10}
    UploadUsage.objects.create(organisation=org, day=timezone.now().date(), files=9)
    paths = []
    for seed in (1, 2):
        paths.append(tmp_path / f"{seed}.jpg")
        paths[-1].write_bytes(jpeg_bytes(seed=seed))
    log_in(page, "paula")
    page.goto("/upload/")
    page.fill("#deployment-name", "Col")
    page.set_input_files("#files", [str(p) for p in paths])
    error = page.locator("#upload-error")
    error.wait_for(state="visible")
    assert (
        "this request (2 files, " in error.inner_text() and "would go over it" in error.inner_text()
    )
    assert Image.objects.count() == 0
