"""REST API of an organisation's members and their roles."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import (
    Organisation,
)
from annotation.permissions import require_coordinator
from annotation.selectors import (
    taxon_resolve,
)
from annotation.serializers import (
    MembershipInputSerializer,
    MembershipSerializer,
)
from annotation.services.organisations import (
    membership_remove,
    membership_set,
)


def _organisation_of(request: Request, pk: int) -> Organisation:
    require_coordinator(request.user, _("manage memberships"))
    return get_object_or_404(Organisation, pk=pk)


class OrganisationMembersApi(APIView):
    """Coordinators list and set an organisation's members (role, an expert's taxa): through the one
    membership service, so a demotion takes effect on the member's next request."""

    parser_classes = [JSONParser, FormParser]
    body_serializer = MembershipInputSerializer
    response_serializer = MembershipSerializer

    def get(self, request: Request, pk: int) -> Response:
        """The organisation's members with their role and review taxa (coordinators)."""
        organisation = _organisation_of(request, pk)
        members = (
            organisation.memberships.select_related("user")
            .prefetch_related("review_taxa")
            .order_by("user__username")
        )
        return Response(MembershipSerializer(members, many=True).data)

    def post(self, request: Request, pk: int) -> Response:
        """Add a member or change their role and review taxa (coordinators)."""
        organisation = _organisation_of(request, pk)
        serializer = MembershipInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        taxa = (
            [taxon_resolve(name) for name in data["review_taxa"]] if "review_taxa" in data else None
        )
        membership = membership_set(
            user=data["username"], organisation=organisation, role=data["role"], review_taxa=taxa
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class OrganisationMemberApi(APIView):
    def delete(self, request: Request, pk: int, user_id: int) -> Response:
        """Remove a member from the organisation (coordinators)."""
        organisation = _organisation_of(request, pk)
        membership = get_object_or_404(
            organisation.memberships.select_related("user"), user_id=user_id
        )
        membership_remove(user=membership.user, organisation=organisation)
        return Response(status=status.HTTP_204_NO_CONTENT)
