"""Where an upload goes: an organisation the user may contribute to, and a camera in it."""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from annotation.models import Deployment, Organisation
from annotation.permissions import user_access
from annotation.services.organisations import deployment_get_or_create


def upload_target_resolve(
    *,
    user: User,
    organisation_id: int | None,
    deployment_id: int | None = None,
    deployment_name: str = "",
) -> tuple[Organisation, Deployment | None]:
    access = user_access(user)
    if organisation_id is None:
        if len(access.organisation_ids) != 1:
            raise ValidationError(
                _("Choose the organisation these images belong to (field 'organisation').")
            )
        organisation_id = next(iter(access.organisation_ids))
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise ValidationError(_("Organisation %(id)s does not exist.") % {"id": organisation_id})
    if not access.can_contribute_to(organisation.pk):
        raise PermissionDenied(
            _("You are not a member of %(organisation)s, so you cannot add images to it.")
            % {"organisation": organisation.name}
        )
    if deployment_id is not None:
        deployment = Deployment.objects.filter(pk=deployment_id, organisation=organisation).first()
        if deployment is None:
            raise ValidationError(
                _("Deployment %(id)s does not belong to %(organisation)s.")
                % {"id": deployment_id, "organisation": organisation.name}
            )
        return organisation, deployment
    if deployment_name.strip():
        return organisation, deployment_get_or_create(
            organisation=organisation, name=deployment_name
        )
    return organisation, None
