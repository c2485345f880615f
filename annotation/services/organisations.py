from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from annotation.models import Deployment, Membership, Organisation, Role, Taxon


def organisation_get_or_create(*, name: str) -> tuple[Organisation, bool]:
    name = name.strip()
    if not name:
        raise ValidationError("An organisation needs a name.")
    return Organisation.objects.get_or_create(name=name)


@transaction.atomic
def membership_set(
    *, user: User, organisation: Organisation, role: str, review_taxa: list[Taxon] | None = None
) -> Membership:
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    membership, _ = Membership.objects.update_or_create(user=user, organisation=organisation,
                                                        defaults={"role": role})
    if review_taxa is not None:
        membership.review_taxa.set(review_taxa)
    if role == Role.COORDINATOR and not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True  # coordinators see everything, the Django admin included
        user.save(update_fields=["is_staff", "is_superuser"])
    return membership


def user_create(*, username: str, password: str, email: str = "") -> User:
    return get_user_model().objects.create_user(username=username, password=password, email=email)


def deployment_get_or_create(*, organisation: Organisation, name: str, **details: object) -> Deployment:
    name = name.strip()[:200]
    if not name:
        raise ValidationError("A deployment needs a name.")
    deployment, _ = Deployment.objects.get_or_create(organisation=organisation, name=name, defaults=details)
    return deployment


@transaction.atomic
def deployment_clock_offset_set(*, deployment: Deployment, clock_offset_s: int) -> Deployment:
    """Shift every dated image of the camera by the change; sequences keep their members since all gaps stay."""
    locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
    delta = timedelta(seconds=clock_offset_s - locked.clock_offset_s)
    if delta:
        locked.images.filter(taken_at__isnull=False).update(taken_at=F("taken_at") + delta)
        locked.sequence_set.filter(start__isnull=False).update(start=F("start") + delta, end=F("end") + delta)
        locked.clock_offset_s = clock_offset_s
        locked.save(update_fields=["clock_offset_s"])
    return locked
