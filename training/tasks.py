"""Background jobs of the training app: take ids, claim with a conditional update, leave nothing half-done."""


def training_round_run(round_id: int) -> None:
    from training.services.round_run import training_round_run as run  # torch stays out of web processes

    run(round_id)


def training_round_if_due() -> None:
    from training.services.schedule import training_round_if_due as start_if_due

    start_if_due()
