"""Which images an export holds: those of the organisations the requester belongs to (every
organisation for coordinators), narrowed by organisation, deployments and the image list's filters.
Experts see other organisations' images in their taxa to review them, but exporting them in bulk is
their organisations' call: exports stay within one's own organisations."""

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from annotation.browse import SOURCE_CHOICES, SOURCE_FILTERS, shown_as, with_prelabels
from annotation.models import Deployment, Image, Organisation, Taxon
from annotation.permissions import user_access
from annotation.selectors import image_filter
from faune_platform.errors import InputRefused


class ExportError(InputRefused):
    pass


@dataclass(frozen=True)
class ExportScope:
    organisation: int | None = None
    deployments: tuple[int, ...] = ()
    taxon: int | None = None
    labelled: bool | None = None
    batch: int | None = None
    taken_after: dt.datetime | None = None
    taken_before: dt.datetime | None = None
    source: str = (
        ""  # where the current label comes from, as the image list filters it (annotation.browse)
    )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["deployments"] = list(self.deployments)
        for name in ("taken_after", "taken_before"):
            data[name] = data[name].isoformat() if data[name] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExportScope":
        times = {
            name: parse_datetime(data[name]) if data.get(name) else None
            for name in ("taken_after", "taken_before")
        }
        return cls(
            organisation=data.get("organisation"),
            deployments=tuple(data.get("deployments") or ()),
            taxon=data.get("taxon"),
            labelled=data.get("labelled"),
            batch=data.get("batch"),
            source=data.get("source") or "",
            **times,
        )


@dataclass(frozen=True)
class ExportOptions:
    people: str = "blur"  # blur / exclude: images showing people are blurred, or left out
    media: bool = True  # Camtrap DP: copy the media files into the package
    language: str = "fr"  # DeepFaune's class names
    utc_offset: str = ""  # the cameras' zone when the pool does not know it ("": UTC)
    sampling_design: str = "opportunistic"  # Camtrap DP's project.samplingDesign
    title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExportOptions":
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def exportable_organisations(user: User | AnonymousUser | None) -> set[int] | None:
    """The organisations whose images the user may export; None: all (coordinators, and commands run
    by the platform's operator with no user)."""
    if user is None:
        return None
    access = user_access(user)
    return None if access.coordinator else set(access.organisation_ids)


def scope_check(user: User | AnonymousUser | None, *, scope: ExportScope) -> None:
    """Refuse a scope naming an organisation or a deployment the user may not export (403), or none
    at all."""
    allowed = exportable_organisations(user)
    if allowed is not None and not allowed:
        raise PermissionDenied(
            _("You are not a member of any organisation, so there is nothing you may export.")
        )
    if scope.organisation is not None:
        if not Organisation.objects.filter(pk=scope.organisation).exists():
            raise ExportError(_("No organisation has id %(id)s.") % {"id": scope.organisation})
        if allowed is not None and scope.organisation not in allowed:
            raise PermissionDenied(_("You may export only the images of your own organisations."))
    if scope.source and scope.source not in SOURCE_FILTERS:
        raise ExportError(
            _("The label's source is one of %(sources)s.") % {"sources": ", ".join(SOURCE_FILTERS)}
        )
    if scope.deployments:
        owners = dict(
            Deployment.objects.filter(pk__in=scope.deployments).values_list("pk", "organisation_id")
        )
        unknown = sorted(set(scope.deployments) - owners.keys())
        if unknown:
            raise ExportError(
                _("No deployment has id %(ids)s.") % {"ids": ", ".join(map(str, unknown))}
            )
        if allowed is not None and not set(owners.values()) <= allowed:
            raise PermissionDenied(
                _("You may export only the deployments of your own organisations.")
            )


def scoped_images(scope: ExportScope, *, allowed: set[int] | None) -> QuerySet[Image]:
    images = (
        Image.objects.all()
        if allowed is None
        else Image.objects.filter(organisation_id__in=allowed)
    )
    if scope.deployments:
        images = images.filter(deployment_id__in=scope.deployments)
    images = image_filter(
        images,
        organisation=scope.organisation,
        labelled=scope.labelled,
        batch=scope.batch,
        taken_after=scope.taken_after,
        taken_before=scope.taken_before,
    )
    if scope.taxon is None and not scope.source:
        return images
    # The taxon and the label's source select what the image list shows: the label, or the
    # pre-label of an image nobody labelled yet, so that a link from a filtered list exports the
    # images it listed.
    return shown_as(with_prelabels(images), taxon=scope.taxon, source=scope.source)


def describe(scope: ExportScope) -> str:
    """What the export covers, in words: its title and the line the pages show."""
    parts = []
    if scope.organisation:
        parts.append(
            Organisation.objects.filter(pk=scope.organisation)
            .values_list("name", flat=True)
            .first()
            or ""
        )
    if scope.deployments:
        names = Deployment.objects.filter(pk__in=scope.deployments).values_list("name", flat=True)
        parts.append(", ".join(sorted(names)))
    text = " / ".join(part for part in parts if part) or _("the whole pool")
    return text + "".join(f", {condition}" for condition in _conditions(scope))


def _conditions(scope: ExportScope) -> list[str]:
    conditions = []
    if scope.taxon:
        name = Taxon.objects.filter(pk=scope.taxon).values_list("name_en", flat=True).first()
        conditions.append(_("taxon %(name)s") % {"name": name or scope.taxon})
    if scope.labelled is not None:
        conditions.append(_("labelled") if scope.labelled else _("not labelled yet"))
    if scope.source:
        conditions.append(
            _("labels from %(source)s") % {"source": dict(SOURCE_CHOICES)[scope.source]}
        )
    if scope.batch:
        conditions.append(_("upload or import #%(id)s") % {"id": scope.batch})
    if scope.taken_after:
        conditions.append(
            _("taken after %(when)s") % {"when": scope.taken_after.strftime("%Y-%m-%d %H:%M")}
        )
    if scope.taken_before:
        conditions.append(
            _("taken before %(when)s") % {"when": scope.taken_before.strftime("%Y-%m-%d %H:%M")}
        )
    return conditions
