"""Background jobs, one way for every app.

A job is a row (a model built on `Job`) and a chain of django-q2 tasks that each carry the row's id
and a token:
- `job_enqueue` gives the row a new token and queues a task once the transaction commits;
- the task claims the row with a conditional UPDATE that only the current token passes, so a stale
  or duplicated delivery does nothing;
- long work is cut into chunks of about `JOB_CHUNK_S` seconds; a chunk that has more to do queues
  the next one (`job_continue`), so no task runs long enough for the queue's retry time to matter;
- a chunk keeps `heartbeat_at` fresh while it works; a worker killed mid-chunk leaves a stale
  heartbeat, and either the broker delivers the same task again after its retry time (the token
  still matches, so it resumes) or the periodic sweep queues the job again, up to `JOB_MAX_RESUMES`
  times, then fails it with a message;
- a queued task that no worker ever starts (Redis drops what a killed worker had fetched) is queued
  again by the same sweep once the broker stands empty;
- every task is first written in the caller's transaction (`PendingTask`, an outbox) and handed to
  the broker once it commits; one the broker could not take (Redis stopped) waits there for the
  sweep, and the request that queued it still succeeds.
Chunks must be idempotent: a resumed chunk redoes at most the work of the one that was killed.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import pgettext_lazy

from faune_platform.models import PendingTask

logger = logging.getLogger(__name__)


class JobStatus(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("job status", "queued")
    RUNNING = "running", pgettext_lazy("job status", "running")
    DONE = "done", pgettext_lazy("job status", "done")
    FAILED = "failed", pgettext_lazy("job status", "failed")
    CANCELLED = "cancelled", pgettext_lazy("job status", "cancelled")


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    """The fields every job row shares."""

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.TextField(blank=True)
    token = models.CharField(
        max_length=32, blank=True, help_text="Only the task carrying it may work the job."
    )
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker."
    )
    resumes = models.PositiveSmallIntegerField(
        default=0, help_text="Times the job was queued again after its worker stopped."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


# A task row younger than this may still be on its way: its transaction's hand-over has not run.
PENDING_GRACE_S = 60.0
PENDING_BATCH = 1_000  # tasks one sweep hands over at most

# A job model: `job_claim(UploadBatch, ...)` hands back an UploadBatch, not a bare Job.
J = TypeVar("J", bound=Job)


def _rows(job: Job) -> models.QuerySet[Job]:
    return type(job)._default_manager.filter(pk=job.pk)


def task_enqueue_on_commit(
    task: str, *args: object, name: str | None = None, timeout_s: int | None = None
) -> None:
    """Queue a task once the current transaction commits, so it never runs against rows that may
    still roll back. It is written down in the transaction first (`PendingTask`): if the broker
    cannot take it then, the request still succeeds and the sweep hands the task over later.
    Arguments must be JSON (ids, lists of ids, tokens)."""
    options: dict[str, object] = {"task_name": name} if name else {}
    if timeout_s:
        options["timeout"] = timeout_s
    pending = PendingTask.objects.create(func=task, args=list(args), options=options)
    transaction.on_commit(lambda: _hand_over(pending))


def _hand_over(pending: PendingTask) -> bool:
    """Give the task to the broker and forget it; False, and the row kept, when the broker
    refuses."""
    from django_q.tasks import async_task

    try:
        async_task(pending.func, *pending.args, **pending.options)
    except Exception:  # whatever the broker raises (Redis stopped, refused, timed out)
        logger.warning(
            "the broker did not take task %s; the sweep will hand it over", pending, exc_info=True
        )
        return False
    PendingTask.objects.filter(pk=pending.pk).delete()
    return True


@dataclass(frozen=True)
class WaitingTasks:
    count: int
    since: datetime


def pending_tasks_waiting(*, older_than_s: float = PENDING_GRACE_S) -> WaitingTasks | None:
    """The tasks the broker has not taken for longer than a hand-over takes, if any: while there
    are, the queue (Redis) is down and nothing runs in the background."""
    limit = timezone.now() - timedelta(seconds=older_than_s)
    found = PendingTask.objects.filter(created_at__lt=limit).aggregate(
        count=Count("pk"), since=Min("created_at")
    )
    return WaitingTasks(found["count"], found["since"]) if found["count"] else None


def pending_tasks_hand_over(*, older_than_s: float = PENDING_GRACE_S) -> int:
    """Hand over the tasks the broker did not take when their transaction committed; returns how
    many it took. Rows younger than `older_than_s` are left to their own commit's hand-over."""
    limit = timezone.now() - timedelta(seconds=older_than_s)
    handed = 0
    for pending in PendingTask.objects.filter(created_at__lt=limit)[:PENDING_BATCH]:
        if not _hand_over(pending):
            break  # the broker is still down: the next sweep tries again
        handed += 1
    return handed


def job_start(job: Job) -> str:
    """Give the job a new token (disowning any older task of it) and mark it queued; returns the
    token. A task that is already running in a worker can then work the job itself:
    `job_claim(..., token)`."""
    token = uuid.uuid4().hex
    # queueing is the job's last sign of life until a worker claims it (the sweep's clock)
    _rows(job).update(
        token=token, status=JobStatus.QUEUED, finished_at=None, heartbeat_at=timezone.now()
    )
    job.token, job.status = token, JobStatus.QUEUED
    return token


def job_enqueue(job: Job, task: str, *, timeout_s: int | None = None) -> str:
    """Queue `task(job id, token)` when the current transaction commits; any older task of this job
    is disowned by the new token. Returns the token."""
    token = job_start(job)
    task_enqueue_on_commit(
        task,
        job.pk,
        token,
        name=f"{type(job).__name__.lower()}-{job.pk}-{token[:8]}",
        timeout_s=timeout_s,
    )
    return token


def job_claim(model: type[J], job_id: int, token: str) -> J | None:
    """Take the job for this task if its token is still the current one; None means someone else
    owns it (or it finished, failed or was cancelled meanwhile)."""
    claimed = model._default_manager.filter(pk=job_id, token=token, status__in=ACTIVE).update(
        status=JobStatus.RUNNING, heartbeat_at=timezone.now()
    )
    return model._default_manager.get(pk=job_id) if claimed else None


class JobDisowned(Exception):
    """Not a refusal: the sweep thought this run dead (a heartbeat came late) and gave its job to
    another run; this one stops and leaves the work to that one."""


def job_alive(job: Job, **fields: object) -> None:
    """A heartbeat for a run between long steps: raises JobDisowned when the job is no longer its
    own."""
    if not job_heartbeat(job, **fields):
        raise JobDisowned


def job_heartbeat(job: Job, **fields: object) -> bool:
    """Say the job is alive (and record progress fields); False when this task no longer owns it."""
    return bool(
        _rows(job)
        .filter(token=job.token, status=JobStatus.RUNNING)
        .update(heartbeat_at=timezone.now(), **fields)
    )


def job_continue(job: Job, task: str, *, timeout_s: int | None = None) -> bool:
    """Queue the next chunk, unless another task took the job over meanwhile."""
    with transaction.atomic():
        owned = (
            _rows(job)
            .select_for_update()
            .filter(token=job.token, status=JobStatus.RUNNING)
            .exists()
        )
        if owned:
            job_enqueue(job, task, timeout_s=timeout_s)
    return owned


def job_finish(
    job: Job, *, status: str = JobStatus.DONE, error: str = "", **fields: object
) -> bool:
    """End the job (done, failed with a message, cancelled), unless another task owns it now."""
    return bool(
        _rows(job)
        .filter(token=job.token)
        .update(status=status, error=error[:5000], finished_at=timezone.now(), **fields)
    )


def job_fail(job: Job, error: BaseException | str) -> bool:
    """End the job as failed. A message is shown as it is; an exception (our bug, re-raised by the
    caller into the worker's log with its traceback) only by its type: its text can hold a server
    path, and whoever asked for the job reads the error."""
    message = error if isinstance(error, str) else unexpected(error)
    return job_finish(job, status=JobStatus.FAILED, error=message)


def unexpected(error: BaseException) -> str:
    return (
        f"stopped by an unexpected error ({type(error).__name__}); the worker's log has its details"
    )


@dataclass
class ChunkClock:
    """How long a chunk may keep working before it hands over to the next one."""

    started: float
    budget_s: float

    @classmethod
    def start(cls) -> "ChunkClock":
        return cls(time.monotonic(), settings.FAUNE["JOB_CHUNK_S"])

    @property
    def spent(self) -> bool:
        return time.monotonic() - self.started >= self.budget_s


@dataclass(frozen=True)
class Resumable:
    """One kind of job for the sweep: its rows, and the task that continues it."""

    model: type[Job]
    task: str
    timeout_s: int | None = None


def job_sweep(kind: Resumable, *, stale_s: float) -> tuple[int, int]:
    """Queue again the jobs silent for longer than `stale_s`: running ones (their worker stopped;
    failed once resumed too often) and, while the broker holds no task at all, queued ones no
    worker took (Redis forgets the task a killed worker had fetched but not started). A queued
    job is never failed for waiting: its worker may be busy with a long round. Returns (resumed,
    failed)."""
    limit = timezone.now() - timedelta(seconds=stale_s)
    # No heartbeat at all: a record left "running" by a worker from before heartbeats existed.
    silent = Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True)
    stranded = Q(status=JobStatus.RUNNING)
    if _broker_empty():  # else a queued job may only be waiting its turn
        # with a token: handed to the broker (an upload batch is a job row that never is)
        stranded |= Q(status=JobStatus.QUEUED) & ~Q(token="")
    resumed = failed = 0
    for job in kind.model._default_manager.filter(silent, stranded):
        running = job.status == JobStatus.RUNNING
        if running and job.resumes >= settings.FAUNE["JOB_MAX_RESUMES"]:
            failed += job_fail(
                job,
                f"its worker stopped {job.resumes + 1} times while running it "
                "(killed, out of memory or restarted); see the worker's log",
            )
            continue
        counted = {"resumes": F("resumes") + 1} if running else {"heartbeat_at": timezone.now()}
        with transaction.atomic():  # only if no worker took it meanwhile
            if _rows(job).filter(token=job.token, status=job.status).update(**counted):
                job_enqueue(job, kind.task, timeout_s=kind.timeout_s)
                resumed += 1
    return resumed, failed


def _broker_empty() -> bool:
    from django_q.brokers import get_broker

    waiting: int = get_broker().queue_size()
    return waiting == 0


def sweep_all() -> dict[str, tuple[int, int]]:
    """The periodic sweep over every app's resumable jobs, named in settings (apps import nothing
    from each other through it)."""
    # first, so that the broker holds them before the sweeps below ask whether it is empty
    report = {"pending tasks": (pending_tasks_hand_over(), 0)}
    for path in settings.FAUNE["JOB_SWEEPS"]:
        sweep: Callable[[], tuple[int, int]] = import_string(path)
        report[path] = sweep()
    return report


SWEEP_SCHEDULE_NAME = "faune-job-sweep"


def sweep_schedule_ensure() -> None:
    """Create or update the Schedule of the sweep (idempotent; run by bootstrap)."""
    from django_q.models import Schedule

    minutes = settings.FAUNE["JOB_SWEEP_MINUTES"]
    Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE_NAME,
        defaults={
            "func": "faune_platform.jobs.sweep_all",
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
            "next_run": timezone.now() + timedelta(minutes=minutes),
        },
    )
