"""`bootstrap` and `serve`, the two halves of `make run`, in fresh data dirs of their own."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _env(data_dir: Path, **extra: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        # the embedded default: its own SQLite file and the ORM broker, whatever the suite runs on
        if key not in ("DATABASE_URL", "REDIS_URL", "FAUNE_SECRET_KEY")
    }
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "faune_platform.settings.base",
        "FAUNE_DATA_DIR": str(data_dir),
        **extra,
    }


def _manage(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(data_dir, **extra),  # noqa: S603
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_bootstrap_sets_up_once_and_is_quiet_after(tmp_path):
    first = _manage(tmp_path, "bootstrap", FAUNE_ADMIN_PASSWORD="s3cret-enough")
    assert "Created coordinator 'coordinator'" in first.stdout
    assert (tmp_path / "db.sqlite3").exists() and (tmp_path / "secret_key").exists()
    second = _manage(tmp_path, "bootstrap")
    assert second.stdout.strip().count("\n") == 0 and "Created" not in second.stdout
    taxa = _manage(
        tmp_path, "shell", "-c", "from annotation.models import Taxon; print(Taxon.objects.count())"
    )
    assert (
        taxa.stdout.strip().splitlines()[-1] == "35"
    )  # 26 DeepFaune classes, 3 detector categories, 6 higher taxa


def test_two_data_dirs_never_share_state(tmp_path):
    _manage(tmp_path / "one", "bootstrap")
    _manage(tmp_path / "two", "bootstrap", FAUNE_ADMIN_USER="someone")
    code = (
        "from django.contrib.auth.models import User; "
        "print(sorted(User.objects.values_list('username', flat=1)))"
    )
    users = _manage(tmp_path / "one", "shell", "-c", code)
    assert users.stdout.strip().splitlines()[-1] == "['coordinator']"


def test_serve_starts_web_and_worker_and_stops_both_on_ctrl_c(tmp_path):
    _manage(tmp_path, "bootstrap")
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,  # noqa: S603
            env=_env(tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        body = _wait_for(f"http://127.0.0.1:{port}/")
        assert "Faune" in body
        assert "faune.css" in body and _wait_for(f"http://127.0.0.1:{port}/static/faune/faune.css")
        # The worker starts beside the web server, often after it answers on a busy machine: Ctrl-C
        # once it has announced itself, so the test sees both stop, not a worker cut off mid-start.
        _wait_for_text(log, "Q Cluster")
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running a minute after Ctrl-C:\n{log.read_text()[-3000:]}")
    finally:
        if process.poll() is None:  # its web server and worker run in sessions of their own
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
            for pid in [process.pid, *map(int, children)]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
    printed = log.read_text()
    assert process.returncode == 0 and "Faune stopped." in printed, printed[-3000:]


def _wait_for_text(path: Path, text: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"{text!r} never printed:\n{path.read_text()[-3000:]}"
        time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 local test server
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_web_processes_do_not_import_torch(tmp_path):
    """Pages and the API load every view module; none may pull torch, timm or matplotlib in
    at start-up."""
    code = (
        "import sys; from django.urls import get_resolver; get_resolver().url_patterns; "
        "print(sorted(m for m in ('torch', 'timm', 'matplotlib', 'ultralytics') if m in "
        "sys.modules))"
    )
    result = _manage(tmp_path, "shell", "-c", code, FAUNE_SECRET_KEY="any")
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_bootstrap_queues_jobs_that_a_later_worker_can_read(tmp_path):
    """bootstrap queues the default model's pre-labelling; the worker started afterwards by `serve`
    must accept its signature (it once was signed with a fallback key, and the first job was dropped
    as BadSignature)."""
    _manage(tmp_path, "bootstrap")
    code = (
        "from django_q.models import OrmQ; tasks = [q.task for q in OrmQ.objects.all()]; "
        "print(len(tasks), sorted(t['func'] for t in tasks))"
    )
    queued = _manage(tmp_path, "shell", "-c", code)
    count, funcs = queued.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) >= 1 and "inference.tasks.prelabel_run_chunk" in funcs, queued.stdout


def test_settings_refuse_to_start_without_a_secret_key(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_env(tmp_path),  # noqa: S603
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "No secret key" in result.stderr and "bootstrap" in result.stderr
