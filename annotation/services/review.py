"""Review queues: tasks are written here (by selection, through this service) and worked by experts."""
from dataclasses import dataclass

from django.db import transaction

from annotation.models import Image, ReviewState, ReviewTask, Taxon


@dataclass(frozen=True)
class ReviewItem:
    image: Image
    queue_taxon: Taxon | None  # None: the triage queue
    reason: str
    score: float


@transaction.atomic
def review_tasks_create(*, items: list[ReviewItem], origin: str) -> list[ReviewTask]:
    """One open task per sequence: items whose sequence already waits in a queue are skipped, not duplicated."""
    waiting = set(ReviewTask.objects.filter(state=ReviewState.OPEN, sequence_id__in=[i.image.sequence_id
                                                                                     for i in items])
                  .values_list("sequence_id", flat=True))
    tasks, seen = [], set(waiting)
    for item in items:
        if item.image.sequence_id in seen:
            continue
        seen.add(item.image.sequence_id)
        tasks.append(ReviewTask(image=item.image, sequence_id=item.image.sequence_id, queue_taxon=item.queue_taxon,
                                reason=item.reason[:200], score=item.score, origin=origin[:60]))
    return ReviewTask.objects.bulk_create(tasks)
