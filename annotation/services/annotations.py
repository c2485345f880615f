"""Adding labels. Nothing is ever edited or deleted: a correction is a newer event that outranks the old one."""
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from annotation.models import Annotation, Image, LabelSource, Role, Taxon
from annotation.selectors import label_history, user_access


class LabelConflict(Exception):
    """Someone labelled the image since the client last saw it; the client must reload before overriding."""

    http_status = 409


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        if not (0 <= self.x <= 1 and 0 <= self.y <= 1 and 0 < self.w <= 1 and 0 < self.h <= 1):
            raise ValueError("a box is x, y, width, height as fractions of the image, each between 0 and 1")
        if self.x + self.w > 1.0001 or self.y + self.h > 1.0001:
            raise ValueError("the box runs past the edge of the image")


def author_role_and_source(user: User, image: Image) -> tuple[str, str]:
    """Experts (and coordinators reviewing) label as experts; everyone else as a partner."""
    access = user_access(user)
    if access.coordinator:
        return Role.COORDINATOR, LabelSource.EXPERT
    if access.expert and getattr(image, "current_taxon_id", None) in access.expert_taxon_ids:
        return Role.EXPERT, LabelSource.EXPERT
    return Role.PARTNER, LabelSource.PARTNER


def label_conflict_check(image: Image, expected_current_id: int | None, *, advice: str) -> None:
    """`expected_current_id` is the label the client saw as current (0: none, None: no check). If another label
    has won since, say whose instead of silently overriding a colleague's work."""
    if expected_current_id is None:
        return
    current = label_history(image).first()
    if (current.pk if current else 0) != expected_current_id:
        who = current.author.username if current and current.author else "an import"
        raise LabelConflict(f"This was labelled {current.taxon.name_en if current else '(none)'} by {who} since "
                            f"you loaded it; {advice}")


@transaction.atomic
def annotation_add(
    *,
    image: Image,
    taxon: Taxon,
    author: User,
    whole_sequence: bool = False,
    box: Box | None = None,
    count: int | None = None,
    expected_current_id: int | None = None,
    accept_prediction: bool = False,
    reviewing: bool = False,
    announce: bool = True,
) -> Annotation:
    """Record one label event on an image or its whole sequence.

    `expected_current_id`: see `label_conflict_check`.
    A partner's label is announced to the apps that check corrections, unless the caller announces in bulk.
    """
    Image.objects.select_for_update().filter(pk=image.pk).first()
    label_conflict_check(image, expected_current_id, advice="reload to see the change, then label again.")
    role, source = author_role_and_source(author, image)
    if reviewing and role == Role.PARTNER:  # an expert working a review queue labels as an expert
        role, source = Role.EXPERT, LabelSource.EXPERT
    if accept_prediction:
        source = LabelSource.MODEL_ACCEPTED if source == LabelSource.PARTNER else source
    target = {"sequence_id": image.sequence_id} if whole_sequence else {"image": image}
    box_fields = {"box_x": box.x, "box_y": box.y, "box_w": box.w, "box_h": box.h} if box else {}
    annotation = Annotation.objects.create(taxon=taxon, author=author, role=role, source=source, count=count,
                                           **target, **box_fields)
    if announce and source == LabelSource.PARTNER:
        partner_labels_announce([annotation.pk])
    return annotation


def partner_labels_announce(annotation_ids: list[int]) -> None:
    """Queue the jobs that check partner labels (routing doubtful corrections to experts), by dotted path, once
    the labels are committed: the labelled pool names those jobs in settings and imports nothing from them."""
    from django_q.tasks import async_task

    for task in settings.FAUNE["AFTER_PARTNER_LABEL_TASKS"]:
        transaction.on_commit(lambda task=task: async_task(task, list(annotation_ids)))
