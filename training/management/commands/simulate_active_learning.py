"""python manage.py simulate_active_learning --dataset PATH [--format coco|classes] [--strategies
random,adaptive] [--unit sequence|image] [--seeds 5] [--seed-size 8] [--batch-size 8] [--budget 120]
[--maxlag 20] [--out DIR] [--cache FILE]

Replays active learning on a labelled dataset with the platform's own embedding, sequence grouping,
selection code and head trainer, an oracle standing in for the expert. Touches no database rows.
Writes curves.csv, summary.csv and learning_curves.png to --out (default:
DATA_DIR/simulations/<dataset folder>), progress to stderr, and prints the result as a JSON object
on the last stdout line.

--strategies defaults to `random,adaptive`: the platform's default against the baseline it must
beat; name others (or `all`) to compare more. --unit sequence (the default, as the review desk
works) makes a pick label its whole sequence for one action; --unit image labels one frame. Seed
size, batch size and budget count actions. --cache (default: embeddings.npz in --out) keeps the
embeddings between runs.
"""

import csv
import json
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.ingest.plans import LayoutError
from inference.engine.preprocess import CropRequest
from inference.engine.selection import DEFAULT_STRATEGY, STRATEGIES
from training.engine.plots import learning_curves_png
from training.engine.simulation import (
    UNITS,
    Item,
    LabelledSet,
    Simulation,
    SimulationConfig,
    SimulationError,
    curves,
    embed,
    labelled_set,
    report,
    simulate,
)
from training.services.simulation_data import dataset_items


class Command(BaseCommand):
    help = (
        "Replay active learning on a labelled dataset and write learning curves for each "
        "selection strategy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dataset",
            required=True,
            help="COCO Camera Traps folder (or its .json), or a folder per class",
        )
        parser.add_argument(
            "--format", choices=["coco", "classes"], help="default: coco when a COCO index is found"
        )
        parser.add_argument(
            "--strategies",
            default=f"random,{DEFAULT_STRATEGY}",
            help=f"comma-separated, or 'all' ({', '.join(STRATEGIES)})",
        )
        parser.add_argument(
            "--unit",
            choices=UNITS,
            default="sequence",
            help="what one expert action labels: a whole sequence (default) or one image",
        )
        parser.add_argument(
            "--seeds", type=int, default=5, help="paired repetitions (test split and start set)"
        )
        parser.add_argument(
            "--seed-size", type=int, default=8, help="random actions before the first round"
        )
        parser.add_argument("--batch-size", type=int, default=8, help="actions per round")
        parser.add_argument(
            "--budget", type=int, default=120, help="actions at which a campaign stops"
        )
        parser.add_argument(
            "--maxlag",
            type=float,
            default=settings.FAUNE["DEFAULT_MAXLAG_S"],
            help="seconds between frames that start a new sequence",
        )
        parser.add_argument("--out", help="output folder")
        parser.add_argument(
            "--cache", help="embedding cache file (default: embeddings.npz in the output folder)"
        )

    def handle(self, *args: object, **options: object) -> None:
        root = Path(str(options["dataset"])).expanduser()
        if not root.exists():
            raise CommandError(f"dataset {root} does not exist")
        strategies = _strategies(str(options["strategies"]))
        config = _config(options)
        out = (
            Path(str(options["out"]))
            if options["out"]
            else Path(settings.DATA_DIR) / "simulations" / root.name
        )
        items = self._items(root, options)
        data = self._embed(
            items, Path(str(options["cache"])) if options["cache"] else out / "embeddings.npz"
        )
        try:
            result = simulate(
                data, strategies, int(options["seeds"]), config, on_progress=self.stderr.write
            )
        except SimulationError as error:
            raise CommandError(str(error)) from None
        summary = report(result, config)
        _write_outputs(out, result, summary)
        self.stdout.write(f"wrote curves.csv, summary.csv and learning_curves.png to {out}")
        self.stdout.write(json.dumps(summary))

    def _items(self, root: Path, options: dict) -> list[Item]:
        try:
            fmt, items, skipped = dataset_items(
                root,
                fmt=options["format"],
                maxlag_s=float(options["maxlag"]),
                earliest_year=settings.FAUNE["EARLIEST_PLAUSIBLE_YEAR"],
            )
        except LayoutError as error:
            raise CommandError(str(error)) from None
        notes = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items()))
        self.stdout.write(
            f"{fmt} dataset: {len(items)} labelled images" + (f"; skipped {notes}" if notes else "")
        )
        if not items:
            raise CommandError(f"no labelled images in {root} read as {fmt}")
        _require_classes(items)
        return items

    def _embed(self, items: list[Item], cache: Path) -> LabelledSet:
        self.stderr.write(f"embedding {len(items)} images (cache: {cache})")
        vectors, readable = embed(
            [CropRequest(item.path, item.box) for item in items],
            cache=cache,
            on_progress=lambda done, total: self.stderr.write(f"embedded {done}/{total}"),
        )
        if not readable.all():
            self.stdout.write(f"skipped {int((~readable).sum())} unreadable images")
        kept = [item for item, ok in zip(items, readable, strict=True) if ok]
        _require_classes(kept)
        data = labelled_set(kept, vectors[readable])
        self.stdout.write(
            f"{len(kept)} images, {len(data.class_names)} classes, "
            f"{len(set(data.sequences.tolist()))} sequences"
        )
        return data


def _strategies(text: str) -> list[str]:
    names = (
        list(STRATEGIES)
        if text.strip() == "all"
        else [name.strip() for name in text.split(",") if name.strip()]
    )
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or not names:
        raise CommandError(
            f"unknown strategy {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(STRATEGIES)} or 'all'"
        )
    return list(dict.fromkeys(names))


def _config(options: dict) -> SimulationConfig:
    for name in ("seeds", "seed_size", "batch_size", "budget"):
        if int(options[name]) < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
    return SimulationConfig(
        seed_size=int(options["seed_size"]),
        batch_size=int(options["batch_size"]),
        budget=int(options["budget"]),
        unit=str(options["unit"]),
    )


def _require_classes(items: list[Item]) -> None:
    names = {item.class_name for item in items}
    if len(names) < 2:
        listed = f" ({', '.join(sorted(names))})" if names else ""
        raise CommandError(
            f"only {len(names)} class among the readable labelled images{listed}; a classifier "
            "needs two"
        )


def _write_outputs(out: Path, result: Simulation, summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "curves.csv", [asdict(point) for point in result.points])
    rows = [asdict(row) for row in curves(result.points)]
    _write_csv(out / "summary.csv", rows)
    (out / "learning_curves.png").write_bytes(
        learning_curves_png(rows, target_f1=summary["target"], unit=summary["unit"])
    )


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
