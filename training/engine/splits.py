"""Honest splits: by sequence (burst frames never sit on both sides) and, for out-of-sample figures,
by whole deployment. Membership is a hash of the id, so a sequence's side never moves as the pool
grows and versions trained months apart are scored on the same test sequences."""

import hashlib
from dataclasses import dataclass

TRAIN, VALIDATION, TEST, HOLDOUT = "train", "validation", "test", "holdout"


@dataclass(frozen=True)
class SplitRule:
    test_fraction: float = 0.15
    validation_fraction: float = 0.15
    holdout_deployment_fraction: float = 0.1  # whole cameras kept out for an out-of-sample figure
    salt: str = (
        "faune-split-v1"  # changing it reshuffles every split: only for a deliberate new benchmark
    )


def stable_fraction(key: str, salt: str) -> float:
    """A number in [0, 1) fixed by the key: the same on every machine and in every year."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(
    sequence_key: str, deployment_key: str | None, rule: SplitRule = SplitRule()
) -> str:  # noqa: B008
    if (
        deployment_key is not None
        and stable_fraction(f"deployment:{deployment_key}", rule.salt)
        < rule.holdout_deployment_fraction
    ):
        return HOLDOUT
    position = stable_fraction(f"sequence:{sequence_key}", rule.salt)
    if position < rule.test_fraction:
        return TEST
    if position < rule.test_fraction + rule.validation_fraction:
        return VALIDATION
    return TRAIN


def split_of(
    sequence_id: int,
    deployment_id: int | None,
    rule: SplitRule = SplitRule(),  # noqa: B008
) -> str:
    """The side of a stored sequence, keyed by its database ids (no camera: None or a
    negative id)."""
    has_camera = deployment_id is not None and deployment_id >= 0
    return assign_split(str(sequence_id), str(deployment_id) if has_camera else None, rule)
