"""Opening selection batches on a pre-labelled pool: picks recorded, review tasks in the right queues."""
import io
import json

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Image, ReviewTask
from annotation.services.annotations import annotation_add
from inference.models import SelectionBatch
from inference.services.selection import SelectionError, selection_batch_open
from tests.factories import jpeg_bytes, taxon, upload
from tests.inference.test_prelabel import post, zero_shot  # noqa: F401 fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(api, zero_shot, django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        post(api, *[upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i, taken=f"2024:05:0{1 + i % 9} 10:00:00"))
                    for i in range(30)], deployment_name="Cam")
    return zero_shot


@pytest.mark.parametrize("strategy", ["hybrid", "margin", "kcenter", "typical", "random"])
def test_batch_records_picks_and_queues_one_task_per_sequence(pool, strategy):
    batch = selection_batch_open(user=None, strategy=strategy, size=5)
    assert len(batch.picked) == ReviewTask.objects.count() <= 5 and batch.version == pool
    tasks = list(ReviewTask.objects.all())
    assert len({t.sequence_id for t in tasks}) == len(tasks)
    assert all(t.origin == f"selection:{batch.pk}" for t in tasks)
    # zero-shot scores are low, so everything goes to the triage queue any expert can take
    assert all(t.queue_taxon is None for t in tasks)


def test_selection_skips_labelled_and_already_queued_images(pool, coordinator):
    first = selection_batch_open(user=None, size=5)
    for image in Image.objects.all()[:10]:
        annotation_add(image=image, taxon=taxon("fox"), author=coordinator)
    second = selection_batch_open(user=None, size=50)
    picked_first = {row[0] for row in first.picked}
    labelled = set(Image.objects.all()[:10].values_list("pk", flat=True))
    queued_sequences = set(Image.objects.filter(pk__in=picked_first).values_list("sequence_id", flat=True))
    for image_id, _ in second.picked:
        image = Image.objects.get(pk=image_id)
        assert image_id not in labelled and image.sequence_id not in queued_sequences


def test_errors_say_why(db):
    with pytest.raises(SelectionError, match="No production model"):
        selection_batch_open(user=None)
    with pytest.raises(SelectionError, match="Unknown strategy"):
        selection_batch_open(user=None, strategy="oracle")


def test_command_prints_json(pool):
    out = io.StringIO()
    call_command("select_batch", "--size", "3", "--strategy", "entropy", stdout=out)
    result = json.loads(out.getvalue())
    assert result["picked"] == 3 and SelectionBatch.objects.get().strategy == "entropy"
    with pytest.raises(CommandError, match="Unknown taxon"):
        call_command("select_batch", "--taxon", "unicorn", stdout=io.StringIO())
