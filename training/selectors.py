"""Reads of the training app that web processes make (no torch, no plotting)."""
import json
from pathlib import Path

from training.models import TrainingRound


def frozen_split(training_round: TrainingRound) -> dict | None:
    """The labels and split a round froze when it ran (see `services.round_data`); None before it ran."""
    path = Path(training_round.snapshot.get("file", ""))
    return json.loads(path.read_text()) if path.is_file() else None
