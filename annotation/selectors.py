"""Reads of the labelled pool, always through what the asking user may see."""
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When

from annotation.models import SOURCE_RANK, Annotation, Deployment, Image, Membership, Role, Taxon, UploadBatch


@dataclass(frozen=True)
class Access:
    """What one user may see and change. Coordinators see everything; partners their organisations;
    experts also the whole pool within the taxa they review."""

    authenticated: bool = False
    coordinator: bool = False
    organisation_ids: frozenset[int] = field(default_factory=frozenset)
    expert_taxon_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def expert(self) -> bool:
        return bool(self.expert_taxon_ids)

    def can_contribute_to(self, organisation_id: int) -> bool:
        return self.coordinator or organisation_id in self.organisation_ids


def _with_descendants(taxon_ids: set[int]) -> frozenset[int]:
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Taxon.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, frontier = set(taxon_ids), list(taxon_ids)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return frozenset(found)


def user_access(user: User | AnonymousUser) -> Access:
    if not user.is_authenticated:
        return Access()
    cached = getattr(user, "_faune_access", None)
    if cached is not None:
        return cached
    memberships = list(Membership.objects.filter(user=user).prefetch_related("review_taxa"))
    expert_taxa = {t.pk for m in memberships if m.role == Role.EXPERT for t in m.review_taxa.all()}
    access = Access(
        authenticated=True,
        coordinator=user.is_superuser or any(m.role == Role.COORDINATOR for m in memberships),
        organisation_ids=frozenset(m.organisation_id for m in memberships),
        expert_taxon_ids=_with_descendants(expert_taxa) if expert_taxa else frozenset(),
    )
    user._faune_access = access  # one lookup per request
    return access


def require_coordinator(user: User | AnonymousUser, doing: str) -> None:
    """Refuse (403 in pages and in the API alike) unless the user is a coordinator; `doing` ends the message."""
    if not user_access(user).coordinator:
        raise PermissionDenied(f"Only coordinators {doing}.")


def _rank_expression() -> Case:
    return Case(*(When(source=source, then=Value(rank)) for source, rank in SOURCE_RANK.items()),
                output_field=IntegerField())


def labels_for_image(image_ref: OuterRef | Image, sequence_ref: OuterRef | int) -> QuerySet[Annotation]:
    """All label events that apply to an image, the winning one first (rank, then newest)."""
    return (
        Annotation.objects.filter(Q(image=image_ref) | Q(sequence=sequence_ref))
        .annotate(rank=_rank_expression())
        .order_by("-rank", "-created_at", "-pk")
    )


def with_current_label(images: QuerySet[Image]) -> QuerySet[Image]:
    winner = labels_for_image(OuterRef("pk"), OuterRef("sequence_id"))
    return images.annotate(
        current_taxon_id=Subquery(winner.values("taxon_id")[:1]),
        current_label_id=Subquery(winner.values("pk")[:1]),
    )


def images_visible_to(user: User | AnonymousUser) -> QuerySet[Image]:
    access = user_access(user)
    images = with_current_label(Image.objects.all())
    if access.coordinator:
        return images
    if not access.authenticated:
        return images.none()
    visible = Q(organisation_id__in=access.organisation_ids)
    if access.expert:
        visible |= Q(current_taxon_id__in=access.expert_taxon_ids)
    return images.filter(visible)


def image_editable_by(user: User | AnonymousUser, image: Image) -> bool:
    """Partners edit their organisation's images; experts the images in their taxa; coordinators all."""
    access = user_access(user)
    if access.can_contribute_to(image.organisation_id):
        return True
    current = getattr(image, "current_taxon_id", None)
    return access.expert and current in access.expert_taxon_ids


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
        images = images.filter(current_taxon_id__in=_with_descendants({taxon}))
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
