"""Who may see and change what. Coordinator rights come from memberships alone (plus the site-admin
flag that only `createsuperuser` and `bootstrap` set), read again on every request: a demotion takes
effect at once."""

from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from annotation.models import Membership, Role, Taxon


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


def taxa_with_descendants(taxon_ids: set[int]) -> frozenset[int]:
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


# The attribute on the user object that keeps its Access for the rest of the request.
_ACCESS_CACHE = "_faune_access"


def user_access(user: User | AnonymousUser) -> Access:
    if not user.is_authenticated:
        return Access()
    cached: Access | None = getattr(user, _ACCESS_CACHE, None)
    if cached is not None:
        return cached
    memberships = list(Membership.objects.filter(user=user).prefetch_related("review_taxa"))
    expert_taxa = {t.pk for m in memberships if m.role == Role.EXPERT for t in m.review_taxa.all()}
    access = Access(
        authenticated=True,
        coordinator=user.is_superuser
        or any(m.role == Role.COORDINATOR for m in memberships),  # site admin
        organisation_ids=frozenset(m.organisation_id for m in memberships),
        expert_taxon_ids=taxa_with_descendants(expert_taxa) if expert_taxa else frozenset(),
    )
    setattr(user, _ACCESS_CACHE, access)  # one lookup per request
    return access


def require_coordinator(user: User | AnonymousUser, doing: str) -> None:
    """Refuse (403 in pages and in the API alike) unless the user is a coordinator; `doing` ends
    the message."""
    if not user_access(user).coordinator:
        raise PermissionDenied(_("Only coordinators %(doing)s.") % {"doing": doing})


def review_taxa_of(user: User | AnonymousUser) -> set[int] | None:
    """The queues a user works: None for coordinators (every queue); an expert's taxa (and triage);
    else refused."""
    access = user_access(user)
    if access.coordinator:
        return None
    if not access.expert:
        raise PermissionDenied(_("Review queues are for experts and coordinators."))
    return set(access.expert_taxon_ids)
