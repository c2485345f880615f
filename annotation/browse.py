"""Reads for browsing the pool: the image list's filters (which the image page keeps, to step
through the same images), each image's label or, failing one, the model's pre-label, and the boxes
people stored on an image."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import BooleanField, CharField, FloatField, IntegerField, Q, QuerySet, Value
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from annotation.models import Annotation, Image, LabelSource
from annotation.permissions import taxa_with_descendants
from annotation.selectors import image_filter, images_visible_to

# Where the label an image shows comes from: a person (a partner, or a partner who accepted the
# pre-label), an expert, an import, only the model's pre-label, or nothing at all. A thumbnail shows
# exactly one of these.
SOURCE_FILTERS: dict[str, Q] = {
    "human": Q(current_source__in=[LabelSource.PARTNER, LabelSource.MODEL_ACCEPTED]),
    "expert": Q(current_source=LabelSource.EXPERT),
    "import": Q(current_source=LabelSource.IMPORT),
    "model": Q(current_label__isnull=True, predicted_score__isnull=False),
    "none": Q(current_label__isnull=True, predicted_score__isnull=True),
}
SOURCE_CHOICES = [
    ("human", _("person (partner)")),
    ("expert", _("expert")),
    ("import", _("import")),
    ("model", _("model pre-label only")),
    ("none", _("nothing yet")),
]
# How a thumbnail or a box names where its label came from.
SOURCE_WORDS: dict[str, Promise] = {
    LabelSource.PARTNER: _("partner"),
    LabelSource.MODEL_ACCEPTED: _("accepted pre-label"),
    LabelSource.EXPERT: _("expert"),
    LabelSource.IMPORT: _("import"),
}
BROWSE_ORDER = ("-created_at", "-pk")  # newest first, as uploads arrive


def with_prelabels(images: QuerySet[Image]) -> QuerySet[Image]:
    """Each image's pre-label as columns (predicted_taxon_id, predicted_score, predicted_category
    and predicted_zero_shot), by the function settings name: the labelled pool reads pre-labels
    without importing the app that makes them."""
    path = settings.FAUNE.get("PRELABEL_COLUMNS")
    if not path:
        return images.annotate(
            predicted_taxon_id=Value(None, IntegerField()),
            predicted_score=Value(None, FloatField()),
            predicted_category=Value(None, CharField()),
            predicted_zero_shot=Value(False, BooleanField()),
        )
    columns: Callable[[QuerySet[Image]], QuerySet[Image]] = import_string(path)
    return columns(images)


@dataclass(frozen=True)
class Browse:
    """What the image list is filtered by; the image page receives the same, to step through the
    same images."""

    organisation: int | None = None
    deployment: int | None = None
    batch: int | None = None
    taxon: int | None = None
    source: str = ""
    labelled: bool | None = None
    taken_from: date | None = None
    taken_to: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def images_browse(user: User | AnonymousUser, browse: Browse) -> QuerySet[Image]:
    """The images the user may see that match `browse`, with their pre-labels, newest first. The
    taxon matches what a thumbnail shows: the label, or the pre-label of an image nobody
    labelled yet."""
    images = image_filter(
        with_prelabels(images_visible_to(user)),
        organisation=browse.organisation,
        deployment=browse.deployment,
        batch=browse.batch,
        labelled=browse.labelled,
    )
    if browse.taken_from is not None:
        images = images.filter(taken_at__gte=_day_start(browse.taken_from))
    if browse.taken_to is not None and browse.taken_to < date.max:  # the whole of the last day
        images = images.filter(taken_at__lt=_day_start(browse.taken_to + timedelta(days=1)))
    return shown_as(images, taxon=browse.taxon, source=browse.source).order_by(*BROWSE_ORDER)


def shown_as(images: QuerySet[Image], *, taxon: int | None, source: str) -> QuerySet[Image]:
    """The images whose thumbnail shows `taxon` (or a taxon below it): their label, or the pre-label
    of an image nobody labelled yet (`images` carry `with_prelabels`); and whose label came from
    `source`. The image list and the exports of a filtered list both select this way."""
    if taxon is not None:
        wanted = taxa_with_descendants({taxon})
        images = images.filter(
            Q(current_taxon_id__in=wanted)
            | Q(current_taxon_id__isnull=True, predicted_taxon_id__in=wanted)
        )
    if source:
        images = images.filter(SOURCE_FILTERS[source])
    return images


@dataclass(frozen=True)
class Neighbours:
    previous: int | None
    next: int | None
    position: (
        int | None
    )  # 1-based place of the image in the list; None when it no longer matches the filter
    total: int


def browse_neighbours(images: QuerySet[Image], image: Image) -> Neighbours:
    """The images before and after `image` in the filtered list. They are found by the image's place
    in the sort order, not by its membership: an image that left the filter (labelled since, say)
    still has neighbours."""
    at = image.created_at
    earlier_in_list = Q(created_at__gt=at) | Q(created_at=at, pk__gt=image.pk)
    later_in_list = Q(created_at__lt=at) | Q(created_at=at, pk__lt=image.pk)
    previous = (
        images.filter(earlier_in_list)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    following = images.filter(later_in_list).values_list("pk", flat=True).first()
    inside = images.filter(pk=image.pk).exists()
    position = images.filter(earlier_in_list).count() + 1 if inside else None
    return Neighbours(previous, following, position, images.count())


@dataclass(frozen=True)
class LabelBox:
    """A box a person (or an import) stored with a label, placed as percentages of the photo, so it
    sits on the same pixels whatever size the photo is shown at."""

    annotation: Annotation

    @property
    def style(self) -> str:
        box = self.annotation.box
        if box is None:  # `label_boxes` makes LabelBoxes of boxed labels only
            raise ValueError("A LabelBox needs a label that has a box.")
        # Formatted here, not in the template, so no locale turns 12.5 into 12,5.
        return (
            f"left: {box.x * 100:.4f}%; top: {box.y * 100:.4f}%; "
            f"width: {box.w * 100:.4f}%; height: {box.h * 100:.4f}%"
        )

    @property
    def source(self) -> str:
        return str(SOURCE_WORDS.get(self.annotation.source, self.annotation.source))


def label_boxes(image: Image) -> list[LabelBox]:
    """The boxes of the newest labelling pass that drew any on this image: every box of that pass
    (an import or a person may box several animals), none of the passes it superseded (they stay in
    the history)."""
    boxed = list(
        Annotation.objects.filter(image=image, box_w__isnull=False)
        .select_related("taxon", "author")
        .order_by("-created_at", "-pk")
    )
    if not boxed:
        return []
    newest = boxed[0]

    def same_pass(label: Annotation) -> bool:
        return (label.source, label.batch_id, label.author_id) == (
            newest.source,
            newest.batch_id,
            newest.author_id,
        )

    drawn: dict[
        tuple[object, ...], LabelBox
    ] = {}  # a dataset that lists the same box twice gets it drawn once
    for label in filter(same_pass, boxed):
        drawn.setdefault(
            (label.taxon_id, label.box_x, label.box_y, label.box_w, label.box_h), LabelBox(label)
        )
    return list(drawn.values())
