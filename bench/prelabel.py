"""Pre-labelling throughput: images per second of the whole job (decode, crop, forward, store
predictions, embeddings and the FAISS update) on real-size JPEGs, against two baselines of the same
model at the same batch size in the same run: the bare forward pass on random tensors, and the
minimal work without Django (read, decode at the job's draft scale, crop, forward, in one plain
loop). The second is the limit that matters on a CPU, where decoding competes with the forward pass
for the same cores. Also the process's peak memory.

Usage: python bench/prelabel.py [--images 96] [--batch-size 16] [--repeats 3]
Targets: the job reaches at least 0.8 of the bare rate (issue 3) and 0.9 of the plain loop
(issue 13)."""

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# first: it sets the BLAS kernels before faiss loads
from faune_platform.blas import kernels_report  # noqa: E402

# isort: split
from bench._django import setup_django  # noqa: E402
from bench.ingest import make_jpegs  # noqa: E402


def bare_rate(runner, count: int, batch_size: int) -> float:
    pixels = torch.randn(batch_size, 3, runner.spec.input_size, runner.spec.input_size)
    runner.forward(pixels)  # warm-up
    start = time.perf_counter()
    for _ in range(0, count, batch_size):
        runner.forward(pixels)
    return count / (time.perf_counter() - start)


def loop_rate(runner, paths: list[str], batch_size: int) -> float:
    """Read, decode small, crop, forward: what pre-labelling must do at least, with nothing
    around it."""
    from inference.engine.preprocess import CropRequest, load_crop

    start = time.perf_counter()
    for first in range(0, len(paths), batch_size):
        crops = [
            load_crop(CropRequest(path, None), runner.spec)
            for path in paths[first : first + batch_size]
        ]
        runner.forward(torch.stack(crops))
    return len(paths) / (time.perf_counter() - start)


def job_rate(version, image_ids: list[int], batch_size: int) -> float:
    """The whole path through the backbone: stored predictions and embeddings are removed first, or
    the job would classify the stored embeddings without decoding anything (see bench/repredict.py
    for that path)."""
    from inference.models import Embedding, Prediction
    from inference.services.prelabel import context_for, prelabel_images

    Prediction.objects.filter(version=version).delete()
    Embedding.objects.filter(image_id__in=image_ids).delete()
    context = context_for(version)
    start = time.perf_counter()
    prelabel_images(context=context, image_ids=image_ids, batch_size=batch_size)
    return len(image_ids) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data_dir = setup_django()
    from annotation.services.batches import batch_open
    from annotation.services.imports import import_prepare, import_run
    from annotation.services.organisations import organisation_get_or_create
    from inference.services.registry import default_version_ensure
    from inference.services.runtime import runner_for

    (data_dir / "source" / "cam").mkdir(parents=True)
    make_jpegs(data_dir / "source" / "cam", args.images)
    organisation, _ = organisation_get_or_create(name="bench")
    batch = batch_open(organisation=organisation, uploader=None)
    import_run(
        batch=batch,
        prepared=import_prepare(
            root=data_dir / "source", fmt="plain", deployment_name=None, create_taxa=False
        ),
    )
    image_ids = list(batch.images.values_list("pk", flat=True))
    version = default_version_ensure()
    runner = runner_for(version.pk)
    print(
        f"{len(image_ids)} JPEGs of 2048x1536; model {version} ({runner.spec.timm_name} at "
        f"{runner.spec.input_size}px), batch {args.batch_size}, {torch.get_num_threads()} torch "
        "threads"
    )
    paths = [
        image.file.path for image in batch.images.order_by("pk")
    ]  # the bench's own local files
    bare, loop, job = [], [], []
    for repeat in range(args.repeats):  # interleaved, so a noisy moment hurts all three alike
        bare.append(bare_rate(runner, len(image_ids), args.batch_size))
        loop.append(loop_rate(runner, paths, args.batch_size))
        job.append(job_rate(version, image_ids, args.batch_size))
        print(
            f"repeat {repeat}: bare forward {bare[-1]:.1f} img/s, plain loop {loop[-1]:.1f} img/s, "
            f"whole job {job[-1]:.1f} img/s"
        )
    value, baseline, loop_baseline = (
        statistics.median(job),
        statistics.median(bare),
        statistics.median(loop),
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"median: job {value:.1f} img/s, plain loop {loop_baseline:.1f} img/s, bare forward "
        f"{baseline:.1f} img/s, peak RSS {peak_mb:.0f} MB"
    )
    print(
        json.dumps(
            {
                "metric": "prelabel_images_per_second",
                "value": round(value, 2),
                "unit": "images/s",
                "baseline": round(baseline, 2),
                "ratio": round(value / baseline, 3),
                "loop_baseline": round(loop_baseline, 2),
                "loop_ratio": round(value / loop_baseline, 3),
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


if __name__ == "__main__":
    print(kernels_report(), flush=True)
    main()
