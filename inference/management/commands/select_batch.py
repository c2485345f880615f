"""python manage.py select_batch [--strategy hybrid] [--size 100] [--organisation ID] [--deployment
ID] [--taxon NAME] [--seed 0]: open an active-learning batch; its picks join the review queues."""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.selectors import UnknownTaxon, taxon_resolve
from inference.engine.selection import DEFAULT_STRATEGY, STRATEGIES
from inference.services.selection import SelectionError, selection_batch_open


class Command(BaseCommand):
    help = "Pick the images most worth an expert's time and queue them for review."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY)
        parser.add_argument("--size", type=int, default=100)
        parser.add_argument("--organisation", type=int)
        parser.add_argument("--deployment", type=int)
        parser.add_argument("--taxon", help="only images predicted as this taxon")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, **options: object) -> None:
        try:
            filters = {key: options[key] for key in ("organisation", "deployment") if options[key]}
            if options["taxon"]:
                filters["taxon"] = taxon_resolve(options["taxon"]).pk
            batch = selection_batch_open(
                user=None,
                strategy=options["strategy"],
                size=options["size"],
                filters=filters,
                seed=options["seed"],
            )
        except (SelectionError, UnknownTaxon) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            json.dumps(
                {
                    "batch": batch.pk,
                    "strategy": batch.strategy,
                    "picked": len(batch.picked),
                    "candidates": batch.candidates,
                }
            )
        )
