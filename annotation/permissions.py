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


def _with_descendants(seed_sql: str) -> str:
    """A recursive query `walked(id)`: the taxa `seed_sql` selects and every descendant. The one
    walk of the taxon tree; `UNION` stops on a loop. The ORM cannot express it; SQLite and
    PostgreSQL both run it."""
    taxa = Taxon._meta.db_table
    return (
        f"WITH RECURSIVE walked(id) AS ({seed_sql}"  # noqa: S608 (a table name from the model)
        f" UNION SELECT t.id FROM {taxa} t JOIN walked ON t.parent_id = walked.id)"
    )


def taxa_with_descendants(taxon_ids: set[int]) -> frozenset[int]:
    if not taxon_ids:
        return frozenset()
    placeholders = ", ".join(["%s"] * len(taxon_ids))
    seed = f"SELECT id FROM {Taxon._meta.db_table} WHERE id IN ({placeholders})"  # noqa: S608
    sql = f"{_with_descendants(seed)} SELECT id FROM walked"  # noqa: S608 (placeholders only)
    with connection.cursor() as cursor:
        cursor.execute(sql, list(taxon_ids))
        return frozenset(taxon_ids) | {taxon_id for (taxon_id,) in cursor.fetchall()}


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
    (memberships, their taxa, the tree)."""
    reviewed = Membership.review_taxa.through._meta.db_table
    memberships = Membership._meta.db_table
    seed = (
        f"SELECT r.taxon_id FROM {reviewed} r"  # noqa: S608 (table names from the models)
        f" JOIN {memberships} m ON m.id = r.membership_id WHERE m.user_id = %s AND m.role = %s"
    )
    sql = (
        f"{_with_descendants(seed)}"  # noqa: S608
        f" SELECT role, organisation_id, NULL FROM {memberships} WHERE user_id = %s"
        f" UNION ALL SELECT NULL, NULL, id FROM walked"
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
