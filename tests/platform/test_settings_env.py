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
