"""API tokens: several named ones per user, stored as hashes, expiring, revoked by their
owner and by a password change; the `Authorization: Token <secret>` header and POST
/api/token/ keep working."""

import datetime as dt
import hashlib
import importlib

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from faune_platform.models import ApiToken
from faune_platform.tokens.services import api_token_create

pytestmark = pytest.mark.django_db


def with_token(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_the_token_endpoint_returns_a_working_token_of_the_new_kind(partner):
    response = APIClient().post(
        "/api/token/", {"username": "paula", "password": "pw-paula"}, format="json"
    )
    assert response.status_code == 201
    secret = response.json()["token"]
    token = ApiToken.objects.get(user=partner)
    assert (
        token.name == "api-token" and token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    )
    assert secret not in str(ApiToken.objects.values_list().get())  # only the hash is stored
    assert with_token(secret).get("/api/images/").status_code == 200
    assert with_token(secret + "x").get("/api/images/").status_code == 401


@pytest.mark.parametrize("body", [None, 121, "", [1, 2]])
def test_a_body_that_is_not_an_object_is_refused_with_a_message(partner, body):
    """Found by the schema-driven fuzzing: such a JSON body was a 500."""
    response = APIClient().post("/api/token/", body, format="json")
    assert (
        response.status_code == 400 and response.json()["detail"] == "Wrong user name or password."
    )


def test_several_named_tokens_are_created_listed_and_revoked_through_the_api(
    partner, other_partner
):
    api = signed_in(partner)
    first = api.post("/api/tokens/", {"name": "laptop", "days": 30}, format="json")
    second = api.post("/api/tokens/", {"name": "server"}, format="json")
    assert first.status_code == second.status_code == 201
    assert (
        first.json()["expires_at"][:10]
        == (timezone.now() + dt.timedelta(days=30)).date().isoformat()
    )
    assert (
        second.json()["expires_at"][:10]
        == (timezone.now() + dt.timedelta(days=90)).date().isoformat()
    )
    listed = api.get("/api/tokens/").json()
    assert [t["name"] for t in listed] == ["server", "laptop"] and "token" not in listed[0]
    assert signed_in(other_partner).get("/api/tokens/").json() == []
    laptop = first.json()["id"]
    assert signed_in(other_partner).delete(f"/api/tokens/{laptop}/").status_code == 404
    assert api.delete(f"/api/tokens/{laptop}/").status_code == 204
    assert with_token(first.json()["token"]).get("/api/images/").status_code == 401
    assert with_token(second.json()["token"]).get("/api/images/").status_code == 200


def test_a_token_cannot_make_tokens_so_a_stolen_one_dies_with_its_expiry(partner):
    short = api_token_create(user=partner, name="one day", days=1)
    refused = with_token(short.secret).post(
        "/api/tokens/", {"name": "x", "days": 365}, format="json"
    )
    assert refused.status_code == 403 and "A token cannot make tokens" in refused.json()["detail"]
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["one day"]
    assert with_token(short.secret).get("/api/tokens/").status_code == 200  # it still lists them


@pytest.mark.parametrize("days", [0, -3, 366, 100000])
def test_an_expiry_out_of_range_is_refused_with_a_message(partner, days):
    response = signed_in(partner).post("/api/tokens/", {"name": "x", "days": days}, format="json")
    assert response.status_code == 400 and "from 1 to 365 days" in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_an_expired_token_is_refused_saying_so(partner):
    new = api_token_create(user=partner, name="old", days=1)
    ApiToken.objects.filter(pk=new.token.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    response = with_token(new.secret).get("/api/images/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    assert signed_in(partner).get("/api/tokens/").json() == []


def test_the_default_lifetime_is_a_setting(partner, settings):
    settings.FAUNE = {**settings.FAUNE, "API_TOKEN_DEFAULT_DAYS": 7}
    new = api_token_create(user=partner)
    assert (new.token.expires_at - timezone.now()).days == 6


def test_changing_the_password_revokes_every_token(partner):
    secret = api_token_create(user=partner, name="a").secret
    client = Client()
    client.force_login(partner)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "pw-paula",
            "new_password1": "a new long one 7",
            "new_password2": "a new long one 7",
        },
    )
    assert response.status_code == 302
    assert with_token(secret).get("/api/images/").status_code == 401
    assert not ApiToken.objects.filter(user=partner).exists()


def test_a_password_set_anywhere_else_voids_the_tokens_too(partner):
    """The admin, the shell: a token made under another password no longer authenticates."""
    secret = api_token_create(user=partner, name="a").secret
    partner.set_password("changed elsewhere 9")
    partner.save()
    assert with_token(secret).get("/api/images/").status_code == 401


def test_the_set_password_link_revokes_tokens(org):
    from django.contrib.auth import get_user_model

    from annotation.models import Role
    from annotation.services.organisations import member_invite

    link = member_invite(organisation=org, username="newbie", role=Role.PARTNER)
    user = get_user_model().objects.get(username="newbie")
    api_token_create(user=user, name="made before")
    client = Client()
    page = client.get(f"/accounts/set-password/{link.uidb64}/{link.token}/", follow=True)
    response = client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "chosen long one 5", "new_password2": "chosen long one 5"},
    )
    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=user).exists()


def test_drf_tokens_are_migrated_as_hashes_and_keep_working(partner):
    old = Token.objects.create(user=partner)
    importlib.import_module("faune_platform.migrations.0002_drf_tokens_to_api_tokens").forward(
        apps, None
    )
    assert not Token.objects.exists()
    assert (
        ApiToken.objects.get(user=partner).key_hash == hashlib.sha256(old.key.encode()).hexdigest()
    )
    assert with_token(old.key).get("/api/images/").status_code == 200


def test_the_tokens_page_makes_shows_once_and_revokes(partner):
    client = Client()
    client.force_login(partner)
    made = client.post("/accounts/tokens/", {"name": "laptop", "days": 10})
    secret = made.context["new"].secret
    assert made.status_code == 200 and secret in made.content.decode()
    again = client.get("/accounts/tokens/").content.decode()
    assert "laptop" in again and secret not in again
    token = ApiToken.objects.get(user=partner)
    assert client.post("/accounts/tokens/", {"name": "x", "days": 400}).status_code == 400
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    assert with_token(secret).get("/api/images/").status_code == 401
