"""Periodic rounds: a django-q2 Schedule checks at a set cadence whether enough new expert labels
came in."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from annotation.models import Annotation, LabelSource
from training.models import RoundStatus, TrainingRound
from training.services.rounds import RoundBusy, training_round_start

SCHEDULE_NAME = "faune-periodic-training-round"


def training_schedule_ensure() -> None:
    """Create or update the Schedule to the configured cadence (idempotent; run by bootstrap)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "training.tasks.training_round_if_due",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.FAUNE["ROUND_CADENCE_MINUTES"],
            "repeats": -1,
            "next_run": timezone.now() + timedelta(minutes=settings.FAUNE["ROUND_CADENCE_MINUTES"]),
        },
    )


def new_expert_labels() -> int:
    last = TrainingRound.objects.filter(status=RoundStatus.DONE).order_by("-snapshot_at").first()
    labels = Annotation.objects.filter(source=LabelSource.EXPERT)
    return (
        labels.filter(created_at__gt=last.snapshot_at).count()
        if last and last.snapshot_at
        else labels.count()
    )


def training_round_if_due() -> TrainingRound | None:
    if new_expert_labels() < settings.FAUNE["ROUND_MIN_NEW_EXPERT_LABELS"]:
        return None
    try:
        return training_round_start(user=None, params={"trigger": "schedule"})
    except RoundBusy:
        return None
