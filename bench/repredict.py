"""Re-prediction after a head promotion: 100,000 images with stored 1280-d embeddings (as
pre-labelling stores them) are re-predicted by a newly promoted head through the real job (its
chunks, cursor, heartbeats, sequence verdicts, progress), against the time the backbone alone would
need for the same images, estimated in the same run from timed forward passes of the production
backbone on random crops (decoding not even counted, so the baseline flatters the old path, never
the new one).

Usage: python bench/repredict.py [--n 100000] [--classes 40] [--repeats 3]
Target (issue 9): under 30 s on this machine."""

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# first: it sets the BLAS kernels before faiss loads
from faune_platform.blas import kernels_report  # noqa: E402

if TYPE_CHECKING:  # Django is set up only once the benchmark starts
    from inference.models import ModelVersion

WIDTH = 1280
SEQUENCE_LENGTH = 3


def fill_pool(n: int, seed: int = 0) -> None:
    """Images in sequences of three, each with the embedding pre-labelling would have stored
    (whole image)."""
    from annotation.models import Image, Sequence, UploadBatch
    from annotation.services.organisations import organisation_get_or_create
    from inference.models import Embedding
    from inference.services.registry import default_version_ensure

    rng = np.random.default_rng(seed)
    key = default_version_ensure().backbone_key
    organisation, _ = organisation_get_or_create(name="bench")
    batch = UploadBatch.objects.create(organisation=organisation)
    sequences = Sequence.objects.bulk_create(
        (Sequence(organisation=organisation, batch=batch) for _ in range(-(-n // SEQUENCE_LENGTH))),
        batch_size=5000,
    )
    for start in range(0, n, 10_000):
        size = min(10_000, n - start)
        vectors = rng.normal(size=(size, WIDTH)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        images = Image.objects.bulk_create(
            (
                Image(
                    organisation=organisation,
                    batch=batch,
                    sequence=sequences[(start + i) // SEQUENCE_LENGTH],
                    file=f"bench/{start + i}.jpg",
                    original_name=f"{start + i}.jpg",
                    sha256=f"{start + i:064d}",
                    bytes=1,
                    width=1,
                    height=1,
                )
                for i in range(size)
            ),
            batch_size=5000,
        )
        Embedding.objects.bulk_create(
            (
                Embedding(
                    image=image,
                    backbone_key=key,
                    vector=vectors[i].astype(np.float16).tobytes(),
                    norm=20.0,
                    box=None,
                    box_source="whole_image",
                )
                for i, image in enumerate(images)
            ),
            batch_size=5000,
        )


def head_version(classes: int, seed: int = 0) -> "ModelVersion":
    """A linear head on the default backbone, over new taxa, registered and promoted as a round's
    would be."""
    from annotation.models import Taxon
    from inference.engine.heads import save_head
    from inference.engine.specs import BackboneSpec
    from inference.models import HeadKind
    from inference.services.registry import (
        default_version_ensure,
        model_version_promote,
        model_version_register,
    )
    from training.engine.heads import HeadConfig, train_head

    base = default_version_ensure()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2000, WIDTH)).astype(np.float32)
    y = rng.integers(0, classes, size=2000)
    head = train_head((x, y), (x[:200], y[:200]), classes, HeadConfig(epochs=2, seed=seed))
    path = Path(os.environ["FAUNE_DATA_DIR"]) / "bench-head.pt"
    save_head(
        str(path),
        kind=head.kind,
        input_dim=head.input_dim,
        num_classes=head.num_classes,
        hidden=head.hidden,
        state=head.state,
    )
    taxa = Taxon.objects.bulk_create(
        Taxon(slug=f"bench-{i}", name_en=f"bench {i}", name_fr=f"banc {i}") for i in range(classes)
    )
    version = model_version_register(
        name="bench-head",
        version="1",
        spec=BackboneSpec.from_dict(base.backbone),
        head_kind=HeadKind.TRAINED_HEAD,
        classes=taxa,
        files={"head": path},
        copy_files=False,
        temperature=head.temperature,
        inherited_artifacts={"backbone": base.artifacts["backbone"]},
    )
    return model_version_promote(version=version, confirm_lost_classes=True)


def repredict(version) -> tuple[float, int]:
    """The real job, chunk after chunk, in this process (there is no worker here: each chunk the job
    queues is worked at once). Returns (seconds, chunks)."""
    from faune_platform.jobs import job_start
    from inference.models import Prediction, PrelabelRun, SequencePrediction
    from inference.tasks import _run_for, prelabel_run_chunk

    Prediction.objects.filter(version=version).delete()
    SequencePrediction.objects.filter(version=version).delete()
    start, chunks = time.perf_counter(), 0
    run = _run_for(version, None)
    token = job_start(run)
    while True:
        prelabel_run_chunk(run.pk, token)
        chunks += 1
        run.refresh_from_db()
        if run.status != "queued":
            break
        token = run.token  # the next chunk it queued
    elapsed = time.perf_counter() - start
    assert run.status == "done", (run.status, run.error)
    assert Prediction.objects.filter(version=version).count() == run.total
    assert PrelabelRun.objects.get(pk=run.pk).done == run.total
    return elapsed, chunks


def backbone_seconds_per_image(repeats: int = 3, batch_size: int = 16) -> float:
    import torch

    from inference.services.registry import default_version_ensure
    from inference.services.runtime import runner_for

    runner = runner_for(default_version_ensure().pk)
    pixels = torch.randn(batch_size, 3, runner.spec.input_size, runner.spec.input_size)
    runner.forward(pixels)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner.forward(pixels)
        times.append((time.perf_counter() - start) / batch_size)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from bench._django import setup_django

    setup_django()
    start = time.perf_counter()
    fill_pool(args.n)
    version = head_version(args.classes)
    print(
        f"{args.n:,} images with stored {WIDTH}-d embeddings written in "
        f"{time.perf_counter() - start:.1f} s; promoted {version}"
    )
    runs = [repredict(version) for _ in range(args.repeats)]
    for index, (seconds, chunks) in enumerate(runs):
        print(f"repeat {index}: {seconds:.1f} s in {chunks} chunk(s)")
    value = statistics.median(seconds for seconds, _ in runs)
    per_image = backbone_seconds_per_image()
    baseline = per_image * args.n
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"median {value:.1f} s ({args.n / value:,.0f} images/s); the backbone alone: "
        f"{per_image * 1000:.1f} ms an image, {baseline:,.0f} s for the pool; peak RSS "
        f"{peak_mb:.0f} MB"
    )
    print(
        json.dumps(
            {
                "metric": "repredict_100k_s",
                "value": round(value, 2),
                "unit": "s",
                "baseline": round(baseline, 1),
                "ratio": round(value / baseline, 5),
                "images": args.n,
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


if __name__ == "__main__":
    print(kernels_report(), flush=True)
    main()
