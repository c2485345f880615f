"""DRF authentication with our API tokens, read from the same `Authorization: Token <secret>` header
as DRF's."""

from django.contrib.auth.models import User
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from faune_platform.models import ApiToken
from faune_platform.tokens.services import api_token_authenticate


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header parsing (and its 401 with `WWW-Authenticate: Token`), our token lookup."""

    def authenticate_credentials(self, key: str) -> tuple[User, ApiToken]:
        token, reason = api_token_authenticate(key)
        if token is None:
            raise AuthenticationFailed(reason)
        return token.user, token
