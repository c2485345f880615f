"""Who may see and change what. Coordinator rights come from memberships alone (plus the site-admin
flag that only `createsuperuser` and `bootstrap` set), read again on every request: a demotion takes
effect at once."""

from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import connection
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
    roles, expert_taxa = _memberships_and_reviewed_taxa(user.pk)
    access = Access(
        authenticated=True,
        coordinator=user.is_superuser  # site admin
        or any(role == Role.COORDINATOR for role, _ in roles),
        organisation_ids=frozenset(organisation_id for _, organisation_id in roles),
        expert_taxon_ids=frozenset(expert_taxa),
    )
    setattr(user, _ACCESS_CACHE, access)  # one lookup per request
    return access


def _memberships_and_reviewed_taxa(user_id: int) -> tuple[list[tuple[str, int]], set[int]]:
    """The user's (role, organisation) pairs and the taxa they review as an expert with every
    descendant, in one query: every request asks, so it is one round trip instead of three
    (memberships, their taxa, the tree). The tree is walked by a recursive query, which the ORM
    cannot express; SQLite and PostgreSQL both run it."""
    reviewed = Membership.review_taxa.through._meta.db_table
    memberships = Membership._meta.db_table
    taxa = Taxon._meta.db_table
    sql = (
        f"WITH RECURSIVE reviewed(id) AS ("  # noqa: S608 (table names from the models)
        f" SELECT r.taxon_id FROM {reviewed} r JOIN {memberships} m ON m.id = r.membership_id"
        f" WHERE m.user_id = %s AND m.role = %s"
        f" UNION SELECT t.id FROM {taxa} t JOIN reviewed ON t.parent_id = reviewed.id)"
        f" SELECT role, organisation_id, NULL FROM {memberships} WHERE user_id = %s"
        f" UNION ALL SELECT NULL, NULL, id FROM reviewed"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, Role.EXPERT.value, user_id])
        rows = cursor.fetchall()
    roles = [(role, organisation_id) for role, organisation_id, _ in rows if role is not None]
    return roles, {taxon_id for role, _, taxon_id in rows if role is None}


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
