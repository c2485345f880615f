"""Reads of the labelled pool, always through what the asking user may see."""
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from annotation.models import (
    SOURCE_RANK,
    WAITING,
    Annotation,
    Deployment,
    Image,
    Membership,
    ReviewState,
    ReviewTask,
    ReviewVerdict,
    Role,
    Taxon,
    TaxonProposal,
    UploadBatch,
    VerdictKind,
)
from annotation.permissions import Access, taxa_with_descendants, user_access


def _rank_expression() -> Case:
    return Case(*(When(source=source, then=Value(rank)) for source, rank in SOURCE_RANK.items()),
                output_field=IntegerField())


def labels_in_force() -> QuerySet[Annotation]:
    """Label events that count: neither an undo nor undone (an undo withdraws the event it `undoes`)."""
    return Annotation.objects.filter(undoes__isnull=True, undone_by__isnull=True)


def labels_for_image(image_ref: OuterRef | Image, sequence_ref: OuterRef | int) -> QuerySet[Annotation]:
    """The label events in force that apply to an image, the winning one first (rank, then newest): the rule
    that `Image.current_label` materialises."""
    return (
        labels_in_force().filter(Q(image=image_ref) | Q(sequence=sequence_ref))
        .annotate(rank=_rank_expression())
        .order_by("-rank", "-created_at", "-pk")
    )


def label_events(image: Image) -> QuerySet[Annotation]:
    """Every label event of an image and its sequence, newest first, undone ones and undos included: the record
    people read (what counts is `label_history`)."""
    return (Annotation.objects.filter(Q(image=image) | Q(sequence_id=image.sequence_id))
            .select_related("taxon", "author", "undoes__taxon")
            .annotate(undone=Exists(Annotation.objects.filter(undoes=OuterRef("pk"))))
            .order_by("-created_at", "-pk"))


def images_visible_to(user: User | AnonymousUser) -> QuerySet[Image]:
    access = user_access(user)
    images = Image.objects.all()
    if access.coordinator:
        return images
    if not access.authenticated:
        return images.none()
    visible = Q(organisation_id__in=access.organisation_ids)
    if access.expert:
        in_review = Exists(_reviewable_by(access, OuterRef("sequence_id")))
        visible |= Q(current_taxon_id__in=access.expert_taxon_ids) | in_review
    return images.filter(visible)


def _reviewable_by(access: Access, sequence_ref: OuterRef) -> QuerySet[ReviewTask]:
    """Waiting review tasks of a sequence in the expert's queues (or triage), and second opinions past the
    wait (offered to every expert): experts see what they review."""
    queues = Q(queue_taxon__isnull=True) | Q(queue_taxon_id__in=access.expert_taxon_ids)
    offered = queues | second_opinion_overdue()
    return ReviewTask.objects.filter(offered, sequence_id=sequence_ref, state__in=WAITING)


def image_editable_by(user: User | AnonymousUser, image: Image) -> bool:
    """Partners edit their organisation's images; experts the images in their taxa; coordinators all."""
    access = user_access(user)
    if access.can_contribute_to(image.organisation_id):
        return True
    return access.expert and image.current_taxon_id in access.expert_taxon_ids


def image_filter(
    images: QuerySet[Image],
    *,
    organisation: int | None = None,
    deployment: int | None = None,
    taken_after=None,
    taken_before=None,
    taxon: int | None = None,
    labelled: bool | None = None,
    batch: int | None = None,
) -> QuerySet[Image]:
    if organisation is not None:
        images = images.filter(organisation_id=organisation)
    if deployment is not None:
        images = images.filter(deployment_id=deployment)
    if batch is not None:
        images = images.filter(batch_id=batch)
    if taken_after is not None:
        images = images.filter(taken_at__gte=taken_after)
    if taken_before is not None:
        images = images.filter(taken_at__lte=taken_before)
    if taxon is not None:
        images = images.filter(current_taxon_id__in=taxa_with_descendants({taxon}))
    if labelled is not None:
        images = images.filter(current_taxon_id__isnull=not labelled)
    return images


def deployments_visible_to(user: User | AnonymousUser) -> QuerySet[Deployment]:
    access = user_access(user)
    if access.coordinator:
        return Deployment.objects.all()
    return Deployment.objects.filter(organisation_id__in=access.organisation_ids)


def batches_visible_to(user: User | AnonymousUser) -> QuerySet[UploadBatch]:
    access = user_access(user)
    if access.coordinator:
        return UploadBatch.objects.all()
    return UploadBatch.objects.filter(organisation_id__in=access.organisation_ids)


def taxa_held(taxon_ids: set[int] | None = None) -> dict[int, int]:
    """{taxon id: images whose current label it is} over the whole pool (or these taxa)."""
    images = Image.objects.filter(current_taxon__isnull=False)
    if taxon_ids is not None:
        images = images.filter(current_taxon_id__in=taxon_ids)
    return dict(images.values_list("current_taxon_id").annotate(n=Count("pk")).values_list("current_taxon_id", "n"))


def sequence_label_stamp(sequence_id: int) -> int:
    """The newest label event on a sequence or any of its frames (0: none): what a reviewer saw is stale once it
    changes, whichever frame was labelled."""
    events = Annotation.objects.filter(Q(sequence_id=sequence_id) | Q(image__sequence_id=sequence_id))
    return events.aggregate(newest=Max("pk"))["newest"] or 0


def label_history(image: Image) -> QuerySet[Annotation]:
    return labels_for_image(image, image.sequence_id).select_related("taxon", "author")


class UnknownTaxon(Exception):
    http_status = 400


def taxon_resolve(text: str) -> Taxon:
    """A taxon from its id, slug, or French, English or scientific name."""
    from annotation.services.taxa import normalise_name, taxa_by_name

    text = str(text).strip()
    if text.isdigit():
        taxon = Taxon.objects.filter(pk=int(text)).first()
    else:
        taxon = taxa_by_name().get(normalise_name(text))
    if taxon is None:
        raise UnknownTaxon(f"Unknown taxon {text!r}. Use a taxon id, slug, or its French or English name "
                           "(GET /api/taxa/ lists them); a coordinator can add new taxa.")
    return taxon


def _sequence_taxon(frames: dict[str, int]) -> int:
    return Counter(frames.values()).most_common(1)[0][0]


def _kappa(pairs: list[tuple[int, int]]) -> float | None:
    """Cohen's kappa: agreement beyond what two raters labelling at their own base rates would reach by chance."""
    if not pairs:
        return None
    observed = sum(a == b for a, b in pairs) / len(pairs)
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(first[k] * second[k] for k in first) / len(pairs) ** 2
    return 1.0 if chance >= 1 else round((observed - chance) / (1 - chance), 4)


def review_agreement() -> dict:
    """Blind double reviews: how often the two experts gave the same labels, overall, per queue and per expert,
    with Cohen's kappa on the sequence's taxon."""
    tasks = ReviewTask.objects.filter(reviews_needed__gte=2).select_related("queue_taxon").prefetch_related(
        "verdicts__expert")
    per_queue, per_expert, taxa_pairs, agreed_total, total = defaultdict(list), defaultdict(list), [], 0, 0
    for task in tasks:
        labels = [v for v in task.verdicts.all() if v.kind == VerdictKind.LABEL][:2]
        if len(labels) < 2:
            continue
        agreed = labels[0].agrees_with(labels[1])
        total, agreed_total = total + 1, agreed_total + agreed
        per_queue[task.queue_taxon.name_en if task.queue_taxon_id else "triage"].append(agreed)
        for verdict in labels:
            per_expert[verdict.expert.username if verdict.expert else "(deleted)"].append(agreed)
        taxa_pairs.append((_sequence_taxon(labels[0].frames), _sequence_taxon(labels[1].frames)))

    def rows(groups: dict) -> list[dict]:
        return [{"name": name, "double_reviews": len(values), "agreement": round(sum(values) / len(values), 4)}
                for name, values in sorted(groups.items())]

    return {"double_reviews": total, "agreement": round(agreed_total / total, 4) if total else None,
            "kappa": _kappa(taxa_pairs), "by_queue": rows(per_queue), "by_expert": rows(per_expert),
            "conflicts_open": review_conflicts().count()}


def review_conflicts() -> QuerySet[ReviewTask]:
    """Tasks two experts disagreed on, oldest first, with what each said."""
    return ReviewTask.objects.filter(state=ReviewState.CONFLICT).select_related("queue_taxon").prefetch_related(
        "verdicts__expert").order_by("created_at")


FRAME_ORDER = ("taken_at", "pk")  # the frames of a sequence as they were taken (undated ones by arrival)


def sequence_frames(sequence_id: int) -> QuerySet[Image]:
    return Image.objects.filter(sequence_id=sequence_id).order_by(*FRAME_ORDER)


def taxa_with_experts() -> frozenset[int]:
    """Taxa some active expert reviews; an expert of a higher taxon covers its descendants. Routing reads this
    once per batch of tasks."""
    experts = Membership.objects.filter(role=Role.EXPERT, user__is_active=True, review_taxa__isnull=False)
    reviewed = set(experts.values_list("review_taxa", flat=True))
    return taxa_with_descendants(reviewed) if reviewed else frozenset()


def first_label_at() -> Subquery:
    """When a task's first label verdict was given: since then a blind double review waits for the next
    expert."""
    labels = ReviewVerdict.objects.filter(task=OuterRef("pk"), kind=VerdictKind.LABEL)
    return Subquery(labels.order_by("created_at", "pk").values("created_at")[:1])


def second_opinion_cutoff(now: datetime | None = None) -> datetime:
    """A first label given before this waited long enough for an expert of its own taxon."""
    return (now or timezone.now()) - timedelta(hours=settings.FAUNE["SECOND_OPINION_WAIT_HOURS"])


def second_opinion_overdue(now: datetime | None = None) -> Q:
    """Open blind double reviews whose first label is older than the wait: offered to every expert and
    coordinator (never to the first expert again), so none waits forever for a second expert of its taxon."""
    old_label = ReviewVerdict.objects.filter(task=OuterRef("pk"), kind=VerdictKind.LABEL,
                                             created_at__lte=second_opinion_cutoff(now))
    return Q(state=ReviewState.OPEN, reviews_needed__gte=2) & Q(Exists(old_label))


def second_opinions_waiting(*, taxon_ids: set[int] | None, now: datetime | None = None) -> dict:
    """Blind double reviews holding their first label, in the queues a user works (None: every queue) plus
    those past the wait: how many, since when (the oldest first label), how many are past the wait."""
    waiting = (ReviewTask.objects.filter(state=ReviewState.OPEN, reviews_needed__gte=2)
               .annotate(waiting_since=first_label_at()).filter(waiting_since__isnull=False))
    if taxon_ids is not None:
        queues = Q(queue_taxon__isnull=True) | Q(queue_taxon_id__in=taxon_ids)
        waiting = waiting.filter(queues | second_opinion_overdue(now))
    overdue = Q(waiting_since__lte=second_opinion_cutoff(now))
    summary = waiting.aggregate(count=Count("pk"), since=Min("waiting_since"),
                                overdue=Count("pk", filter=overdue))
    return {**summary, "wait_hours": settings.FAUNE["SECOND_OPINION_WAIT_HOURS"]}


def taxon_proposals(status: str = "pending") -> QuerySet[TaxonProposal]:
    """Proposals of new taxa in a status ('all': every one), oldest pending first, else newest first."""
    proposals = TaxonProposal.objects.select_related("proposed_by", "decided_by", "taxon").prefetch_related(
        Prefetch("frames", Image.objects.order_by(*FRAME_ORDER)))
    if status == "all":
        return proposals.order_by("-created_at", "-pk")
    return proposals.filter(status=status).order_by("created_at" if status == "pending" else "-created_at", "pk")
