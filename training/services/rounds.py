"""Retraining rounds as web processes see them: start one (never two at once), cancel one, write its
log. Running a round needs torch and lives in `round_run` (worker side)."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from faune_platform.errors import StateConflict
from faune_platform.jobs import ACTIVE, task_enqueue_on_commit
from training.models import RoundStatus, TrainingRound

# "auto": a linear head, or a prototype head while labels are few if it scores better out of fold
# (training/engine/few_labels.py); chosen on the active-learning suite, as the simulation trains.
HEAD_KINDS = ("auto", "linear", "mlp")
DEFAULTS = {
    "mode": "head",
    "head": "auto",
    "min_labels": 10,
    "epochs": 60,
    "learning_rate": 1e-3,
    "finetune_epochs": 10,
}


class RoundBusy(StateConflict):
    pass


def round_dir(round_id: int) -> Path:
    """Where a round keeps its label snapshot, metrics and plots."""
    return Path(settings.DATA_DIR) / "rounds" / str(round_id)


def training_round_start(
    *, user: User | None, params: dict[str, Any] | None = None, seed: int = 0, queue: bool = True
) -> TrainingRound:
    """Create a round (refused while another is queued or running) and queue it for the worker,
    unless the caller runs it itself (`queue=False`, as `training_round --wait` does)."""
    rounds_fail_stale()
    try:
        with transaction.atomic():
            training_round = TrainingRound.objects.create(
                created_by=user, params={**DEFAULTS, **(params or {})}, seed=seed
            )
            if queue:  # one long task, with its own time limit (see ROUND_TIMEOUT_S)
                task_enqueue_on_commit(
                    "training.tasks.training_round_run",
                    training_round.pk,
                    name=f"training-round-{training_round.pk}",
                    timeout_s=settings.FAUNE["ROUND_TIMEOUT_S"],
                )
    except IntegrityError:
        busy = TrainingRound.objects.filter(active=True).first()
        raise RoundBusy(
            _("Round #%(number)s is already %(status)s; wait for it to finish or cancel it.")
            % {"number": busy.pk if busy else "?", "status": busy.status if busy else _("active")}
        ) from None
    return training_round


def rounds_fail_stale() -> int:
    """A round whose worker was killed stays 'running' and would block every later round: past a
    period with no heartbeat it is marked failed, with a line in its log saying so (it registered
    nothing: registration is its last, atomic step). Run by the periodic job sweep and before a
    round starts."""
    limit = timezone.now() - timedelta(minutes=settings.FAUNE["ROUND_STALE_MINUTES"])
    failed = 0
    for stale in TrainingRound.objects.filter(
        active=True, status=RoundStatus.RUNNING, updated_at__lt=limit
    ):
        # ended first, then said: a round that ended meanwhile (its worker was alive) keeps its
        # own last line, and is not counted
        if round_finish(stale.pk, status=RoundStatus.FAILED):
            round_log(
                stale.pk,
                line=f"no progress since {stale.updated_at:%Y-%m-%d %H:%M}: the worker stopped; "
                "marked failed",
            )
            failed += 1
    return failed


def training_round_cancel(*, training_round: TrainingRound) -> None:
    TrainingRound.objects.filter(pk=training_round.pk, status=RoundStatus.QUEUED).update(
        status=RoundStatus.CANCELLED, active=None, finished_at=timezone.now()
    )
    TrainingRound.objects.filter(pk=training_round.pk).update(cancel_requested=True)


def round_log(round_id: int, *, line: str, progress: float | None = None) -> None:
    """Append a line in one UPDATE (never read-modify-write: lines written at the same moment by the
    worker and a page would be lost); `updated_at` is the heartbeat that tells a live round from a
    killed one."""
    fields: dict[str, object] = {
        "log": Concat(F("log"), Value(f"{timezone.now():%H:%M:%S} {line}\n")),
        "updated_at": timezone.now(),
    }
    if progress is not None:
        fields["progress"] = progress
    TrainingRound.objects.filter(pk=round_id).update(**fields)


def round_finish(round_id: int, *, status: str, **fields: object) -> bool:
    """End a round that is still queued or running; False when it already ended (a round the sweep
    marked failed stays failed, whatever its worker says later)."""
    return bool(
        TrainingRound.objects.filter(pk=round_id, status__in=ACTIVE).update(
            status=status, active=None, finished_at=timezone.now(), **fields
        )
    )
