"""Load: the platform under gunicorn on PostgreSQL, driven over loopback by simulated experts
working review queues (list the queues, claim a task, fetch each frame's thumbnail, the model's
prediction and similar images, post a verdict) and partners uploading small batches of photos, for a
fixed time. Prints throughput, p50/p95/p99 per action and the errors.

The servers are laid out as the README's scale-out section recommends: one gunicorn for the pages
and the API, and the upload routes on a second one at the lowest CPU priority (nice 19), as a proxy
in front would route them, so that experts are served first and uploads take the CPU left. The same
crowd also runs with the uploads on the first pool (`one_pool`), to show what that layout costs.
The baseline, in the same run and against the same server, is one expert alone for a shorter time:
the ratio says what the crowd costs each expert. Review actions are every expert action (the
uploads are reported apart). It also prints what each request costs in CPU, in the web server, in
the database and in the clients: with every core busy, the cores divided by that cost is the
throughput the machine allows, and so the mean wait of closed-loop clients (Little's law).

Needs a PostgreSQL server: DATABASE_URL=postgres://... (e.g. `eval "$(.ci/services start)"`);
a throw-away database is created on it and dropped at the end. With REDIS_URL (which that command
prints too) the web processes share a Redis cache, as a deployment on several machines does.
Needs gunicorn (`make bench` installs it).

An expert is a person: once a task's photos, prediction and similar images are on the screen, they
look before they post a verdict. That pause is drawn for each task from an exponential distribution
with a mean of --think-seconds (3 s by default: fast for a person choosing a taxon, and exponential
so that verdicts also come in bursts). The same crowd is then run again with no pause at all, every
expert posting as fast as the server answers: that run measures the machine's saturation rather
than what an expert waits, and is reported beside it (`back_to_back`). Partners upload back to back
in every run, as a bulk upload does.

Usage: python bench/load.py [--experts 20] [--partners 5] [--seconds 60] [--tasks 8000]
       [--think-seconds 3] [--gunicorn-workers CORES] [--gunicorn-threads 16]
       [--ingest-workers 1]
Target (issue 13): zero errors, p95 under 200 ms for review actions."""

import argparse
import io
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from http.cookies import SimpleCookie
from pathlib import Path

import numpy as np
import psutil  # installed with ultralytics
import urllib3  # installed with requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# first: it sets the BLAS kernels before faiss loads
from faune_platform.blas import kernels_report  # noqa: E402

# isort: split
from bench.selection_db import _admin, _database_urls  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REVIEW_TAXA = [
    "roe-deer",
    "wild-boar",
    "fox",
    "badger",
    "red-deer",
    "chamois",
    "lagomorph",
    "squirrel",
]


def _jpeg(seed: int, size=(160, 120)) -> bytes:
    from PIL import Image as Picture

    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Picture.fromarray(pixels).save(out, format="JPEG", quality=80)
    return out.getvalue()


def prepare(tasks: int, experts: int, partners: int) -> dict:
    """Experts, partners, a pool of single-frame sequences with the production version's predictions
    and embeddings, the index, and one waiting review task per sequence, in the queue of its taxon.
    Returns the session cookies of the simulated people."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import connection

    from annotation.models import Image, Membership, Organisation, Role, Sequence, Taxon
    from annotation.services.batches import batch_open
    from annotation.services.review import ReviewItem, review_tasks_create
    from faune_platform.sessions import SessionStore
    from inference.models import Embedding, Prediction
    from inference.selectors import production_version
    from inference.services.index import index_rebuild

    version = production_version()
    organisation = Organisation.objects.create(name="Load")
    taxa = list(Taxon.objects.filter(slug__in=REVIEW_TAXA))
    people = {"experts": [], "partners": []}
    users = get_user_model().objects
    for index in range(experts):
        user = users.create_user(f"expert{index}", password="unused-here")
        membership = Membership.objects.create(
            user=user, organisation=organisation, role=Role.EXPERT
        )
        mine = [taxa[index % len(taxa)], taxa[(index + 1) % len(taxa)]]
        membership.review_taxa.set(mine)
        people["experts"].append((user, [taxon.pk for taxon in mine]))
    for index in range(partners):
        user = users.create_user(f"partner{index}", password="unused-here")
        Membership.objects.create(user=user, organisation=organisation, role=Role.PARTNER)
        people["partners"].append((user, []))
    photo = default_storage.save("load/photo.jpg", ContentFile(_jpeg(0, (1280, 960))))
    thumbnail = default_storage.save("load/thumbnail.jpg", ContentFile(_jpeg(0)))
    batch = batch_open(organisation=organisation, uploader=None)
    classes = list(version.classes.order_by("index").values_list("taxon_id", flat=True))
    rng = np.random.default_rng(0)
    images = []
    for index in range(tasks):
        sequence = Sequence.objects.create(organisation=organisation, batch=batch)
        images.append(
            Image(
                organisation=organisation,
                batch=batch,
                sequence=sequence,
                file=photo,
                thumbnail=thumbnail,
                original_name=f"{index}.jpg",
                sha256=f"{index:064x}",
                bytes=1,
                width=1280,
                height=960,
            )
        )
    images = Image.objects.bulk_create(images)
    vectors = rng.normal(size=(tasks, 1280)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    Embedding.objects.bulk_create(
        Embedding(
            image=image,
            backbone_key=version.backbone_key,
            vector=vectors[k].astype(np.float16).tobytes(),
        )
        for k, image in enumerate(images)
    )
    Prediction.objects.bulk_create(
        Prediction(
            image=image,
            version=version,
            category="animal",
            taxon_id=taxa[k % len(taxa)].pk,
            score=0.6,
            top=[[taxa[k % len(taxa)].pk, 0.6], [classes[0], 0.2]],
            logits=rng.normal(size=len(classes)).astype(np.float16).tobytes(),
        )
        for k, image in enumerate(images)
    )
    index_rebuild(version.backbone_key)
    review_tasks_create(
        items=[
            ReviewItem(image=image, queue_taxon=taxa[k % len(taxa)], reason="load", score=0.5)
            for k, image in enumerate(images)
        ],
        origin="load",
    )
    with connection.cursor() as cursor:
        # as autovacuum would by now on a server in use: without statistics on freshly loaded
        # tables the planner picks nested loops that cost several times as much
        cursor.execute("ANALYZE")
    sessions = {}
    for role, members in people.items():
        sessions[role] = []
        for user, queues in members:
            session = SessionStore()
            session.update(
                {
                    "_auth_user_id": str(user.pk),
                    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                    "_auth_user_hash": user.get_session_auth_hash(),
                }
            )
            session.create()
            sessions[role].append((session.session_key, queues))
    return sessions


class Browser:
    """A person's browser: one kept-alive connection with their session cookie, and the CSRF cookie
    and header that their first page (one with a form) sets. Plain urllib3 rather than requests:
    the simulated people share the server's cores, and requests spends about twice the CPU a call,
    which the server's figures would pay for."""

    def __init__(self, base: str, session_key: str, page: str) -> None:
        self.pool = urllib3.connection_from_url(base, maxsize=1, timeout=30, retries=False)
        first = self.pool.request("GET", page, headers={"Cookie": f"sessionid={session_key}"})
        cookies = SimpleCookie()
        for header in first.headers.getlist("Set-Cookie"):
            cookies.load(header)
        csrf = cookies["csrftoken"].value
        self.headers = {
            "Cookie": f"sessionid={session_key}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "Referer": base + page,
        }

    def request(self, method: str, path: str, **body: object) -> urllib3.BaseHTTPResponse:
        return self.pool.request(method, path, headers=self.headers, **body)


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        # A claim that finds its queue empty answers at once: too many would flatter the figures.
        self.empty_claims = 0
        self.lock = threading.Lock()

    def call(
        self, browser: Browser, action: str, method: str, path: str, **body: object
    ) -> urllib3.BaseHTTPResponse | None:
        start = time.perf_counter()
        try:
            response = browser.request(method, path, **body)
        # a refused or broken connection is an error to report
        except Exception as error:  # noqa: BLE001
            with self.lock:
                self.errors.append(f"{action}: {error!r}")
            return None
        elapsed = (time.perf_counter() - start) * 1000
        with self.lock:
            self.latencies[action].append(elapsed)
            if response.status >= 400:
                self.errors.append(f"{action}: {response.status} {response.data[:200]!r}")
        return response


def expert(
    base: str,
    session_key: str,
    queues: list[int],
    recorder: Recorder,
    stop: float,
    seed: int,
    think: float,
) -> None:
    browser, rng = Browser(base, session_key, "/review/"), random.Random(seed)
    while time.monotonic() < stop:
        recorder.call(browser, "queues", "GET", "/api/review/queues/")
        claimed = recorder.call(
            browser, "claim", "POST", "/api/review/claim/", json={"queue": rng.choice(queues)}
        )
        if claimed is not None and claimed.status == 204:  # this queue has run dry
            with recorder.lock:
                recorder.empty_claims += 1
        if claimed is None or claimed.status != 200:
            continue
        task = claimed.json()
        for frame in task["frames"]:
            recorder.call(browser, "thumbnail", "GET", frame["thumbnail_url"])
            recorder.call(browser, "prediction", "GET", f"/api/images/{frame['id']}/prediction/")
            recorder.call(browser, "similar", "GET", f"/api/images/{frame['id']}/similar/")
        if think > 0:  # looking at the photos; the last verdict may come just after the stop
            time.sleep(min(rng.expovariate(1 / think), max(stop - time.monotonic(), 0.0)))
        recorder.call(
            browser,
            "verdict",
            "POST",
            f"/api/review/tasks/{task['id']}/label/",
            json={
                "taxon": REVIEW_TAXA[rng.randrange(len(REVIEW_TAXA))],
                "expected_current": task["labels_stamp"],
            },
        )


def partner(base: str, session_key: str, recorder: Recorder, stop: float, seed: int) -> None:
    browser, sent = Browser(base, session_key, "/upload/"), 0
    while time.monotonic() < stop:
        photos = [
            ("files", (f"p{seed}-{sent + k}.jpg", _jpeg(seed * 100_000 + sent + k), "image/jpeg"))
            for k in range(3)
        ]
        sent += 3
        recorder.call(
            browser,
            "upload",
            "POST",
            "/api/images/",
            fields=[*photos, ("deployment_name", f"camera {seed}")],
        )


class CpuMeter:
    """CPU seconds spent while the clients run, by the web server's processes, the database server
    (every process of it), and the simulated clients (this process): what each request costs the
    machine, and so the throughput its cores allow."""

    def __init__(self, server_pids: list[int], database_name: str) -> None:
        self.server_pids, self.database_name = server_pids, database_name
        self.spent: dict[str, float] = {}

    def __enter__(self) -> "CpuMeter":
        self.start = self._sample()
        return self

    def __exit__(self, *_: object) -> None:
        end = self._sample()
        self.spent = {part: end[part] - self.start.get(part, 0.0) for part in end}

    def _sample(self) -> dict[str, float]:
        def used(process: psutil.Process, *, reaped: bool = False) -> float:
            """User and system seconds; `reaped` adds those of its ended children."""
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                return 0.0
            ended = times.children_user + times.children_system if reaped else 0.0
            return times.user + times.system + ended

        servers = [psutil.Process(pid) for pid in self.server_pids]
        # The whole database server: kept connections are closed after a minute and replaced, so
        # a backend's time is found, once it has ended, in its parent's count of ended children.
        postmaster = self._database_server()
        return {
            "web": sum(
                used(p) for server in servers for p in [server, *server.children(recursive=True)]
            ),
            "database": used(postmaster, reaped=True) + sum(used(p) for p in postmaster.children()),
            "clients": used(psutil.Process()),
        }

    def _database_server(self) -> psutil.Process:
        for process in psutil.process_iter(["cmdline"]):
            if self.database_name in " ".join(process.info["cmdline"] or []):
                return process.parent()
        raise RuntimeError(f"no database backend serves {self.database_name}")


def drive(
    base: str,
    sessions: dict,
    experts: int,
    partners: int,
    seconds: float,
    think: float,
    uploads_to: str = "",
) -> Recorder:
    recorder, stop = Recorder(), time.monotonic() + seconds
    threads = [
        threading.Thread(target=expert, args=(base, key, queues, recorder, stop, k, think))
        for k, (key, queues) in enumerate(sessions["experts"][:experts])
    ]
    threads += [
        threading.Thread(target=partner, args=(uploads_to or base, key, recorder, stop, k))
        for k, (key, _) in enumerate(sessions["partners"][:partners])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return recorder


def _percentiles(values: list[float]) -> dict:
    return (
        {f"p{q}": round(float(np.percentile(values, q)), 1) for q in (50, 95, 99)} if values else {}
    )


def report(recorder: Recorder, seconds: float, title: str) -> float:
    print(title)
    review = []
    for action, values in sorted(recorder.latencies.items()):
        figures = _percentiles(values)
        print(
            f"  {action:<10} {len(values) / seconds:7.1f}/s  p50 {figures['p50']:7.1f}  p95 "
            f"{figures['p95']:7.1f}  p99 {figures['p99']:7.1f} ms  ({len(values)})"
        )
        review += values if action != "upload" else []
    for error in recorder.errors[:10]:
        print("  error:", error)
    print(f"  {len(recorder.errors)} errors, {recorder.empty_claims} claims on an empty queue")
    return float(np.percentile(review, 95)) if review else float("nan")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experts", type=int, default=20)
    parser.add_argument("--partners", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    # mean pause, in seconds, between a task on the screen and its verdict (see the module's text)
    parser.add_argument("--think-seconds", type=float, default=3.0)
    # enough that no queue runs dry (experts claim about 40 tasks a second here, unevenly by queue)
    parser.add_argument("--tasks", type=int, default=8000)
    # One process per core (the GIL lets a process use one), and a thread for every connection a
    # process may hold: a browser keeps its connection to one process, and an upload holds its
    # thread for a long while, so with few threads quick requests queue behind uploads.
    parser.add_argument("--gunicorn-workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--gunicorn-threads", type=int, default=16)
    # Processes of a second gunicorn, at the lowest CPU priority, that takes the uploads (as a proxy
    # would route them): review requests first, uploads with the CPU left. 0: one pool for all.
    parser.add_argument("--ingest-workers", type=int, default=1)
    args = parser.parse_args()
    maintenance, database = _database_urls()
    name = database.rsplit("/", 1)[1].replace("selection", "load")
    database = database.rsplit("/", 1)[0] + "/" + name
    _admin(maintenance, f"CREATE DATABASE {name}")
    servers: list[subprocess.Popen] = []
    try:
        os.environ["DATABASE_URL"] = database
        from bench._django import setup_django

        setup_django()
        sessions = prepare(args.tasks, args.experts, args.partners)
        os.environ["FAUNE_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        base, server = _gunicorn(args.gunicorn_workers, args.gunicorn_threads)
        servers.append(server)
        uploads_to = base
        if args.ingest_workers:
            uploads_to, ingest = _gunicorn(args.ingest_workers, args.gunicorn_threads, nice=19)
            servers.append(ingest)
        _wait_for(base)
        _wait_for(uploads_to)
        baseline = report(
            drive(base, sessions, 1, 0, args.baseline_seconds, think=0.0),
            args.baseline_seconds,
            f"one expert alone, back to back, {args.baseline_seconds:.0f} s",
        )
        crowd = f"{args.experts} experts and {args.partners} partners, {args.seconds:.0f} s"
        where = Where(base, uploads_to, name, [process.pid for process in servers])
        thinking = measure(where, sessions, args, args.think_seconds)
        p95 = report(thinking.recorder, args.seconds, f"{crowd}, {args.think_seconds:g} s to look")
        print(thinking.cpu_line())
        one_pool = None
        if args.ingest_workers:
            one_pool = measure(where.one_pool(), sessions, args, args.think_seconds)
            title = f"{crowd}, {args.think_seconds:g} s to look, uploads on the same pool"
            one_pool_p95 = report(one_pool.recorder, args.seconds, title)
            print(one_pool.cpu_line())
        saturated = measure(where, sessions, args, 0.0)
        saturated_p95 = report(saturated.recorder, args.seconds, f"{crowd}, back to back")
        print(saturated.cpu_line())
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        _admin(maintenance, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(
        json.dumps(
            {
                "metric": "review_p95_ms",
                "value": round(p95, 1),
                "unit": "ms",
                "baseline": round(baseline, 1),
                "ratio": round(p95 / baseline, 3),
                "think_seconds": args.think_seconds,
                **thinking.figures(),
                "back_to_back": {"p95": round(saturated_p95, 1), **saturated.figures()},
                **(
                    {"one_pool": {"p95": round(one_pool_p95, 1), **one_pool.figures()}}
                    if one_pool
                    else {}
                ),
                "gunicorn": f"{args.gunicorn_workers}x{args.gunicorn_threads}",
                "ingest_workers": args.ingest_workers,
                "cores": os.cpu_count(),
            }
        )
    )


class Run:
    """What one crowd's run measured: its latencies and errors, and the CPU it cost."""

    def __init__(self, recorder: Recorder, cpu: CpuMeter, seconds: float) -> None:
        self.recorder, self.cpu, self.seconds = recorder, cpu, seconds

    def review_actions(self) -> int:
        latencies = self.recorder.latencies
        return sum(len(values) for action, values in latencies.items() if action != "upload")

    def cpu_per_request(self) -> dict[str, float]:
        requests_made = sum(len(values) for values in self.recorder.latencies.values())
        return {
            part: round(seconds * 1000 / max(requests_made, 1), 2)
            for part, seconds in self.cpu.spent.items()
        }

    def cpu_line(self) -> str:
        busy = sum(self.cpu.spent.values()) / (self.seconds * (os.cpu_count() or 1))
        costs = ", ".join(f"{part} {ms}" for part, ms in self.cpu_per_request().items())
        return f"  CPU per request (ms): {costs}; the {os.cpu_count()} cores were {busy:.0%} busy"

    def figures(self) -> dict:
        return {
            "errors": len(self.recorder.errors),
            "empty_claims": self.recorder.empty_claims,
            "review_actions_per_s": round(self.review_actions() / self.seconds, 1),
            "per_action": {
                action: _percentiles(values) for action, values in self.recorder.latencies.items()
            },
            "cpu_ms_per_request": self.cpu_per_request(),
        }


@dataclass(frozen=True)
class Where:
    """The servers a run drives: the web's address, where partners upload (the same or an ingest
    pool's), the database, and the server processes whose CPU is counted."""

    base: str
    uploads_to: str
    database: str
    server_pids: list[int]

    def one_pool(self) -> "Where":
        """The same servers with the uploads sent to the web's pool."""
        return replace(self, uploads_to=self.base)


def measure(where: Where, sessions: dict, args: argparse.Namespace, think: float) -> Run:
    with CpuMeter(where.server_pids, where.database) as cpu:
        recorder = drive(
            where.base,
            sessions,
            args.experts,
            args.partners,
            args.seconds,
            think,
            uploads_to=where.uploads_to,
        )
    return Run(recorder, cpu, args.seconds)


def _gunicorn(workers: int, threads: int, *, nice: int = 0) -> tuple[str, subprocess.Popen]:
    """A gunicorn serving the platform on a free loopback port; `nice` lowers its CPU priority."""
    port = _free_port()
    command = [
        *(["nice", "-n", str(nice)] if nice else []),
        sys.executable,
        "-m",
        "gunicorn",
        "faune_platform.wsgi",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(workers),
        "-k",
        "gthread",
        "--threads",
        str(threads),
        # longer than an expert looks at a task: a browser keeps its connection meanwhile (and
        # a proxy in front keeps its own), where gunicorn's 2 s would close it under the client
        "--keep-alive",
        "75",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=os.environ)  # noqa: S603
    return f"http://127.0.0.1:{port}", server


def _wait_for(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib3.request("GET", f"{base}/accounts/login/", timeout=2, retries=False)
            return
        except urllib3.exceptions.HTTPError:  # not listening yet, or still importing the app
            time.sleep(0.5)
    sys.exit("gunicorn did not answer within a minute")


if __name__ == "__main__":
    print(kernels_report(), flush=True)
    main()
