"""Images per second through the real upload path (the REST API, in process: multipart parsing,
auth, ingest, storage, SQLite) against the bare cost of reading + hashing + fully decoding the same
files, in the same run.

Usage: python bench/ingest.py [--images 30] [--repeats 3]
Target (issue 2): the upload path reaches at least half the bare rate."""

import argparse
import hashlib
import io
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# first: it sets the BLAS kernels before faiss loads
from faune_platform.blas import kernels_report  # noqa: E402

# isort: split
from bench._django import setup_django  # noqa: E402


def make_jpegs(folder: Path, count: int) -> list[Path]:
    """3-megapixel JPEGs with camera-like texture (smooth scene + sensor noise), ~1 MB each."""
    rng = np.random.default_rng(0)
    height, width = 1536, 2048
    yy, xx = np.mgrid[0:height, 0:width]
    paths = []
    for index in range(count):
        scene = (np.sin(xx / (40 + index)) + np.cos(yy / (55 + index))) * 60 + 120
        pixels = np.stack([scene + rng.normal(0, 12, scene.shape) for _ in range(3)], axis=-1)
        path = folder / f"IMG_{index:04d}.JPG"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def bare_rate(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        content = path.read_bytes()
        hashlib.sha256(content).hexdigest()
        Image.open(io.BytesIO(content)).load()
    return len(paths) / (time.perf_counter() - start)


def upload_rate(paths: list[Path], repeat: int) -> float:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    from annotation.models import Role
    from annotation.services.organisations import (
        membership_set,
        organisation_get_or_create,
        user_create,
    )

    organisation, _ = organisation_get_or_create(
        name=f"bench {repeat}"
    )  # fresh org: nothing is a duplicate
    user = user_create(username=f"bench{repeat}", password="bench-password")
    membership_set(user=user, organisation=organisation, role=Role.PARTNER)
    client = APIClient()
    client.force_authenticate(user)
    contents = [(path.name, path.read_bytes()) for path in paths]
    warm_up = io.BytesIO()
    Image.new("RGB", (8, 8), (repeat, 0, 0)).save(warm_up, "JPEG")
    client.post(
        "/api/images/",
        {
            "files": [SimpleUploadedFile("warm.jpg", warm_up.getvalue())],
            "organisation": organisation.pk,
        },
        format="multipart",
    )  # first-request imports
    start = time.perf_counter()
    for offset in range(
        0, len(contents), 10
    ):  # groups of files per request, as the upload page sends them
        files = [
            SimpleUploadedFile(name, data, "image/jpeg")
            for name, data in contents[offset : offset + 10]
        ]
        response = client.post(
            "/api/images/",
            {"files": files, "organisation": organisation.pk, "deployment_name": "bench camera"},
            format="multipart",
        )
        assert response.status_code == 201, response.content[:500]
    return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data_dir = setup_django()
    try:
        (data_dir / "source").mkdir()
        paths = make_jpegs(data_dir / "source", args.images)
        megabytes = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
        print(f"{len(paths)} JPEGs of 2048x1536, {megabytes:.2f} MB each on average")
        bare, upload = [], []
        for repeat in range(args.repeats):
            bare.append(bare_rate(paths))
            upload.append(upload_rate(paths, repeat))
            print(f"repeat {repeat}: bare {bare[-1]:.1f} img/s, upload path {upload[-1]:.1f} img/s")
        value, baseline = statistics.median(upload), statistics.median(bare)
        print(f"median: upload path {value:.1f} img/s, bare read+hash+decode {baseline:.1f} img/s")
        print(
            json.dumps(
                {
                    "metric": "ingest_images_per_second",
                    "value": round(value, 2),
                    "unit": "images/s",
                    "baseline": round(baseline, 2),
                    "ratio": round(value / baseline, 3),
                }
            )
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    print(kernels_report(), flush=True)
    main()
