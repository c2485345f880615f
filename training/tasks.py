"""Background jobs of the training app: take ids, claim with a conditional update, leave
nothing half-done."""

from django.conf import settings

from faune_platform.jobs import Resumable, job_sweep


def training_round_run(round_id: int) -> None:
    from training.services.round_run import (
        training_round_run as run,
    )  # torch stays out of web processes

    run(round_id)


def training_round_if_due() -> None:
    from training.services.schedule import training_round_if_due as start_if_due

    start_if_due()


def release_publish_run(request_id: int, token: str) -> None:
    from training.services.releases import release_publish_run as run

    run(request_id, token=token)


def jobs_sweep() -> tuple[int, int]:
    """Publishing jobs whose worker stopped start over; rounds whose worker stopped are marked
    failed (a round is one long task: it cannot resume halfway, and it registered nothing)."""
    from training.models import ReleaseRequest
    from training.services.rounds import rounds_fail_stale

    resumed, failed = job_sweep(
        Resumable(ReleaseRequest, "training.tasks.release_publish_run"),
        stale_s=settings.FAUNE["JOB_STALE_S"],
    )
    return resumed, failed + rounds_fail_stale()
