"""Log-in throttling: failed attempts counted per user name and per client address in
Django's cache.

A window opens at the first failure and lasts FAUNE["LOGIN_LOCKOUT_S"]; once a name or an address
reaches its limit of failures within it, every log-in for that name or from that address is refused
until the window ends (even with the right password: otherwise a locked guesser would still learn
it). A successful log-in clears the name's count; the address keeps its count, so one address
cannot try many names by logging in between guesses. The login page and POST /api/token/ share
these counts.

While the shared cache fails (Redis stopped), the counts live in this process's memory, as they do
without Redis: log-ins go on, throttled per process, instead of failing with the cache. After a
failure the process leaves the shared cache alone for SHARED_RETRY_S: every call to a host that is
down would wait for its connection timeout, and a log-in makes several."""

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest
from django.utils.translation import ngettext
from rest_framework.request import Request

_PREFIX = "faune:login-failures:"
_PROCESS_COUNTS = LocMemCache("faune-login-failures", {})
logger = logging.getLogger(__name__)


SHARED_RETRY_S = 30.0


class _SharedCacheHealth:
    """When the shared cache last failed in this process (None: it works), so that an outage is
    logged once and not paid for at every call."""

    failed_at: float | None = None

    @classmethod
    def resting(cls) -> bool:
        failed_at = cls.failed_at  # read once: another thread may clear it meanwhile
        return failed_at is not None and time.monotonic() - failed_at < SHARED_RETRY_S

    @classmethod
    def failed(cls) -> None:
        if cls.failed_at is None:
            logger.warning(
                "log-in counts kept in this process: the shared cache failed", exc_info=True
            )
        cls.failed_at = time.monotonic()

    @classmethod
    def answered(cls) -> None:
        if cls.failed_at is not None:
            logger.warning("log-in counts are shared again: the shared cache answers")
        cls.failed_at = None


def _counts(method: str, *args: Any, **kwargs: Any) -> Any:
    """A cache call on the shared cache, or on this process's memory when the shared one fails."""
    if _SharedCacheHealth.resting():
        return getattr(_PROCESS_COUNTS, method)(*args, **kwargs)
    try:
        result = getattr(cache, method)(*args, **kwargs)
    except Exception:  # whatever the cache's client raises: refused, timed out, reset
        _SharedCacheHealth.failed()
        return getattr(_PROCESS_COUNTS, method)(*args, **kwargs)
    _SharedCacheHealth.answered()
    return result


@dataclass(frozen=True)
class Lockout:
    retry_after_s: int

    @property
    def message(self) -> str:
        minutes = math.ceil(self.retry_after_s / 60)
        return ngettext(
            "Too many failed log-in attempts for this account or from this address. Try again in "
            "%(n)d minute.",
            "Too many failed log-in attempts for this account or from this address. Try again in "
            "%(n)d minutes.",
            minutes,
        ) % {"n": minutes}


def client_address(request: HttpRequest | Request) -> str:
    """The peer address. Behind a reverse proxy this is the proxy's: the proxy must then throttle,
    or pass the real address in REMOTE_ADDR (X-Forwarded-For is not trusted, anyone can write
    it)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def _keys(username: str, address: str) -> dict[str, str]:
    # User names are hashed so any text (long, odd characters) makes a valid cache key; case-folded
    # because log-in by "Paula" and "paula" must count against the same account.
    name = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    return {"user": f"{_PREFIX}user:{name}", "address": f"{_PREFIX}address:{address}"}


def _limits() -> dict[str, int]:
    config = settings.FAUNE
    return {
        "user": config["LOGIN_MAX_FAILURES_PER_USER"],
        "address": config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
    }


def login_lockout(*, username: str, address: str) -> Lockout | None:
    """The lock-out in force for this name or address, if any, with the seconds left until
    it ends."""
    now, waits = time.time(), []
    entries = _counts("get_many", list(_keys(username, address).values()))
    for kind, key in _keys(username, address).items():
        count, started = _in_window(entries.get(key), now)
        if count >= _limits()[kind]:
            waits.append(started + settings.FAUNE["LOGIN_LOCKOUT_S"] - now)
    return Lockout(retry_after_s=max(1, math.ceil(max(waits)))) if waits else None


def login_failure_record(*, username: str, address: str) -> None:
    window = settings.FAUNE["LOGIN_LOCKOUT_S"]
    now = time.time()
    for key in _keys(username, address).values():
        count, started = _in_window(_counts("get", key), now)
        # The entry expires when its window ends, which is what resets the lock-out.
        remaining = max(1, math.ceil(started + window - now))
        _counts("set", key, (count + 1, started), timeout=remaining)


def _in_window(entry: tuple[int, float] | None, now: float) -> tuple[int, float]:
    """(failures, when the window started); none once the window has ended. The entry also
    expires from the cache then, but caches expire entries on their own clock, and a shared cache
    may keep one a little longer: the window is decided here."""
    if entry is None or entry[1] + settings.FAUNE["LOGIN_LOCKOUT_S"] <= now:
        return 0, now
    return entry


def login_success_record(*, username: str, address: str) -> None:
    _counts("delete", _keys(username, address)["user"])
