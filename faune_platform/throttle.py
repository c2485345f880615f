"""Log-in throttling: failed attempts counted per user name and per client address in
Django's cache.

A window opens at the first attempt and lasts FAUNE["LOGIN_LOCKOUT_S"]; once a name or an address
reaches its limit of failures within it, every log-in for that name or from that address is refused
until the window ends (even with the right password: otherwise a locked guesser would still learn
it). Each attempt is counted, in one atomic step, before its password is checked: guesses sent
together cannot all pass a check that none of them has been counted in yet. A successful log-in
then clears the name's count and takes its own attempt back from the address's; the address keeps
its failures, so one address cannot try many names by logging in between guesses. The login page,
the admin's (which sends to it) and POST /api/token/ share these counts.

While the shared cache fails (Redis stopped), the counts live in this process's memory, as they do
without Redis: log-ins go on, throttled per process, instead of failing with the cache. After a
failure the process leaves the shared cache alone for SHARED_RETRY_S: every call to a host that is
down would wait for its connection timeout, and a log-in makes several."""

import hashlib
import logging
import math
import time
import unicodedata
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
    except ValueError:  # incr or decr of a key that has just expired: the cache answered
        raise
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
    # User names are hashed so any text (long, odd characters) makes a valid cache key; normalised
    # and case-folded as the log-in form reads them, so that "Paula", "paula" and "ｐａｕｌａ"
    # (full-width letters, which the form turns into "paula") count against the same account.
    normal = unicodedata.normalize("NFKC", username.strip()).casefold()
    name = hashlib.sha256(normal.encode()).hexdigest()
    return {"user": f"{_PREFIX}user:{name}", "address": f"{_PREFIX}address:{address}"}


def _limits() -> dict[str, int]:
    config = settings.FAUNE
    return {
        "user": config["LOGIN_MAX_FAILURES_PER_USER"],
        "address": config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
    }


def login_attempt_begin(*, username: str, address: str) -> Lockout | None:
    """Count this attempt against its name and its address, before its password is checked; the
    lock-out in force if either count is now over its limit, with the seconds until it ends. An
    attempt that fails needs nothing more; one that succeeds calls login_success_record."""
    now, waits = time.time(), []
    for kind, key in _keys(username, address).items():
        count, started = _counted(key, now)
        if count > _limits()[kind]:
            waits.append(started + settings.FAUNE["LOGIN_LOCKOUT_S"] - now)
    return Lockout(retry_after_s=max(1, math.ceil(max(waits)))) if waits else None


def _counted(key: str, now: float) -> tuple[int, float]:
    """Add one attempt to the count at `key`, opening a window if none is open: (attempts in the
    window, this one included; when the window started). Both entries expire when the window ends,
    which is what resets the lock-out."""
    window, since = settings.FAUNE["LOGIN_LOCKOUT_S"], f"{key}:since"
    started = _counts("get", since)
    # caches expire entries on their own clock, and a shared cache may keep one a little longer:
    # whether the window has ended is decided here
    if started is not None and started + window <= now:
        _counts("delete_many", [key, since])
    _counts("add", since, now, timeout=window)  # only the first of simultaneous attempts opens it
    _counts("add", key, 0, timeout=window)
    try:
        count = _counts("incr", key)
    except ValueError:  # the window ended between the two calls: this attempt opens the next
        _counts("set", key, 1, timeout=window)
        count = 1
    return count, _counts("get", since) or now


def login_success_record(*, username: str, address: str) -> None:
    keys = _keys(username, address)
    _counts("delete_many", [keys["user"], f"{keys['user']}:since"])
    try:
        _counts("decr", keys["address"])  # a success is not one of the address's failures
    except ValueError:  # its window has just ended
        pass
