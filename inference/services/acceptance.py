"""Accepting pre-labels in bulk, or correcting many images to one taxon: one label event
per image."""

from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import ngettext

from annotation.models import Decision, DecisionKind, Taxon
from annotation.selectors import image_editable_by, images_visible_to
from annotation.services.annotations import LabelConflict, annotation_add, partner_labels_announce
from annotation.services.undo import decision_close, decision_open
from inference.models import Prediction
from inference.selectors import production_version


@dataclass
class Accepted:
    labelled: list[int] = field(default_factory=list)
    skipped: list[int] = field(
        default_factory=list
    )  # not visible, not editable, or nothing predicted
    conflicts: dict[int, str] = field(
        default_factory=dict
    )  # {image id: who labelled it since it was shown}
    decision: Decision | None = None  # what an undo takes back (None when nothing was labelled)


def prelabels_accept(
    *,
    user: User,
    image_ids: list[int],
    taxon: Taxon | None = None,
    expected: dict[int, int] | None = None,
) -> Accepted:
    """Label each image with its production pre-label (or with `taxon`, a correction). `expected`
    maps an image to the label the user saw as current (0: none): an image someone labelled since is
    left alone and reported, never overridden. Without it, no such check is made (the pages always
    send it)."""
    version, expected = production_version(), expected or {}
    images = images_visible_to(user).filter(pk__in=image_ids)
    predicted = (
        {
            p.image_id: p.taxon
            for p in Prediction.objects.filter(image__in=images, version=version).select_related(
                "taxon"
            )
        }
        if version
        else {}
    )
    result, events, given = Accepted(), [], Counter[str]()
    with transaction.atomic():
        decision = decision_open(author=user, kind=DecisionKind.ACCEPT)
        for image in images:
            chosen = taxon or predicted.get(image.pk)
            if chosen is None or not image_editable_by(user, image):
                continue
            try:
                with transaction.atomic():
                    events.append(
                        annotation_add(
                            image=image,
                            taxon=chosen,
                            author=user,
                            announce=False,
                            accept_prediction=taxon is None,
                            decision=decision,
                            expected_current_id=expected.get(image.pk),
                        ).pk
                    )
            except LabelConflict as conflict:
                result.conflicts[image.pk] = str(conflict)
                continue
            result.labelled.append(image.pk)
            given[chosen.name_en] += 1
        if taxon is not None:  # one check job for the whole correction, not one per image
            partner_labels_announce(events)
        result.decision = _decision_end(decision, given, corrected=taxon is not None)
    result.skipped = sorted(set(image_ids) - set(result.labelled) - set(result.conflicts))
    return result


def _decision_end(decision: Decision, given: Counter[str], *, corrected: bool) -> Decision | None:
    """Say what was saved ('Accepted 3 pre-labels: roe deer ×2, fox'); a decision that labelled
    nothing is dropped in its own transaction, as if never opened."""
    if not given:
        decision.delete()
        return None
    what = ", ".join(name if n == 1 else f"{name} ×{n}" for name, n in given.most_common())
    total = sum(given.values())
    if corrected:
        summary = ngettext(
            "Corrected %(n)d image to %(what)s.", "Corrected %(n)d images to %(what)s.", total
        )
    else:
        summary = ngettext(
            "Accepted %(n)d pre-label: %(what)s.", "Accepted %(n)d pre-labels: %(what)s.", total
        )
    return decision_close(decision, summary=summary % {"n": total, "what": what})
