"""python manage.py training_round [--wait] [--head auto|linear|mlp] [--min-labels 10] [--seed 0]

Starts a retraining round. With --wait it runs the round here and now (no worker needed) and prints
its result as a JSON line; otherwise the worker runs it."""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from training.models import TrainingRound
from training.services.rounds import DEFAULTS, HEAD_KINDS, RoundBusy, training_round_start


class Command(BaseCommand):
    help = "Start a retraining round on the current labelled pool."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait", action="store_true", help="run the round in this process and report it"
        )
        parser.add_argument(
            "--mode",
            choices=["head", "finetune"],
            default="head",
            help="train a head on stored embeddings, or fine-tune the backbone (GPU worker)",
        )
        parser.add_argument("--head", choices=HEAD_KINDS, default=DEFAULTS["head"])
        parser.add_argument(
            "--min-labels", type=int, default=10, help="training labels a taxon needs"
        )
        parser.add_argument("--epochs", type=int, default=60)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, **options: object) -> None:
        params = {
            "mode": options["mode"],
            "head": options["head"],
            "min_labels": options["min_labels"],
            "epochs": options["epochs"],
        }
        try:
            training_round = training_round_start(
                user=None, params=params, seed=options["seed"], queue=not options["wait"]
            )
        except RoundBusy as error:
            raise CommandError(str(error)) from None
        if not options["wait"]:
            self.stdout.write(f"Round {training_round.pk} queued; the worker runs it.")
            return
        from training.services.round_run import training_round_run

        training_round_run(training_round.pk)
        training_round = TrainingRound.objects.get(pk=training_round.pk)
        self.stderr.write(training_round.log)
        test = training_round.metrics.get("candidate", {}).get("test", {})
        self.stdout.write(
            json.dumps(
                {
                    "round": training_round.pk,
                    "status": training_round.status,
                    "candidate": training_round.candidate_id,
                    "accuracy": test.get("accuracy"),
                    "macro_f1": test.get("macro_f1"),
                }
            )
        )
        if training_round.status != "done":
            raise CommandError(
                f"Round {training_round.pk} {training_round.status}; see its log above."
            )
