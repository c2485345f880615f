"""API tokens: make, list, revoke, and find the one a request presents."""

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from faune_platform.models import ApiToken

DEFAULT_NAME = "api-token"
_PREFIX_LENGTH = 8
_LAST_USED_PRECISION = dt.timedelta(minutes=5)  # fewer writes: last use is recorded to within this


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def key_hash(secret: str) -> str:
    """Secrets are 256 random bits, so a plain SHA-256 cannot be brute-forced: no slow
    hash needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def password_stamp(password_hash: str) -> str:
    """A fingerprint of the stored password hash (as Django's sessions use): it changes with
    the password."""
    return salted_hmac("faune.api-token", password_hash, algorithm="sha256").hexdigest()


def token_days_check(days: int | None) -> int:
    limit = settings.FAUNE["API_TOKEN_MAX_DAYS"]
    days = settings.FAUNE["API_TOKEN_DEFAULT_DAYS"] if days is None else days
    if not 1 <= days <= limit:
        raise ValidationError(
            _("A token lasts from 1 to %(limit)d days; %(days)d is out of that range.")
            % {"limit": limit, "days": days}
        )
    return days


def api_token_create(
    *, user: AbstractBaseUser, name: str = DEFAULT_NAME, days: int | None = None
) -> NewToken:
    days = token_days_check(days)
    name = name.strip() or DEFAULT_NAME
    secret = secrets.token_hex(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=secret[:_PREFIX_LENGTH],
        key_hash=key_hash(secret),
        password_stamp=password_stamp(user.password),
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    return NewToken(token, secret)


def tokens_of(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """A user's tokens that still work (expired ones and those made under an older password are
    left out)."""
    return ApiToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), password_stamp=password_stamp(user.password)
    )


def api_token_revoke(*, user: AbstractBaseUser, token_id: int) -> bool:
    """Delete one of the user's own tokens; False when they have no such token."""
    deleted, _rows = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return bool(deleted)


def api_tokens_revoke_all(*, user: AbstractBaseUser) -> int:
    """After a password change: every token made before it stops working (authentication checks the
    stamp anyway; deleting them also clears them from the lists)."""
    deleted, _rows = ApiToken.objects.filter(user=user).delete()
    return deleted


def api_token_authenticate(secret: str) -> tuple[ApiToken | None, str]:
    """The live token with this secret, or None and why not (for the 401's message)."""
    token = ApiToken.objects.select_related("user").filter(key_hash=key_hash(secret)).first()
    if token is None or token.password_stamp != password_stamp(token.user.password):
        return None, _("This token is not valid.")
    if not token.user.is_active:
        return None, _("This account is disabled.")
    now = timezone.now()
    if token.expires_at <= now:
        return None, _("This token expired on %(date)s; make a new one on the API tokens page.") % {
            "date": token.expires_at.date().isoformat()
        }
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token, ""
