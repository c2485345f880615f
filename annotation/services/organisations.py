from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Field
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from annotation.models import Deployment, Membership, Organisation, Role, Taxon

# How far a camera's clock may be corrected: about 68 years either way, more than any wrong clock
# needs (camera dates before the earliest plausible year are dropped anyway), and what a 32-bit
# integer column holds. Larger offsets push dates past year 9999 and every dated upload to the
# camera would fail.
MAX_CLOCK_OFFSET_S = 2**31 - 1


def organisation_get_or_create(*, name: str) -> tuple[Organisation, bool]:
    name = name.strip()
    if not name:
        raise ValidationError(_("An organisation needs a name."))
    return Organisation.objects.get_or_create(name=name)


@transaction.atomic
def organisation_create(*, name: str) -> Organisation:
    """A new organisation; a name that differs from an existing one only by case or spaces is
    refused, since two such organisations would be told apart by nobody."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError(_("An organisation needs a name."))
    if Organisation.objects.filter(name__iexact=name).exists():
        raise ValidationError(_("An organisation named %(name)s exists already.") % {"name": name})
    try:
        with transaction.atomic():
            return Organisation.objects.create(name=name)
    except IntegrityError:  # created by someone else between the check and the insert
        raise ValidationError(
            _("An organisation named %(name)s exists already.") % {"name": name}
        ) from None


def _coordinators_left(*, without: Membership) -> bool:
    """Someone must still be able to manage memberships: another coordinator, or a site admin. The
    coordinator memberships are locked first, so two coordinators demoting each other at the same
    moment cannot both pass this check (on PostgreSQL; SQLite runs write transactions one at a
    time anyway)."""
    coordinators = Membership.objects.select_for_update(of=("self",)).filter(
        role=Role.COORDINATOR, user__is_active=True
    )
    others = [pk for pk in coordinators.values_list("pk", flat=True) if pk != without.pk]
    admins = get_user_model().objects.filter(is_superuser=True, is_active=True)
    return bool(others) or admins.exists()


@transaction.atomic
def membership_set(
    *, user: User, organisation: Organisation, role: str, review_taxa: list[Taxon] | None = None
) -> Membership:
    """Add a member or change their role (and, for experts, the taxa they review). The one way
    memberships change: the admin, the members page and the API all call it. Coordinator rights come
    from the membership alone (no account flag is set), so a demotion takes effect on the member's
    next request."""
    if role not in Role.values:
        raise ValidationError(
            _("Unknown role %(role)r; choose one of %(roles)s.")
            % {"role": role, "roles": ", ".join(Role.values)}
        )
    current = (
        Membership.objects.select_for_update().filter(user=user, organisation=organisation).first()
    )
    if (
        current
        and current.role == Role.COORDINATOR
        and role != Role.COORDINATOR
        and not _coordinators_left(without=current)
    ):
        raise ValidationError(
            _("%(user)s is the last coordinator: make someone else coordinator first.")
            % {"user": user.username}
        )
    membership, _created = Membership.objects.update_or_create(
        user=user, organisation=organisation, defaults={"role": role}
    )
    if review_taxa is not None:
        membership.review_taxa.set(review_taxa)
    return membership


@transaction.atomic
def membership_remove(*, user: User, organisation: Organisation) -> None:
    """Take a member out of an organisation (their labels and uploads stay, credited to them)."""
    current = (
        Membership.objects.select_for_update().filter(user=user, organisation=organisation).first()
    )
    if current is None:
        return
    if current.role == Role.COORDINATOR and not _coordinators_left(without=current):
        raise ValidationError(
            _("%(user)s is the last coordinator: make someone else coordinator first.")
            % {"user": user.username}
        )
    current.delete()


def user_create(*, username: str, password: str, email: str = "") -> User:
    return get_user_model().objects.create_user(username=username, password=password, email=email)


@dataclass(frozen=True)
class PasswordLink:
    """What a set-password link is made of: the account's id, encoded, and a token that
    works once."""

    user: User
    uidb64: str
    token: str


def password_link_issue(*, user: User) -> PasswordLink:
    """A link for someone who has not chosen a password yet. The token (Django's password-reset
    token) is signed over the stored password, so it stops working once the password is set; drawing
    a new unusable password also voids every link given before. Accounts with a password are
    refused: a coordinator passing on such a link would take the account over."""
    if user.has_usable_password():
        raise ValidationError(
            _(
                "%(username)s has chosen a password already; only people who have not get a "
                "set-password link."
            )
            % {"username": user.username}
        )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return PasswordLink(
        user, urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)
    )


@transaction.atomic
def member_invite(
    *,
    username: str,
    email: str = "",
    organisation: Organisation,
    role: str,
    review_taxa: list[Taxon] | None = None,
) -> PasswordLink:
    """Create a person's account (with no password) and their membership, and return the one-time
    link with which they choose their password: there is no mail server, so the coordinator passes
    the link on."""
    username = username.strip()
    if get_user_model().objects.filter(username__iexact=username).exists():
        raise ValidationError(
            _("An account named %(username)s exists already: add it as a member instead.")
            % {"username": username}
        )
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                username=username, email=email.strip(), password=None
            )
    except IntegrityError:  # created by someone else between the check and the insert
        raise ValidationError(
            _("An account named %(username)s exists already.") % {"username": username}
        ) from None
    membership_set(user=user, organisation=organisation, role=role, review_taxa=review_taxa)
    return password_link_issue(user=user)


def clock_offset_check(clock_offset_s: int) -> None:
    if abs(clock_offset_s) > MAX_CLOCK_OFFSET_S:
        raise ValidationError(
            _(
                "A clock offset is at most %(most)s seconds (about 68 years) either way; "
                "%(offset)s is not a camera clock error."
            )
            % {"most": f"{MAX_CLOCK_OFFSET_S:,}", "offset": f"{clock_offset_s:,}"}
        )


def deployment_ensure(
    *, organisation: Organisation, name: str, **details: Any
) -> tuple[Deployment, bool]:
    """The organisation's camera of that name, created (with `details`) when missing; True
    when created."""
    name = name.strip()[:200]
    if not name:
        raise ValidationError(_("A deployment needs a name."))
    clock_offset_check(int(details.get("clock_offset_s", 0)))
    return Deployment.objects.get_or_create(organisation=organisation, name=name, defaults=details)


def deployment_get_or_create(
    *, organisation: Organisation, name: str, **details: Any
) -> Deployment:
    return deployment_ensure(organisation=organisation, name=name, **details)[0]


@transaction.atomic
def deployment_clock_offset_set(*, deployment: Deployment, clock_offset_s: int) -> Deployment:
    """Shift every dated image of the camera by the change; sequences keep their members since all
    gaps stay."""
    clock_offset_check(clock_offset_s)
    locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
    delta = timedelta(seconds=clock_offset_s - locked.clock_offset_s)
    if delta:
        locked.images.filter(taken_at__isnull=False).update(taken_at=F("taken_at") + delta)
        locked.sequence_set.filter(start__isnull=False).update(
            start=F("start") + delta, end=F("end") + delta
        )
        locked.clock_offset_s = clock_offset_s
        locked.save(update_fields=["clock_offset_s"])
    return locked


# What a field team records about a camera, and the deployment page edits; empty text is "",
# not NULL.
DEPLOYMENT_TEXT = ("name", "location_name", "camera_id", "camera_make", "camera_model", "habitat")
DEPLOYMENT_DETAILS = (*DEPLOYMENT_TEXT, "latitude", "longitude", "start", "end", "clock_offset_s")


def _name_error(deployment: Deployment, name: str) -> str | None:
    if not name:
        return _("A deployment needs a name.")
    taken = Deployment.objects.filter(organisation_id=deployment.organisation_id, name=name)
    return (
        _("Another deployment of this organisation has this name.")
        if taken.exclude(pk=deployment.pk).exists()
        else None
    )


def _deployment_errors(deployment: Deployment, values: dict[str, Any]) -> dict[str, str]:
    """What is wrong with these details, by field: the form says it too, this is the service's
    own guard."""
    errors = {}
    if name_error := _name_error(deployment, values["name"]):
        errors["name"] = name_error
    for field in DEPLOYMENT_TEXT:
        text_field = Deployment._meta.get_field(field)
        limit = text_field.max_length if isinstance(text_field, Field) else None
        if limit and len(values[field]) > limit:
            errors[field] = _("At most %(limit)s characters.") % {"limit": limit}
    for field, bound in (("latitude", 90), ("longitude", 180)):
        if values[field] is not None and not -bound <= values[field] <= bound:  # NaN fails too
            errors[field] = _("Between -%(bound)s and %(bound)s degrees.") % {"bound": bound}
    start, end = values["start"], values["end"]
    if isinstance(start, datetime) and isinstance(end, datetime) and end <= start:
        errors["end"] = _("The pick-up must come after the set-up.")
    if abs(values["clock_offset_s"]) > MAX_CLOCK_OFFSET_S:
        errors["clock_offset_s"] = _("At most %(bound)s seconds either way.") % {
            "bound": f"{MAX_CLOCK_OFFSET_S:,}"
        }
    return errors


@transaction.atomic
def deployment_update(*, deployment: Deployment, **details: Any) -> Deployment:
    """Record a camera's metadata (any of DEPLOYMENT_DETAILS). A new clock offset shifts the
    camera's dated images and sequences in the same transaction (`deployment_clock_offset_set`), so
    dates and offset never disagree."""
    unknown = set(details) - set(DEPLOYMENT_DETAILS)
    if unknown:
        raise TypeError(f"not a deployment detail: {', '.join(sorted(unknown))}")
    locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
    values = {field: details.get(field, getattr(locked, field)) for field in DEPLOYMENT_DETAILS}
    values |= {field: str(values[field] or "").strip() for field in DEPLOYMENT_TEXT}
    if errors := _deployment_errors(locked, values):
        raise ValidationError(errors)
    offset = int(values.pop("clock_offset_s"))
    if offset != locked.clock_offset_s:
        locked = deployment_clock_offset_set(deployment=locked, clock_offset_s=offset)
    for field, value in values.items():
        setattr(locked, field, value)
    locked.save(update_fields=list(values))
    return locked
