"""Selection at pool scale, end to end through the database: PostgreSQL holds 1,000,000 images with
predictions and float16 embeddings (bulk-loaded with COPY, not through the API; a tenth of them
labelled), the FAISS index is on disk, and `select_batch`'s service (`selection_batch_open`, the
command's path) picks 1,000 items, reading everything from the database as in production.

The timed part runs in a fresh process, so its peak memory is the service's own, not the loader's.
The baseline, in that same process, is the selection engine alone on the same candidates already in
memory: the ratio says what reading from the database costs on top of the pick.

Needs a PostgreSQL server: DATABASE_URL=postgres://... (e.g. `eval "$(.ci/services start)"`).
A throw-away database is created on it and dropped at the end.

Usage: python bench/selection_db.py [--n 1000000] [--picks 1000] [--labelled 0.1] [--repeats 3]
       (--load-only keeps what it loaded and says how to measure on it later with --reuse
       DATABASE DATA_DIR)
Target (issue 13): under 30 s and under 4 GB peak."""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# first: it sets the BLAS kernels before faiss loads
from faune_platform.blas import kernels_report  # noqa: E402

CHUNK = 50_000
WIDTH = 1280


def _database_urls() -> tuple[str, str]:
    """(the server's maintenance database, a fresh database for this run) from DATABASE_URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/selection_db.py needs DATABASE_URL=postgres://... "
            '(try: eval "$(.ci/services start)")'
        )
    parts = urlsplit(url)
    return (
        urlunsplit(parts._replace(path="/postgres")),
        urlunsplit(parts._replace(path=f"/faune_bench_selection_{os.getpid()}")),
    )


def _admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


# -- loading (the parent process) ------------------------------------------------------------------


def _copy(cursor, model, rows, *, ids: bool = False, **constant) -> None:
    """COPY rows (dicts of column values) into the model's table; columns missing from a row take
    `constant`, else the field's default (NULL where the field allows it). With `ids`, the rows
    carry their primary keys."""
    from django.utils import timezone

    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    fields += [model._meta.pk] if ids else []
    columns = [f'"{field.column}"' for field in fields]
    now = timezone.now()

    def value(field, row: dict) -> object:
        if field.column in row:
            return row[field.column]
        if field.column in constant:
            return constant[field.column]
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            return now
        default = field.get_default()
        if field.get_internal_type() == "JSONField":
            return json.dumps(default)
        return None if default is None and field.null else default

    with cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([value(field, row) for field in fields])


def _embeddings(rng: np.random.Generator, centres: np.ndarray, count: int) -> np.ndarray:
    """Camera-trap-like structure: tight clusters (sequences, species) plus spread, unit length."""
    vectors = centres[rng.integers(0, len(centres), count)] + rng.normal(
        scale=0.6, size=(count, WIDTH)
    )
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _probabilities(
    rng: np.random.Generator, count: int, classes: int
) -> tuple[np.ndarray, np.ndarray]:
    logits = rng.normal(scale=2.0, size=(count, classes)).astype(np.float32)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    return logits, probabilities / probabilities.sum(axis=1, keepdims=True)


def load(n: int, labelled_share: float) -> None:
    """Fill the database and the index; prints how long each part took."""
    from django.db import connection, transaction

    from annotation.models import Annotation, Deployment, Image, Organisation, Sequence, UploadBatch
    from inference.engine.similarity import VectorIndex
    from inference.engine.stored import to_f16_bytes
    from inference.models import Embedding, Prediction
    from inference.selectors import production_version
    from inference.services.index import index_path

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    version = production_version()
    taxa = list(version.classes.order_by("index").values_list("taxon_id", flat=True))
    organisation = Organisation.objects.create(name="Bench")
    deployment = Deployment.objects.create(organisation=organisation, name="bench camera")
    batch = UploadBatch.objects.create(
        organisation=organisation, deployment=deployment, kind="upload", status="done", total=n
    )
    lengths = rng.integers(1, 9, n)  # sequences of 1 to 8 frames
    sequence_of = np.repeat(np.arange(1, n + 1), lengths)[:n]
    labelled = rng.random(n) < labelled_share
    label_ids = np.cumsum(labelled)  # annotation id of each labelled image
    label_taxa = rng.integers(0, len(taxa), n)
    centres = rng.normal(size=(5000, WIDTH)).astype(np.float32)
    index = None
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own, for COPY
        _copy(
            cursor,
            Sequence,
            ({"id": int(s)} for s in np.unique(sequence_of)),
            ids=True,
            organisation_id=organisation.pk,
            deployment_id=deployment.pk,
            batch_id=batch.pk,
        )
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            ids = np.arange(start + 1, stop + 1)
            _copy(
                cursor,
                Image,
                (
                    {
                        "id": int(i),
                        "sequence_id": int(sequence_of[i - 1]),
                        "file": f"bench/{i}.jpg",
                        "original_name": f"{i}.jpg",
                        "sha256": f"{i:064x}",
                        "current_label_id": int(label_ids[i - 1]) if labelled[i - 1] else None,
                        "current_taxon_id": taxa[label_taxa[i - 1]] if labelled[i - 1] else None,
                        "current_source": "expert" if labelled[i - 1] else "",
                    }
                    for i in ids
                ),
                ids=True,
                organisation_id=organisation.pk,
                deployment_id=deployment.pk,
                batch_id=batch.pk,
                bytes=1_000_000,
                width=1920,
                height=1080,
            )
            _copy(
                cursor,
                Annotation,
                (
                    {
                        "id": int(label_ids[i - 1]),
                        "image_id": int(i),
                        "taxon_id": taxa[label_taxa[i - 1]],
                    }
                    for i in ids
                    if labelled[i - 1]
                ),
                ids=True,
                role="expert",
                source="expert",
                batch_id=None,
            )
            logits, probabilities = _probabilities(rng, stop - start, len(taxa))
            top = np.argsort(-probabilities, axis=1)[:, :3]
            _copy(
                cursor,
                Prediction,
                (
                    {
                        "image_id": int(i),
                        "taxon_id": taxa[top[k, 0]],
                        "score": float(probabilities[k, top[k, 0]]),
                        "top": json.dumps(
                            [[taxa[c], round(float(probabilities[k, c]), 4)] for c in top[k]]
                        ),
                        "logits": to_f16_bytes(logits[k]),
                    }
                    for k, i in enumerate(ids)
                ),
                version_id=version.pk,
                category="animal",
            )
            vectors = _embeddings(rng, centres, stop - start)
            _copy(
                cursor,
                Embedding,
                (
                    {"image_id": int(i), "vector": to_f16_bytes(vectors[k]), "norm": 1.0}
                    for k, i in enumerate(ids)
                ),
                backbone_key=version.backbone_key,
            )
            if (
                index is None
                # trained on the first chunk: ~48 vectors per list, as
                # VectorIndex.approximate samples
            ):
                index = VectorIndex.approximate(vectors)
            index.add(ids, vectors)
            print(f"  {stop:,} images loaded, {time.perf_counter() - started:.0f} s", flush=True)
        for model in (Sequence, Image, Annotation):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    index.save(index_path(version.backbone_key))
    print(
        f"loaded {n:,} images ({labelled.sum():,} labelled, {sequence_of[-1]:,} sequences) with "
        f"predictions and embeddings, and the index, in {time.perf_counter() - started:.0f} s",
        flush=True,
    )


# -- measuring (a fresh process) -------------------------------------------------------------------


def _engine_only(picks: int) -> float:
    """The baseline: the engine's pick on the same candidates, read beforehand (not timed)."""
    from django.conf import settings

    from inference.engine.aggregate import class_probabilities
    from inference.engine.selection import DEFAULT_STRATEGY, Pool, select
    from inference.engine.stored import from_f16_bytes
    from inference.selectors import stored_embeddings
    from inference.services import selection

    version = selection._production()
    labelled = selection._labelled(version)
    rows, _ = selection._candidates(version, {}, labelled.vectors, 0)
    found, vectors = stored_embeddings(version.backbone_key, [row[0] for row in rows])
    rows, vectors = [row for row, kept in zip(rows, found, strict=True) if kept], vectors[found]
    probabilities = class_probabilities(
        np.stack([from_f16_bytes(row[1]) for row in rows]),
        temperature=version.temperature,
        renormalise=not version.is_zero_shot,
    )
    pool = Pool(
        ids=np.array([row[0] for row in rows]),
        embeddings=vectors,
        probabilities=probabilities,
        sequences=np.array([row[2] for row in rows]),
        labelled=labelled.vectors,
        rarity=labelled.counts,
        labelled_labels=labelled.labels,
        labelled_sequences=labelled.sequences,
    )
    start = time.perf_counter()
    select(
        pool,
        DEFAULT_STRATEGY,
        picks,
        seed=0,
        duplicate_cosine=settings.FAUNE["NEAR_DUPLICATE_COSINE"],
    )
    return time.perf_counter() - start


def measure(picks: int, repeats: int) -> dict:
    import django

    django.setup()
    from annotation.models import ReviewTask
    from inference.services.selection import selection_batch_open

    timings = []
    for repeat in range(repeats):
        start = time.perf_counter()
        batch = selection_batch_open(user=None, size=picks, seed=repeat)
        timings.append(time.perf_counter() - start)
        print(
            f"repeat {repeat}: {len(batch.picked)} picks from {batch.candidates:,} candidates "
            f"(narrowed: {batch.restricted}) in {timings[-1]:.1f} s",
            flush=True,
        )
        ReviewTask.objects.filter(
            origin=f"selection:{batch.pk}"
        ).delete()  # the next repeat sees the same pool
        batch.delete()
    peak_service = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    baseline = _engine_only(picks)
    return {"seconds": float(np.median(timings)), "baseline": baseline, "peak_bytes": peak_service}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--picks", type=int, default=1000)
    parser.add_argument(
        "--labelled", type=float, default=0.1, help="share of the pool already labelled"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--keep", action="store_true", help="keep the loaded database and data dir, and say where"
    )
    parser.add_argument(
        "--reuse",
        nargs=2,
        metavar=("DATABASE", "DATA_DIR"),
        help="measure on what an earlier --keep run loaded (loading 1M rows takes minutes)",
    )
    parser.add_argument(
        "--load-only", action="store_true", help="load, keep and stop (measure later with --reuse)"
    )
    parser.add_argument(
        "--measure", action="store_true", help=argparse.SUPPRESS
    )  # the child process
    args = parser.parse_args()
    if args.measure:
        print("RESULT " + json.dumps(measure(args.picks, args.repeats)), flush=True)
        return
    maintenance, database = _database_urls()
    if args.reuse:
        database = database.rsplit("/", 1)[0] + "/" + args.reuse[0]
        os.environ.update(
            FAUNE_DATA_DIR=args.reuse[1], DJANGO_SETTINGS_MODULE="faune_platform.settings.base"
        )
    else:
        _admin(maintenance, f"CREATE DATABASE {database.rsplit('/', 1)[1]}")
    os.environ["DATABASE_URL"] = database
    try:
        if not args.reuse:
            from bench._django import setup_django

            setup_django()
            load(args.n, args.labelled)
        if args.load_only:
            args.keep = True
            return
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                "--picks",
                str(args.picks),  # noqa: S603
                "--repeats",
                str(args.repeats),
            ],
            env=os.environ,
            check=True,
            text=True,
            stdout=subprocess.PIPE,
        )
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept: --reuse {database.rsplit('/', 1)[1]} {os.environ['FAUNE_DATA_DIR']}")
        else:
            _admin(maintenance, f"DROP DATABASE IF EXISTS {database.rsplit('/', 1)[1]}")
    print(child.stdout, end="")
    result = json.loads(child.stdout.rsplit("RESULT ", 1)[1])
    peak_gb = result["peak_bytes"] / 1e9
    print(
        f"selection through the database: median {result['seconds']:.1f} s for {args.picks} picks "
        f"from {args.n:,} images, peak {peak_gb:.2f} GB; the engine alone on the same candidates "
        f"{result['baseline']:.1f} s"
    )
    print(
        json.dumps(
            {
                "metric": "selection_db_seconds",
                "value": round(result["seconds"], 2),
                "unit": "s",
                "baseline": round(result["baseline"], 2),
                "ratio": round(result["seconds"] / result["baseline"], 3),
                "peak_gb": round(peak_gb, 2),
                "n": args.n,
                "picks": args.picks,
            }
        )
    )


if __name__ == "__main__":
    print(kernels_report(), flush=True)
    main()
