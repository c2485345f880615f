"""Log-in throttling on the login page and POST /api/token/: per user name, per address, reset by
time and by a successful log-in."""

import re
import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from faune_platform import throttle
from tests.conftest import closed_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    settings.FAUNE = {
        **settings.FAUNE,
        "LOGIN_MAX_FAILURES_PER_USER": 3,
        "LOGIN_MAX_FAILURES_PER_ADDRESS": 6,
        "LOGIN_LOCKOUT_S": 600,
    }
    return settings.FAUNE


def page_login(username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def api_login(username: str, password: str, address: str = "10.0.0.1"):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/token/", {"username": username, "password": password}, format="json"
    )


def test_the_login_page_locks_a_name_out_after_its_failures_even_with_the_right_password(
    partner, limits
):
    for _ in range(3):
        assert page_login("paula", "wrong").status_code == 200
    refused = page_login("paula", "pw-paula")
    assert refused.status_code == 429
    text = refused.content.decode()
    assert re.search(r"Too many failed log-in attempts .* Try again in 10 minutes\.", text)
    assert "_auth_user_id" not in refused.wsgi_request.session
    # the same name from another address is refused too: the count is per name
    assert page_login("PAULA", "pw-paula", address="10.9.9.9").status_code == 429


def test_the_token_endpoint_answers_429_with_detail_and_retry_after(partner, limits):
    for _ in range(3):
        assert api_login("paula", "wrong").status_code == 400
    refused = api_login("paula", "pw-paula")
    assert refused.status_code == 429
    assert "Try again in 10 minutes" in refused.json()["detail"]
    assert 590 <= int(refused["Retry-After"]) <= 600


def test_page_and_api_share_the_count(partner, limits):
    page_login("paula", "wrong")
    api_login("paula", "wrong")
    page_login("paula", "wrong")
    assert api_login("paula", "pw-paula").status_code == 429


def test_an_address_is_locked_out_whatever_names_it_tries(partner, other_partner, limits):
    for n in range(6):
        page_login(f"nobody{n}", "guess", address="10.0.0.66")
    assert page_login("otto", "pw-otto", address="10.0.0.66").status_code == 429
    assert page_login("otto", "pw-otto", address="10.0.0.67").status_code == 302


def test_a_successful_log_in_resets_the_name_count(partner, limits):
    page_login("paula", "wrong")
    page_login("paula", "wrong")
    assert page_login("paula", "pw-paula").status_code == 302
    page_login("paula", "wrong")
    page_login("paula", "wrong")
    assert (
        page_login("paula", "pw-paula").status_code == 302
    )  # two failures again, under the limit of three


def test_the_lock_out_ends_with_its_window(partner, limits, monkeypatch):
    for _ in range(3):
        page_login("paula", "wrong")
    assert page_login("paula", "pw-paula").status_code == 429
    later = time.time() + 601
    monkeypatch.setattr(throttle.time, "time", lambda: later)
    assert throttle.login_attempt_begin(username="paula", address="10.0.0.1") is None
    assert page_login("paula", "pw-paula").status_code == 302


def test_the_window_is_a_setting(partner, limits, settings):
    settings.FAUNE = {**limits, "LOGIN_LOCKOUT_S": 120}
    for _ in range(3):
        api_login("paula", "wrong")
    response = api_login("paula", "pw-paula")
    assert (
        "Try again in 2 minutes" in response.json()["detail"]
        and int(response["Retry-After"]) <= 120
    )


def test_log_ins_go_on_throttled_by_the_process_while_the_shared_cache_is_down(
    partner, limits, settings, caplog
):
    pytest.importorskip(
        "redis"
    )  # an optional extra; `.ci/run` installs it and runs this file again
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    try:
        assert api_login("paula", "pw-paula").status_code == 201
        for _ in range(3):
            assert api_login("paula", "wrong").status_code == 400
        assert api_login("paula", "pw-paula").status_code == 429
        assert page_login("paula", "pw-paula").status_code == 429
        # the outage is logged once, and the cache is not called again while it rests
        failures = [r for r in caplog.records if "the shared cache failed" in r.getMessage()]
        assert len(failures) == 1
    finally:
        throttle._PROCESS_COUNTS.clear()
        throttle._SharedCacheHealth.failed_at = None


def test_the_shared_cache_is_tried_again_after_its_rest(partner, limits, monkeypatch, caplog):
    """Once SHARED_RETRY_S has passed, the next call goes to the shared cache again (here the test
    settings' in-memory cache, which answers) and says so."""
    monkeypatch.setattr(throttle._SharedCacheHealth, "failed_at", time.monotonic() - 31)
    try:
        assert api_login("paula", "wrong").status_code == 400
        assert throttle._SharedCacheHealth.failed_at is None
        assert any("shared again" in r.getMessage() for r in caplog.records)
    finally:
        throttle._PROCESS_COUNTS.clear()


def test_a_test_process_empties_only_its_own_keys_of_a_shared_cache():
    """Test processes run side by side on one Redis (make test-integration): emptying the cache
    before each test must leave the other processes' log-in counts alone."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from tests.conftest import _empty_own_cache

    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        pytest.skip("a local-memory cache belongs to its process alone")
    client = cache._cache.get_client(write=True)
    client.set("another-run:1:faune:login-failures:address:10.0.0.1", b"3", ex=60)
    cache.set("faune:login-failures:address:10.0.0.1", (3, time.time()), timeout=60)
    _empty_own_cache()
    assert cache.get("faune:login-failures:address:10.0.0.1") is None
    assert client.get("another-run:1:faune:login-failures:address:10.0.0.1") == b"3"
    client.delete("another-run:1:faune:login-failures:address:10.0.0.1")


def test_a_name_written_in_look_alike_letters_counts_against_the_same_account(partner, limits):
    # the log-in form reads "ｐａｕｌａ" (full-width letters) as "paula": so must the count
    for spelling in ("ｐａｕｌａ", "Ｐａｕｌａ", "paula"):
        assert page_login(spelling, "wrong").status_code == 200
    assert page_login("ｐａｕｌａ", "pw-paula").status_code == 429


def test_a_post_without_a_password_is_a_failure_not_a_success(partner, limits):
    page_login("paula", "wrong")
    page_login("paula", "wrong")
    assert page_login("paula", "").status_code == 200  # the form asks for the password
    assert page_login("paula", "pw-paula").status_code == 429  # three failures, not a reset


def test_simultaneous_attempts_are_each_counted_before_any_password_is_checked(partner, limits):
    # what each of several guesses sent at once sees: the attempts before it, counted atomically
    verdicts = [
        throttle.login_attempt_begin(username="paula", address=f"10.0.1.{k}") for k in range(5)
    ]
    assert [lockout is None for lockout in verdicts] == [True, True, True, False, False]


def test_the_admin_log_in_is_the_throttled_log_in_page(limits, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.org", "pw-root")
    response = Client().get("/admin/login/?next=/admin/annotation/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/annotation/"
    for _ in range(3):
        page_login("root", "wrong")
    assert page_login("root", "pw-root").status_code == 429
