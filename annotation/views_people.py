"""Coordinators' pages for people: organisations, their members and roles, an expert's taxa, and
invitations (an account with a one-time set-password link, since there is no mail server). Every
change goes through the membership service, so the last coordinator is never locked out and a
demotion takes effect at once."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from annotation.forms import MembershipForm
from annotation.forms_people import InviteForm, OrganisationForm, PasswordLinkForm
from annotation.models import Membership, Organisation, Role
from annotation.permissions import require_coordinator
from annotation.services.organisations import (
    PasswordLink,
    member_invite,
    membership_remove,
    membership_set,
    organisation_create,
    password_link_issue,
)
from annotation.taxon_names import taxa_in_reading_order

LINK_SESSION_KEY = "faune_password_link"  # the link just made, shown once on the next members page


@login_required
@require_http_methods(["GET", "POST"])
def organisation_list(request: HttpRequest) -> HttpResponse:
    require_coordinator(request.user, _("manage organisations"))
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organisation = organisation_create(name=form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", error)
        else:
            messages.success(
                request, _("Created %(name)s: now add its members.") % {"name": organisation.name}
            )
            return redirect("organisation-members", pk=organisation.pk)
    organisations = Organisation.objects.annotate(
        members=Count("memberships", distinct=True), cameras=Count("deployments", distinct=True)
    ).order_by("name")
    return render(
        request,
        "annotation/organisations.html",
        {"organisations": organisations, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def organisation_members(request: HttpRequest, pk: int) -> HttpResponse:
    """Add members, invite new people, change roles and experts' taxa, remove members, give an
    invited member a new link. A refused change comes back as a 400 with the reason; the page is
    shown again."""
    require_coordinator(request.user, _("manage memberships"))
    organisation = get_object_or_404(Organisation, pk=pk)
    invite = InviteForm(auto_id="invite_%s")
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "invite":
            invite = InviteForm(request.POST, auto_id="invite_%s")
            done = _invite(request, organisation, invite)
        elif action == "link":
            done = _new_link(request, organisation, PasswordLinkForm(request.POST))
        else:
            done = _membership_change(request, organisation, MembershipForm(request.POST))
        if done:
            return redirect("organisation-members", pk=pk)
    return _members_page(
        request, organisation, invite, status=400 if request.method == "POST" else 200
    )


def _members_page(
    request: HttpRequest, organisation: Organisation, invite: InviteForm, status: int
) -> HttpResponse:
    members = list(
        organisation.memberships.select_related("user")
        .prefetch_related("review_taxa")
        .order_by("user__username")
    )
    for member in members:
        member.form_id, member.taxon_ids = (
            f"member-{member.pk}",
            {taxon.pk for taxon in member.review_taxa.all()},
        )
    return render(
        request,
        "annotation/members.html",
        {
            "organisation": organisation,
            "members": members,
            "roles": Role.choices,
            "taxa": taxa_in_reading_order(),
            "invite": invite,
            "invite_taxa": _ticked(invite),
            "no_taxa": set(),
            "last_coordinator": _last_coordinator(members),
            "link": _link_to_show(request, organisation),
            "link_days": round(settings.PASSWORD_RESET_TIMEOUT / 86400),
        },
        status=status,
    )


def _link_to_show(request: HttpRequest, organisation: Organisation) -> dict | None:
    """The link just made for this organisation, taken out of the session: shown once. Another
    organisation's page leaves it for its own."""
    link = request.session.get(LINK_SESSION_KEY)
    if not link or link["organisation"] != organisation.pk:
        return None
    del request.session[LINK_SESSION_KEY]
    return link


def _ticked(invite: InviteForm) -> set[int]:
    """The taxa ticked on an invitation that came back with an error, ticked again."""
    values = (invite["review_taxa"].value() or []) if invite.is_bound else []
    return {int(value) for value in values if str(value).isdigit()}


def _last_coordinator(members: list[Membership]) -> int | None:
    """The membership nobody could replace (the only active coordinator and no site admin): the page
    says so rather than offer a change the service would refuse."""
    coordinators = Membership.objects.filter(role=Role.COORDINATOR, user__is_active=True)
    if (
        coordinators.count() != 1
        or get_user_model().objects.filter(is_superuser=True, is_active=True).exists()
    ):
        return None
    only = coordinators.values_list("pk", flat=True).first()
    return only if any(member.pk == only for member in members) else None


def _refused(request: HttpRequest, error: ValidationError) -> bool:
    messages.error(request, " ".join(error.messages))
    return False


def _form_refused(request: HttpRequest, form) -> bool:
    messages.error(request, "; ".join(" ".join(errors) for errors in form.errors.values()))
    return False


def _membership_change(
    request: HttpRequest, organisation: Organisation, form: MembershipForm
) -> bool:
    if not form.is_valid():
        return _form_refused(request, form)
    data, user = form.cleaned_data, form.cleaned_data["username"]
    names = {"username": user.username, "organisation": organisation.name, "role": data["role"]}
    try:
        if data["remove"]:
            membership_remove(user=user, organisation=organisation)
            messages.success(
                request, _("%(username)s is no longer a member of %(organisation)s.") % names
            )
            return True
        membership_set(
            user=user,
            organisation=organisation,
            role=data["role"],
            review_taxa=list(data["review_taxa"]),
        )
    except ValidationError as error:
        return _refused(request, error)
    messages.success(request, _("%(username)s is now %(role)s of %(organisation)s.") % names)
    _warn_expert_without_taxa(request, data)
    return True


def _warn_expert_without_taxa(request: HttpRequest, data: dict) -> None:
    if data["role"] == Role.EXPERT and not data["review_taxa"]:
        messages.warning(
            request, _("An expert with no review taxa sees no queue: tick the taxa they review.")
        )


def _invite(request: HttpRequest, organisation: Organisation, form: InviteForm) -> bool:
    if not form.is_valid():
        return False  # the form shows its errors beside the fields
    data = form.cleaned_data
    try:
        link = member_invite(
            username=data["username"],
            email=data["email"],
            organisation=organisation,
            role=data["role"],
            review_taxa=list(data["review_taxa"]),
        )
    except ValidationError as error:
        form.add_error("username", error)
        return False
    _keep_link(request, organisation, link)
    messages.success(
        request,
        _("Created the account %(username)s, %(role)s of %(organisation)s.")
        % {"username": link.user.username, "role": data["role"], "organisation": organisation.name},
    )
    _warn_expert_without_taxa(request, data)
    return True


def _new_link(request: HttpRequest, organisation: Organisation, form: PasswordLinkForm) -> bool:
    """A new link for an invited member who lost theirs (the old one stops working)."""
    if not form.is_valid():
        return _form_refused(request, form)
    membership = (
        organisation.memberships.select_related("user")
        .filter(user_id=form.cleaned_data["user"])
        .first()
    )
    if membership is None:
        return _refused(
            request,
            ValidationError(
                _("This person is not a member of %(organisation)s.")
                % {"organisation": organisation.name}
            ),
        )
    try:
        link = password_link_issue(user=membership.user)
    except ValidationError as error:
        return _refused(request, error)
    _keep_link(request, organisation, link)
    messages.success(
        request,
        _("A new link for %(username)s; the one given before no longer works.")
        % {"username": link.user.username},
    )
    return True


def _keep_link(request: HttpRequest, organisation: Organisation, link: PasswordLink) -> None:
    """Held in the coordinator's session until the next page shows it: never written to a log or
    a message."""
    path = reverse("password-set", kwargs={"uidb64": link.uidb64, "token": link.token})
    request.session[LINK_SESSION_KEY] = {
        "organisation": organisation.pk,
        "username": link.user.username,
        "url": request.build_absolute_uri(path),
    }
