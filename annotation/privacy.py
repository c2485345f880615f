"""People in photographs: which images show one, where, and who may see those images as they
were taken.

A person is known to be in an image when the image is labelled with a human taxon (this app's
labels), or when another app found one (a detector's person box, a classifier's "human"): those apps
tell this one through `people_finder_register`, from their AppConfig.ready(), since the labelled
pool imports none of them.

Originals stay with the image's organisation and the coordinators. Everyone else (experts of other
organisations, every export, any public page) gets a copy with the people hidden
(annotation/ingest/blur.py): the boxes where they stand, or the whole frame when no box says where.
A copy is made once and kept beside the originals, under a name that changes with the boxes, so a
new detection never serves a stale copy.
"""

import hashlib
from collections.abc import Callable, Iterable

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotation.ingest.blur import blurred_jpeg
from annotation.models import Annotation, Image, MediaKind, TaxonKind
from annotation.permissions import user_access
from faune_platform.boxes import Box
from faune_platform.db import chunked

# image ids -> {image id: boxes of the people found in it (an empty list: found, place unknown)}
PeopleFinder = Callable[[list[int]], dict[int, list[Box]]]
_finders: list[PeopleFinder] = []


def people_finder_register(finder: PeopleFinder) -> None:
    """Add a source of people (idempotent: ready() may run twice in tests)."""
    if finder not in _finders:
        _finders.append(finder)


def _rounded(box: Box) -> Box:
    """To a ten-thousandth: the same person's box from a label and from a detector becomes
    one box."""
    return box.rounded(4)


def _labelled_people(image_ids: list[int]) -> dict[int, list[Box]]:
    """Images whose current label is a human taxon, or that someone labelled human (with the box
    drawn, if any): a label corrected since still says someone saw a person there."""
    found: dict[int, list[Box]] = {
        pk: []
        for pk in Image.objects.filter(
            pk__in=image_ids, current_taxon__kind=TaxonKind.HUMAN
        ).values_list("pk", flat=True)
    }
    rows = Annotation.objects.filter(
        image_id__in=image_ids, taxon__kind=TaxonKind.HUMAN
    ).values_list("image_id", *Box.COLUMNS)
    for image_id, *columns in rows:
        box = Box.from_columns(*columns)
        found.setdefault(image_id, [])
        if box is not None:
            found[image_id].append(_rounded(box))
    return found


def people_in(image_ids: Iterable[int]) -> dict[int, tuple[Box, ...]]:
    """{image id: the boxes to hide} for the images among these that show a person; an empty tuple
    means the whole frame. Images without a known person are absent."""
    found: dict[int, set[Box]] = {}
    for part in chunked(image_ids):
        for source in (_labelled_people, *_finders):
            for image_id, boxes in source(part).items():
                found.setdefault(image_id, set()).update(_rounded(box) for box in boxes)
    return {image_id: tuple(sorted(boxes)) for image_id, boxes in found.items()}


def sees_originals(user: User | AnonymousUser, image: Image) -> bool:
    """The image's organisation and the coordinators see people as they were photographed."""
    return user_access(user).can_contribute_to(image.organisation_id)


def blurred_name(image: Image, field: str, boxes: tuple[Box, ...]) -> str:
    """Where the copy of `field` ("file" or "thumbnail") with these boxes hidden is kept."""
    # the boxes as plain tuples: copies named before Box existed keep their names
    digest = hashlib.sha256(repr(tuple(box.to_tuple() for box in boxes)).encode()).hexdigest()[:12]
    folder = f"blurred/{image.organisation_id}/{image.sha256[:2]}"
    return f"{folder}/{image.sha256[:20]}-{field}-{digest}.jpg"


def blurred_copy(image: Image, field: str, boxes: tuple[Box, ...]) -> str:
    """The storage name of the copy with the people hidden, made now if it is not there yet; "" when
    the original is missing."""
    name = blurred_name(image, field, boxes)
    if default_storage.exists(name):
        return name
    original: str = getattr(image, field).name
    if not original or not default_storage.exists(original):
        return ""
    with default_storage.open(original, "rb") as handle:
        hidden = blurred_jpeg(handle, boxes)
    return default_storage.save(name, ContentFile(hidden))


def shown_file(user: User | AnonymousUser, image: Image, field: str) -> str:
    """The storage name of what this user may see of the image's `field`: the original, or the copy
    with its people hidden. A video showing people cannot be blurred here: only those who see
    originals may play it."""
    original: str = getattr(image, field).name
    if sees_originals(user, image):
        return original
    boxes = people_in([image.pk]).get(image.pk)
    if boxes is None:
        return original
    if field == "file" and image.kind == MediaKind.VIDEO:
        raise PermissionDenied(
            "This video shows people: only its organisation and the coordinators can play it."
        )
    return blurred_copy(image, field, boxes)
