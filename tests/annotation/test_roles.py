"""Coordinator rights come from memberships alone: every way of editing memberships (members page,
API, admin change form, admin inline on the organisation) goes through one service, and a demotion
takes effect on the demoted user's next request. Only site admins (createsuperuser, bootstrap) hold
account flags."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from annotation.models import Membership, Role
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_admin(db):
    return User.objects.create_superuser(username="root", password="pw-root-long-enough")


@pytest.fixture
def cora(coordinator):
    assert (
        not coordinator.is_superuser and not coordinator.is_staff
    )  # a membership sets no account flag
    return coordinator


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def can_coordinate(user) -> bool:
    """A fresh request, as the user would make it next: the selection page and the admin
    are coordinators'."""
    client = signed_in(User.objects.get(pk=user.pk))
    return client.get("/selection/").status_code == 200 and client.get("/admin/").status_code == 200


def membership_of(user) -> Membership:
    return Membership.objects.get(user=user)


def test_a_coordinator_by_membership_uses_the_admin_without_account_flags(cora):
    assert can_coordinate(cora)
    page = signed_in(cora).get("/admin/annotation/organisation/")
    assert page.status_code == 200 and b"Coordination" in page.content


def test_demotion_on_the_members_page_takes_effect_at_once(cora, site_admin):
    organisation = membership_of(cora).organisation
    response = signed_in(site_admin).post(
        f"/organisations/{organisation.pk}/members/", {"username": "cora", "role": Role.PARTNER}
    )
    assert response.status_code == 302 and membership_of(cora).role == Role.PARTNER
    assert not can_coordinate(cora)
    assert signed_in(cora).get("/admin/").status_code == 302  # to the admin's login page


def test_demotion_through_the_api_takes_effect_at_once(cora, site_admin):
    organisation = membership_of(cora).organisation
    api = client_for(site_admin)
    listed = api.get(f"/api/organisations/{organisation.pk}/members/").json()
    assert [row["username"] for row in listed] == ["cora"]
    changed = api.post(
        f"/api/organisations/{organisation.pk}/members/",
        {"username": "cora", "role": "expert", "review_taxa": ["cerf"]},
        format="json",
    )
    assert changed.status_code == 201 and changed.json()["role"] == "expert"
    assert not can_coordinate(cora)
    assert list(membership_of(cora).review_taxa.values_list("slug", flat=True)) == ["red-deer"]
    removed = api.delete(f"/api/organisations/{organisation.pk}/members/{cora.pk}/")
    assert removed.status_code == 204 and not Membership.objects.filter(user=cora).exists()
    refused = api.post(
        f"/api/organisations/{organisation.pk}/members/",
        {"username": "nobody", "role": "partner"},
        format="json",
    )
    assert refused.status_code == 400 and "No account is named" in str(refused.json())


def test_demotion_in_the_admin_membership_form_takes_effect_at_once(cora, site_admin):
    membership = membership_of(cora)
    response = signed_in(site_admin).post(
        f"/admin/annotation/membership/{membership.pk}/change/",
        {"user": cora.pk, "organisation": membership.organisation_id, "role": Role.PARTNER},
    )
    assert response.status_code == 302, response.content[:2000]
    assert membership_of(cora).role == Role.PARTNER and not can_coordinate(cora)


def test_demotion_in_the_admin_organisation_inline_takes_effect_at_once(cora, site_admin):
    membership = membership_of(cora)
    admin = signed_in(site_admin)
    url = f"/admin/annotation/organisation/{membership.organisation_id}/change/"
    formset = admin.get(url).context["inline_admin_formsets"][0].formset
    data = {
        "name": membership.organisation.name,
        "sequence_maxlag_s": 20,
        "undefined_threshold": 0.8,
        "check_corrections_below": 0.5,
    }
    data |= {
        f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()
    }
    data[f"{formset.prefix}-TOTAL_FORMS"] = 1  # the existing row only, no blank extra one
    data |= {
        f"{formset.prefix}-0-id": membership.pk,
        f"{formset.prefix}-0-organisation": membership.organisation_id,
        f"{formset.prefix}-0-user": cora.pk,
        f"{formset.prefix}-0-role": Role.PARTNER,
    }
    response = admin.post(url, data)
    assert response.status_code == 302, response.content[:3000]
    assert membership_of(cora).role == Role.PARTNER and not can_coordinate(cora)


def test_coordinators_cannot_grant_or_use_site_admin_rights(cora, site_admin):
    admin = signed_in(cora)
    form = admin.get(f"/admin/auth/user/{cora.pk}/change/")
    assert form.status_code == 200 and b"is_superuser" not in form.content
    assert admin.get(f"/admin/auth/user/{site_admin.pk}/change/").status_code in (302, 403, 404)
    assert b"root" not in admin.get("/admin/auth/user/").content
    assert admin.get("/admin/authtoken/tokenproxy/").status_code == 403
    # a Schedule names a function for the worker to run: code execution, a site admin's
    # business only
    assert admin.get("/admin/django_q/schedule/add/").status_code == 403
    assert (
        admin.post(
            "/admin/django_q/schedule/add/", {"func": "os.system", "args": "'id'"}
        ).status_code
        == 403
    )


def test_the_last_coordinator_cannot_be_demoted(org):
    only = factories.member("olga", org, Role.COORDINATOR)
    response = signed_in(only).post(
        f"/organisations/{org.pk}/members/", {"username": "olga", "role": "partner"}, follow=True
    )
    assert b"last coordinator" in response.content and membership_of(only).role == Role.COORDINATOR
