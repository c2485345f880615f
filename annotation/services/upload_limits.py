"""Upload allowances: how much one request may carry, and how much one organisation may send a
day (UTC).

Checked before anything is stored: a refused request leaves no batch, no image and no file behind.
Files and bytes count as received, whatever becomes of them (duplicates and refused files cost the
server the same)."""

import datetime as dt
import zipfile
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from annotation.models import Organisation, UploadUsage
from faune_platform.errors import AllowanceSpent, DomainError, TooLarge

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile


class UploadLimitExceeded(DomainError):
    """An upload over one of the allowances: catch this for either kind."""


class UploadRequestTooLarge(UploadLimitExceeded, TooLarge):
    """The request itself is too large: send less at a time."""


class UploadAllowanceSpent(UploadLimitExceeded, AllowanceSpent):
    """The organisation's allowance for today is spent, until `retry_after_s` from now."""


@dataclass(frozen=True)
class UploadSize:
    files: int  # as sent: a request's limit
    bytes: int
    # what they hold, each file of a zip: the day's allowance
    entries: int | None = None

    @classmethod
    def of(cls, uploads: "list[UploadedFile[Any]]") -> "UploadSize":
        return cls(
            files=len(uploads),
            bytes=sum(upload.size or 0 for upload in uploads),
            entries=sum(_entries(upload) for upload in uploads),
        )

    @property
    def held(self) -> int:
        return self.files if self.entries is None else self.entries


def _entries(upload: IO[bytes]) -> int:
    """How many files an upload holds: a zip's, read from its index, else one. A zip too damaged to
    read counts as one: its unpacking refuses it later."""
    try:
        if upload.read(4) != b"PK\x03\x04":
            return 1
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            return max(1, sum(1 for entry in archive.infolist() if not entry.is_dir()))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return 1
    finally:
        upload.seek(0)


def upload_request_check(size: UploadSize) -> None:
    config = settings.FAUNE
    if size.files > config["MAX_FILES_PER_REQUEST"]:
        raise UploadRequestTooLarge(
            _(
                "This request sends %(files)d files; one request may send at most %(limit)d. Send "
                "them in smaller groups (the upload page does)."
            )
            % {"files": size.files, "limit": config["MAX_FILES_PER_REQUEST"]}
        )
    if size.bytes > config["MAX_REQUEST_BYTES"]:
        raise UploadRequestTooLarge(
            _(
                "This request sends %(size)s; one request may send at most %(limit)s. Send the "
                "files in smaller groups."
            )
            % {
                "size": filesizeformat(size.bytes),
                "limit": filesizeformat(config["MAX_REQUEST_BYTES"]),
            }
        )


def _next_midnight(now: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _daily_refusal(
    organisation: Organisation, usage: UploadUsage, size: UploadSize | None, now: dt.datetime
) -> str:
    """What was sent, what is allowed, what this request asked (None: nothing yet, the allowance is
    spent) and when the allowance resets."""
    config = settings.FAUNE
    wait = _next_midnight(now) - now
    hours, minutes = divmod(int(wait.total_seconds()) // 60, 60)
    values = {
        "org": organisation.name,
        "sent": _files(usage.files),
        "bytes": filesizeformat(usage.bytes),
        "allowed": _files(config["DAILY_UPLOAD_FILES"]),
        "max_bytes": filesizeformat(config["DAILY_UPLOAD_BYTES"]),
        "hours": hours,
        "minutes": minutes,
    }
    if size is None:
        return (
            _(
                "%(org)s has sent %(sent)s (%(bytes)s) today, all of its daily allowance of "
                "%(allowed)s and %(max_bytes)s. The allowance resets at midnight UTC, in "
                "%(hours)d h %(minutes)d min."
            )
            % values
        )
    return _(
        "%(org)s has sent %(sent)s (%(bytes)s) today; its daily allowance is %(allowed)s and "
        "%(max_bytes)s, and this request (%(asked)s, %(req_bytes)s) would go over it. The "
        "allowance resets at midnight UTC, in %(hours)d h %(minutes)d min."
    ) % {**values, "asked": _files(size.held), "req_bytes": filesizeformat(size.bytes)}


def _files(count: int) -> str:
    return ngettext("%(n)s file", "%(n)s files", count) % {"n": f"{count:,}"}


def upload_allowance_check(*, organisation: Organisation) -> None:
    """Refuse to open an upload for an organisation whose allowance for today is spent already (an
    upload batch that could take no file would only be an empty line in its list)."""
    upload_allowance_take(
        organisation=organisation, size=UploadSize(files=1, bytes=1), dry_run=True
    )


def upload_allowance_take(
    *, organisation: Organisation, size: UploadSize, dry_run: bool = False
) -> None:
    """Count this request against the organisation's day, or refuse it whole if it would go over the
    allowance (`dry_run`: only refuse). The day's row is locked while counting, so two uploads at
    once cannot both take the last of it."""
    upload_request_check(size)
    now = timezone.now().astimezone(dt.UTC)
    config = settings.FAUNE
    with transaction.atomic():
        UploadUsage.objects.get_or_create(organisation=organisation, day=now.date())
        usage = UploadUsage.objects.select_for_update().get(
            organisation=organisation, day=now.date()
        )
        if (
            usage.files + size.held > config["DAILY_UPLOAD_FILES"]
            or usage.bytes + size.bytes > config["DAILY_UPLOAD_BYTES"]
        ):
            raise UploadAllowanceSpent(
                _daily_refusal(organisation, usage, None if dry_run else size, now),
                retry_after_s=max(1, int((_next_midnight(now) - now).total_seconds())),
            )
        if not dry_run:
            UploadUsage.objects.filter(pk=usage.pk).update(
                files=F("files") + size.held, bytes=F("bytes") + size.bytes
            )
