"""Accepting pre-labels in bulk, or correcting many images to one taxon: one label event per image."""
from django.contrib.auth.models import User
from django.db import transaction

from annotation.models import Taxon
from annotation.selectors import image_editable_by, images_visible_to
from annotation.services.annotations import annotation_add, partner_labels_announce
from inference.models import Prediction
from inference.selectors import production_version


def prelabels_accept(*, user: User, image_ids: list[int], taxon: Taxon | None = None) -> tuple[list[int], list[int]]:
    """Label each image with its production pre-label (or with `taxon`, a correction). Returns (labelled,
    skipped): skipped are images the user may not label, cannot see, or that have no pre-label."""
    version = production_version()
    images = images_visible_to(user).filter(pk__in=image_ids)
    predicted = {p.image_id: p.taxon for p in Prediction.objects.filter(image__in=images, version=version)
                 .select_related("taxon")} if version else {}
    labelled, events = [], []
    with transaction.atomic():
        for image in images:
            chosen = taxon or predicted.get(image.pk)
            if chosen is not None and image_editable_by(user, image):
                events.append(annotation_add(image=image, taxon=chosen, author=user, accept_prediction=taxon is None,
                                             announce=False).pk)
                labelled.append(image.pk)
        if taxon is not None:  # one check job for the whole correction, not one per image
            partner_labels_announce(events)
    return labelled, sorted(set(image_ids) - set(labelled))
