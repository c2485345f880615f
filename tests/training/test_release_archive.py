"""A release downloads as one zip whose HOW_TO_USE.md holds Python lines that really classify a
photograph with the archive's files alone: they are run here, in a fresh interpreter, in the
unpacked folder, and must give the platform's own answer."""

import hashlib
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from inference.engine.aggregate import class_probabilities
from inference.engine.preprocess import CropRequest, load_crop
from inference.engine.specs import BackboneSpec
from inference.services.registry import default_version_ensure, model_version_promote
from inference.services.runtime import runner_for
from tests.factories import jpeg_bytes
from tests.training.test_rounds import labelled_pool, run_round
from training.services.releases import release_publish

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PRINTED = re.compile(r"^(?P<en>.+) / (?P<fr>.+) (?P<p>[0-9.e-]+)$")


def download(client, semver: str) -> zipfile.ZipFile:
    response = client.get(f"/releases/{semver}/download.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="faune-{semver}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None  # every member's CRC checks
    return archive


def python_lines(how_to: str) -> str:
    blocks = re.findall(
        r"^## In Python, with timm$.*?^```python\n(.*?)^```$", how_to, flags=re.S | re.M
    )
    assert len(blocks) == 1, how_to
    return blocks[0]


def run_how_to(folder: Path, photo: bytes) -> re.Match:
    """The archive's own instructions, run as a user would: in its folder, with photo.jpg beside
    the files."""
    (folder / "photo.jpg").write_bytes(photo)
    code = python_lines((folder / "HOW_TO_USE.md").read_text())
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = PRINTED.match(done.stdout.strip())
    assert printed, done.stdout
    return printed


def platform_answer(version, photo_path: Path) -> tuple[str, float]:
    """What the platform itself says of the photo (whole image, no box)."""
    spec = BackboneSpec.from_dict(version.backbone)
    logits, _ = runner_for(version.pk).forward(
        load_crop(CropRequest(str(photo_path), None), spec).unsqueeze(0)
    )
    probabilities = class_probabilities(
        logits[0], temperature=version.temperature, renormalise=not version.is_zero_shot
    )
    best = int(np.argmax(probabilities))
    names = list(version.classes.order_by("index").values_list("taxon__name_en", flat=True))
    return names[best], float(probabilities[best])


@pytest.fixture(params=["linear", "mlp", "zero-shot"])
def published(request, org, coordinator, settings):
    settings.FAUNE = {**settings.FAUNE, "AUTO_PROMOTE": False}
    zero_shot = default_version_ensure()
    version = zero_shot
    if request.param != "zero-shot":
        labelled_pool(org, zero_shot, {"fox": 45, "wild-boar": 45, "roe-deer": 30})
        version = run_round(head=request.param).candidate
        version = model_version_promote(version=version, confirm_lost_classes=True)
    return release_publish(version=version, semver="1.0.0", user=coordinator)


def test_the_archive_holds_the_release_and_its_python_lines_classify_a_photo(
    client, published, tmp_path
):
    archive = download(client, "1.0.0")
    names = {name.removeprefix("faune-1.0.0/") for name in archive.namelist()}
    assert (
        names == {*published.files, "SHA256SUMS"} and {"HOW_TO_USE.md", "timm-weights.pth"} <= names
    )
    for name, digest in published.files.items():
        assert hashlib.sha256(archive.read(f"faune-1.0.0/{name}")).hexdigest() == digest, name
    archive.extractall(tmp_path)
    folder = tmp_path / "faune-1.0.0"
    how_to = (folder / "HOW_TO_USE.md").read_text()
    assert "## In DeepFaune's software" in how_to and "built on `efficientnet_lite0`" in how_to

    photo = jpeg_bytes(size=(320, 240), seed=11)
    printed = run_how_to(folder, photo)
    name, probability = platform_answer(published.version, folder / "photo.jpg")
    assert printed["en"] == name and float(printed["p"]) == pytest.approx(probability, abs=2e-3)


def test_an_archive_of_a_missing_release_folder_is_a_404(client, coordinator, settings):
    from training.models import Release

    Release.objects.create(
        version=default_version_ensure(), semver="0.1.0", files={}, model_card="# x"
    )
    assert client.get("/releases/0.1.0/download.zip").status_code == 404
    assert client.get("/releases/9.9.9/download.zip").status_code == 404
