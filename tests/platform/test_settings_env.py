from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from faune_platform.settings.env import env_bool, env_float, env_int, env_list, env_path


def test_typed_helpers_read_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_FLOAT", "0.5")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    monkeypatch.setenv("X_PATH", "/tmp/somewhere")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 1) == 42
    assert env_float("X_FLOAT", 1.0) == 0.5
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    assert env_path("X_PATH", Path("/x")) == Path("/tmp/somewhere")
    assert env_int("X_UNSET", 7) == 7


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (lambda: env_bool("X", False), "maybe", "not a boolean"),
        (lambda: env_int("X", 1), "ten", "not an integer"),
        (lambda: env_int("X", 1, minimum=5), "2", "at least 5"),
        (lambda: env_float("X", 1.0), "fast", "not a number"),
        (lambda: env_path("X", Path("/")), " ", "empty"),
    ],
)
def test_bad_values_fail_loudly(monkeypatch, reader, value, message):
    monkeypatch.setenv("X", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        reader()


@pytest.mark.parametrize(
    ("redis_url", "cache_url", "expected"),
    [
        ("", "", ""),  # no Redis: each process keeps a local cache
        ("redis://queue-host:6379/0", "", "redis://queue-host:6379/1"),
        ("redis://:secret@queue-host:6379/4", "", "redis://:secret@queue-host:6379/5"),
        ("redis://queue-host:6379", "", "redis://queue-host:6379/1"),
        ("redis://queue-host:6379/0", "redis://cache-host:6379/0", "redis://cache-host:6379/0"),
        ("", "redis://cache-host:6379/2", "redis://cache-host:6379/2"),
    ],
)
def test_the_shared_cache_never_shares_the_job_queues_database(
    monkeypatch, redis_url, cache_url, expected
):
    """Clearing a Redis cache empties its whole database: the cache takes the next one."""
    from faune_platform.settings.base import _cache_url

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("FAUNE_CACHE_URL", cache_url)
    assert _cache_url() == expected


@pytest.mark.parametrize(
    ("url", "timeout_s"),
    [
        ("redis://queue-host:6379/0", 2.0),
        ("redis://:secret@queue-host:6379/4?health_check_interval=30", 2.0),
        ("redis://queue-host:6379/0?socket_connect_timeout=10", 10.0),  # the deployment's own wins
    ],
)
def test_redis_is_given_up_on_after_a_connect_timeout(url, timeout_s):
    """A Redis host that drops packets costs a request seconds, not the system's minutes: the
    client the queue and the cache build from the URL carries the timeout."""
    redis = pytest.importorskip("redis")  # optional: `.ci/run` installs it and runs this again

    from faune_platform.settings.base import redis_url_with_connect_timeout

    pool = redis.ConnectionPool.from_url(redis_url_with_connect_timeout(url))
    assert pool.connection_kwargs["socket_connect_timeout"] == timeout_s
    assert pool.connection_kwargs["host"] == "queue-host"
