"""Routing doubtful partner corrections to experts: a partner who overrules a pre-label the model
itself was unsure of (score under the organisation's `check_corrections_below`) is asked for a
second opinion: in the queue of the partner's taxon when an expert reviews it, else in triage."""

from django.utils.formats import number_format

from annotation.models import Annotation, Image, LabelSource, Role, TaxonKind
from annotation.selectors import sequence_frames, taxa_with_experts
from annotation.services.reasons import in_every_language, taxon_named
from annotation.services.review import ReviewItem, review_queue_route, review_tasks_create
from faune_platform.boxes import Category
from faune_platform.errors import Worded, gettext_noop
from inference.models import Prediction
from inference.selectors import production_version


def _doubtful(annotation: Annotation, image: Image, prediction: Prediction) -> bool:
    if prediction.category != Category.ANIMAL or prediction.taxon_id == annotation.taxon_id:
        return False  # the partner agreed with the model: not a correction
    return prediction.score < image.organisation.check_corrections_below


def _shown(annotation: Annotation) -> Image | None:
    """The labelled image, or the frame that stands for a sequence-level label (partners label whole
    sequences one at a time)."""
    if annotation.image is not None:
        return annotation.image
    if annotation.sequence_id is None:  # never: a label targets an image or a sequence
        return None
    return sequence_frames(annotation.sequence_id).select_related("organisation").first()


def partner_corrections_route(*, annotation_ids: list[int]) -> int:
    """Open a check task (in the queue of the taxon the partner chose) for each doubtful correction.
    Returns how many were opened; a sequence already waiting for review gets no second task."""
    version = production_version()
    if version is None:
        return 0
    labels = Annotation.objects.filter(
        pk__in=annotation_ids, role=Role.PARTNER, source=LabelSource.PARTNER
    ).select_related("image__organisation", "taxon")
    shown = {annotation: _shown(annotation) for annotation in labels}
    predictions = {
        p.image_id: p
        for p in Prediction.objects.filter(
            version=version, image__in=[image for image in shown.values() if image]
        ).select_related("taxon")
    }
    expert_taxa = taxa_with_experts()
    items = []
    for annotation, image in shown.items():
        prediction = predictions.get(image.pk) if image else None
        if image is None or prediction is None:
            continue  # nothing predicted: not a correction
        if _doubtful(annotation, image, prediction):
            items.append(_check_item(annotation, image, prediction, expert_taxa))
    return len(review_tasks_create(items=items, origin="correction"))


def _said(prediction: Prediction) -> dict[str, str]:
    """The model's taxon, or its category when it saw no animal ("vehicle"), in every language."""
    if prediction.taxon:
        return taxon_named(prediction.taxon)
    return in_every_language(lambda: str(TaxonKind(prediction.category).label))


def _check_item(
    annotation: Annotation, image: Image, prediction: Prediction, expert_taxa: frozenset[int]
) -> ReviewItem:
    """A check in the queue of the partner's taxon when an expert reviews it, else in triage
    (saying so)."""
    chosen = annotation.taxon
    route = review_queue_route(taxa=[chosen], expert_taxa=expert_taxa)
    reason = [
        Worded(gettext_noop("partner correction to %(taxon)s"), {"taxon": taxon_named(chosen)}),
        Worded(
            gettext_noop("the model said %(said)s (%(score)s)"),
            {
                "said": _said(prediction),
                "score": in_every_language(lambda: number_format(prediction.score, 2)),
            },
        ),
    ]
    triaged = route.queue_taxon_id is None
    return ReviewItem(
        image=image,
        queue_taxon=None if triaged else chosen,
        score=1.0 - prediction.score,
        reason=[*reason, route.why] if triaged else reason,
        checks_label=annotation,
    )
