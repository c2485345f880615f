"""Real django-q2 worker processes for tests, pointed at the database the suite runs on (its SQLite
file, or the PostgreSQL test database when DATABASE_URL names one) and at its broker (the ORM, or
Redis with REDIS_URL)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The URL of the database this test process uses (pytest-django's test database, not the
    configured one)."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    credentials = quote(params["USER"] or "", safe="")
    if params["PASSWORD"]:
        credentials += ":" + quote(params["PASSWORD"], safe="")
    host = f"{params['HOST'] or 'localhost'}:{params['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{params['NAME']}"


def worker_environment(settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "faune_platform.settings.base",
        "DATABASE_URL": database_url(),
        "FAUNE_DATA_DIR": str(settings.DATA_DIR),
        "FAUNE_SECRET_KEY": settings.SECRET_KEY,  # tasks are signed
        "FAUNE_QUEUE_NAME": settings.Q_CLUSTER["name"],
        # in object storage, the test's own folder of the bucket (see tests/conftest.py)
        "FAUNE_S3_PREFIX": settings.STORAGES["default"].get("OPTIONS", {}).get("location", ""),
        **extra,
    }


def worker_start(settings, **extra: str) -> subprocess.Popen:
    """A `qcluster` in its own process group, so that stopping it stops its sentinel, workers
    and monitor. It writes to a file, not a pipe: a pipe nobody reads fills up and blocks a
    talkative worker."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by worker_stop)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,  # noqa: S603
        env=worker_environment(settings, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log = log  # type: ignore[attr-defined]
    return process


def worker_stop(process: subprocess.Popen, *, kill: bool = False) -> str:
    """Stop the cluster (SIGKILL with kill=True, as a crash would) and return the tail of what
    it printed."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    process.log.seek(0)
    return process.log.read().decode(errors="replace")[-3000:]


def resume_bound(settings, stale_s: float, timeout_s: float) -> float:
    """How soon a job whose worker was killed must be done again. The ORM broker delivers the task
    again after its retry time; Redis cannot, and the periodic sweep (scheduled here as bootstrap
    does) queues the stale job again: its minute, the staleness and the scheduler's tick. Both plus
    start-up and the rest of the work."""
    if "redis" in settings.Q_CLUSTER:
        from faune_platform.jobs import sweep_schedule_ensure

        sweep_schedule_ensure()
        return 60 + stale_s + 30 + 90
    return timeout_s + 10 + 90


def wait_until(condition, timeout: float, what: str, explain=lambda: "") -> float:
    """Poll `condition` until it holds; fail the test naming `what` (and what `explain` returns: the
    worker's log, say) after `timeout` seconds. Returns the wait."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout} s\n{explain()}")
        time.sleep(0.3)
    return time.monotonic() - started
