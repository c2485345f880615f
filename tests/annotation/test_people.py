"""Organisations, invitations and roles from the coordinators' pages, through the membership
service: accounts made with a one-time set-password link, refusals as 4xx with a reason and nothing
written, the last coordinator kept."""

import re

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from annotation.models import Membership, Organisation, Role
from annotation.services.organisations import member_invite, membership_set, password_link_issue
from tests import factories

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown_link(client: Client, organisation: Organisation) -> str:
    """The set-password link the members page shows once after an invitation."""
    page = client.get(f"/organisations/{organisation.pk}/members/").content.decode()
    found = re.search(r'id="password-link-url" readonly value="([^"]+)"', page)
    assert found, "no link shown"
    return found.group(1).replace("http://testserver", "")


def choose_password(link: str, password: str = "a-long-enough-secret") -> Client:
    """Open the link in a fresh browser session and choose a password, as the invited
    person does."""
    client = Client()
    form = client.get(link, follow=True)
    assert form.status_code == 200 and b"Choose your password" in form.content
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password}
    )
    assert done.status_code == 302 and done["Location"] == "/"
    return client


def test_a_coordinator_creates_an_organisation_and_a_near_duplicate_is_refused(coordinator):
    client = signed_in(coordinator)
    created = client.post("/organisations/", {"name": "  Parc  national des Cévennes "})
    organisation = Organisation.objects.get(name="Parc national des Cévennes")
    assert (
        created.status_code == 302
        and created["Location"] == f"/organisations/{organisation.pk}/members/"
    )
    again = client.post("/organisations/", {"name": "parc national des cévennes"})
    assert again.status_code == 400 and "exists already" in again.content.decode()
    assert Organisation.objects.filter(name__iexact="parc national des cévennes").count() == 1


def test_partners_and_experts_can_neither_see_nor_use_the_people_pages(org, partner, expert):
    for user in (partner, expert):
        client = signed_in(user)
        assert client.get("/organisations/").status_code == 403
        assert client.post("/organisations/", {"name": "Mine"}).status_code == 403
        invite = {"action": "invite", "username": "mallory", "role": "coordinator"}
        assert client.post(f"/organisations/{org.pk}/members/", invite).status_code == 403
    assert not Organisation.objects.filter(name="Mine").exists() and not User.objects.filter(
        username="mallory"
    )


def test_an_invitation_makes_an_account_whose_link_sets_the_password_once(org, coordinator):
    client = signed_in(coordinator)
    deer = factories.taxon("red-deer")
    response = client.post(
        f"/organisations/{org.pk}/members/",
        {
            "action": "invite",
            "username": "marc",
            "email": "marc@example.org",
            "role": "expert",
            "review_taxa": [deer.pk],
        },
    )
    assert response.status_code == 302
    marc = User.objects.get(username="marc")
    assert not marc.has_usable_password() and marc.email == "marc@example.org"
    membership = Membership.objects.get(user=marc, organisation=org)
    assert membership.role == Role.EXPERT and list(membership.review_taxa.all()) == [deer]
    link = shown_link(client, org)
    page = client.get(f"/organisations/{org.pk}/members/").content.decode()
    assert 'id="password-link-url"' not in page  # shown once only
    assert "invited: no password chosen yet" in page

    marcs_browser = choose_password(link)
    marc.refresh_from_db()
    assert marc.check_password("a-long-enough-secret")
    assert "Log out marc" in marcs_browser.get("/").content.decode()  # signed in at once
    used = Client().get(link, follow=True)
    assert b"This link no longer works" in used.content and b"new_password1" not in used.content


def test_a_new_link_voids_the_previous_one_and_accounts_with_a_password_get_none(
    org, coordinator, partner
):
    link = member_invite(username="ines", organisation=org, role=Role.PARTNER)
    client = signed_in(coordinator)
    assert (
        client.post(
            f"/organisations/{org.pk}/members/", {"action": "link", "user": link.user.pk}
        ).status_code
        == 302
    )
    fresh = shown_link(client, org)
    stale = f"/accounts/set-password/{link.uidb64}/{link.token}/"
    assert b"This link no longer works" in Client().get(stale, follow=True).content
    choose_password(fresh)

    refused = client.post(
        f"/organisations/{org.pk}/members/", {"action": "link", "user": partner.pk}
    )
    assert (
        refused.status_code == 400 and "has chosen a password already" in refused.content.decode()
    )
    assert partner.check_password("pw-paula")
    with pytest.raises(ValidationError, match="has chosen a password already"):
        password_link_issue(user=coordinator)


def test_a_link_for_someone_outside_the_organisation_is_refused(org, other_org, coordinator):
    outsider = member_invite(username="olaf", organisation=other_org, role=Role.PARTNER).user
    refused = signed_in(coordinator).post(
        f"/organisations/{org.pk}/members/", {"action": "link", "user": outsider.pk}
    )
    assert refused.status_code == 400 and "not a member of" in refused.content.decode()


def test_inviting_an_existing_name_or_a_bad_name_writes_nothing(org, coordinator, partner):
    client = signed_in(coordinator)
    before = (User.objects.count(), Membership.objects.count())
    for username in ("PAULA", "no spaces please", ""):
        response = client.post(
            f"/organisations/{org.pk}/members/",
            {"action": "invite", "username": username, "role": "partner"},
        )
        assert response.status_code == 400, username
    assert (
        "exists already"
        in client.post(
            f"/organisations/{org.pk}/members/",
            {"action": "invite", "username": "paula", "role": "partner"},
        ).content.decode()
    )
    assert (User.objects.count(), Membership.objects.count()) == before


def test_roles_change_and_revoke_through_the_members_page(org, coordinator, partner):
    client = signed_in(coordinator)
    fox = factories.taxon("fox")
    changed = client.post(
        f"/organisations/{org.pk}/members/",
        {"username": "paula", "role": "expert", "review_taxa": [fox.pk]},
    )
    assert changed.status_code == 302
    membership = Membership.objects.get(user=partner, organisation=org)
    assert membership.role == Role.EXPERT and list(membership.review_taxa.all()) == [fox]
    revoked = client.post(
        f"/organisations/{org.pk}/members/", {"username": "paula", "role": "expert", "remove": "1"}
    )
    assert (
        revoked.status_code == 302
        and not Membership.objects.filter(user=partner, organisation=org).exists()
    )


def test_the_last_coordinator_is_never_locked_out(org):
    only = factories.member("olga", org, Role.COORDINATOR)
    client = signed_in(only)
    page = client.get(f"/organisations/{org.pk}/members/").content.decode()
    assert 'id="last-coordinator"' in page
    for body in (
        {"username": "olga", "role": "partner"},
        {"username": "olga", "role": "partner", "remove": "1"},
    ):
        refused = client.post(f"/organisations/{org.pk}/members/", body)
        assert refused.status_code == 400 and "last coordinator" in refused.content.decode()
    assert Membership.objects.get(user=only).role == Role.COORDINATOR

    carl = factories.member("carl", org, Role.COORDINATOR)
    assert (
        'id="last-coordinator"'
        not in client.get(f"/organisations/{org.pk}/members/").content.decode()
    )
    membership_set(
        user=carl, organisation=org, role=Role.PARTNER
    )  # carl steps down: olga is the last again
    assert (
        client.post(
            f"/organisations/{org.pk}/members/", {"username": "olga", "role": "expert"}
        ).status_code
        == 400
    )


def test_the_link_waits_for_its_own_organisations_page(org, other_org, coordinator):
    client = signed_in(coordinator)
    client.post(
        f"/organisations/{org.pk}/members/",
        {"action": "invite", "username": "zoe", "role": "partner"},
    )
    assert (
        'id="password-link-url"'
        not in client.get(f"/organisations/{other_org.pk}/members/").content.decode()
    )
    assert "/accounts/set-password/" in shown_link(client, org)
