"""Every real sample folder beside the checkout goes through the importer: each file imported,
duplicate or rejected with a reason. Skipped, with the reason, where the samples are absent (a fresh
clone has none)."""

import pytest

from annotation.models import BatchItem, UploadBatch
from tests.annotation.test_import_command import run_import

pytestmark = [pytest.mark.django_db, pytest.mark.shared_data, pytest.mark.slow]


def test_every_sample_file_is_accounted_for(shared_camtrap):
    for folder in sorted(p for p in shared_camtrap.iterdir() if p.is_dir()):
        on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        counts, _ = run_import(str(folder), "--organisation", "Samples", "--create-taxa")
        batch = UploadBatch.objects.latest("pk")
        reported = set(batch.items.values_list("name", flat=True))
        index = {"coco.json"} if (folder / "coco.json").exists() else set()
        assert reported == on_disk - index, folder.name
        assert counts["imported"] + counts["duplicates"] + counts["rejected"] == len(reported)
        assert not batch.items.filter(outcome="rejected", reason="").exists()
        assert counts["imported"] > 0, folder.name
    truncated = BatchItem.objects.get(name__endswith="african_elephants_truncated_file.jpg")
    assert truncated.outcome == "rejected" and "truncated" in truncated.reason
