"""Sessions are Django's database sessions read with a plain query (faune_platform/sessions.py): a
live session is read whole, an expired or unknown one reads empty, signing in and out work through
it; on SQLite and on PostgreSQL."""

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from faune_platform.sessions import SessionStore

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _stored(**data: object) -> str:
    session = SessionStore()
    session.update(data)
    session.create()
    return session.session_key


def test_a_live_session_is_read_whole():
    key = _stored(colour="ochre", frames=[3, 4])
    assert SessionStore(key).load() == {"colour": "ochre", "frames": [3, 4]}


def test_an_expired_session_reads_empty_and_its_key_is_dropped():
    key = _stored(colour="ochre")
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    session = SessionStore(key)
    assert session.load() == {}
    assert session.session_key is None


def test_an_unknown_key_reads_empty():
    session = SessionStore("k" * 32)
    assert session.load() == {}
    assert session.session_key is None


def test_signing_in_and_out_go_through_these_sessions(partner):
    partner.set_password("a long enough password")
    partner.save()
    browser = Client()
    signed_in = browser.post(
        "/accounts/login/", {"username": partner.username, "password": "a long enough password"}
    )
    assert signed_in.status_code == 302
    assert browser.get("/upload/").status_code == 200
    browser.post("/accounts/logout/")
    assert browser.get("/upload/").status_code == 302  # to the log-in page
