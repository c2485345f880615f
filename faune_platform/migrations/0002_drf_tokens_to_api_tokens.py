"""DRF's single tokens become named API tokens: the same secret keeps working (stored now as its hash), expiring
after the default lifetime, and the plain-text copies are deleted."""

import datetime as dt
import hashlib

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from django.utils.crypto import salted_hmac


def _stamp(password_hash: str) -> str:
    # Same as faune_platform.tokens.services.password_stamp, written out: a migration must not change with the code.
    return salted_hmac("faune.api-token", password_hash, algorithm="sha256").hexdigest()


def forward(apps, schema_editor) -> None:
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("faune_platform", "ApiToken")
    expires = timezone.now() + dt.timedelta(days=settings.FAUNE["API_TOKEN_DEFAULT_DAYS"])
    for old in Token.objects.select_related("user"):
        ApiToken.objects.create(
            user=old.user,
            name="api-token (before named tokens)",
            prefix=old.key[:8],
            key_hash=hashlib.sha256(old.key.encode()).hexdigest(),
            password_stamp=_stamp(old.user.password),
            expires_at=expires,
        )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("faune_platform", "0001_api_token"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
