"""API tokens over the API: obtain one with a user name and password (throttled), list,
create, revoke."""

from collections.abc import Mapping

from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from faune_platform.models import ApiToken
from faune_platform.throttle import (
    client_address,
    login_attempt_begin,
    login_success_record,
)
from faune_platform.tokens.services import NewToken, api_token_create, api_token_revoke, tokens_of


class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField()


class TokenCreatedSerializer(TokenSerializer):
    """A token just created: the only answer that carries its secret (`token`, DRF's name
    for it)."""

    token = serializers.SerializerMethodField()

    def get_token(self, token: object) -> str:
        return self.context["secret"]


def _created(new: NewToken) -> Response:
    return Response(
        TokenCreatedSerializer(new.token, context={"secret": new.secret}).data,
        status=status.HTTP_201_CREATED,
    )


def _username_of(data: object) -> str:
    """The name failures are counted against; a JSON body that is not an object has none (the
    serializer then refuses it with a 400, like a wrong password)."""
    return str(data.get("username", "")) if isinstance(data, Mapping) else ""


class TokenObtainApi(APIView):
    """POST `username`, `password`: a new token named "api-token" (the answer keeps DRF's
    `token` field)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    body_serializer = AuthTokenSerializer
    response_serializer = TokenCreatedSerializer

    def post(self, request: Request) -> Response:
        username, address = _username_of(request.data), client_address(request)
        lockout = login_attempt_begin(username=username, address=address)
        if lockout is not None:
            return Response(
                {"detail": lockout.message},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(lockout.retry_after_s)},
            )
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():  # its attempt stays counted
            return Response(
                {"detail": _("Wrong user name or password."), **serializer.errors}, status=400
            )
        user = serializer.validated_data["user"]
        login_success_record(username=username, address=address)
        return _created(api_token_create(user=user))


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    days = serializers.IntegerField(
        required=False
    )  # its range is the service's (settings may change it)


class TokenListApi(APIView):
    body_serializer = TokenCreateSerializer
    response_serializer = {"get": TokenSerializer, "post": TokenCreatedSerializer}

    def get(self, request: Request) -> Response:
        return Response(TokenSerializer(tokens_of(request.user), many=True).data)

    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):  # else a stolen token would renew itself forever
            raise PermissionDenied(
                _(
                    "A token cannot make tokens. Make one on the API tokens page, or with your "
                    "user name and password at POST /api/token/."
                )
            )
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _created(api_token_create(user=request.user, **serializer.validated_data))


class TokenDetailApi(APIView):
    def delete(self, request: Request, pk: int) -> Response:
        if not api_token_revoke(user=request.user, token_id=pk):
            raise Http404(_("You have no token with this id."))
        return Response(status=status.HTTP_204_NO_CONTENT)
