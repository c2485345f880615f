"""Every page, for every role, read in French: no sentence of it is left in English.

English is found by its small words (articles, prepositions, verbs of the interface) that French
never uses; names, numbers and the words both languages share ("images", "version") pass."""

import html
import re

import pytest
from django.test import Client

from tests.platform.routes import all_routes, real_id

pytestmark = pytest.mark.django_db

ENGLISH = re.compile(
    r"\b(the|and|of|to|is|are|by|with|for|this|that|not|from|your|you|will|has|have|been|yet|"
    r"each|every|see|show|add|new|edit|save|delete|cancel|back|next|previous|none|all|labels?|"
    r"taxa|queue|round|upload|download|waiting|running|failed|done)\b",
    re.IGNORECASE,
)


def _sentences(page: str) -> list[str]:
    """What a reader sees of a page: its text and the words of its titles, placeholders and labels
    for screen readers; not its scripts or styles."""
    page = re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>|<!--.*?-->", " ", page)
    attributes = re.findall(r'(?:title|placeholder|aria-label|alt)="([^"]*)"', page)
    text = re.sub(r"<[^>]+>", "\n", page).split("\n") + attributes
    return [html.unescape(line).strip() for line in text if line.strip()]


def _page_urls(real: dict) -> list[str]:
    urls = []
    for route in all_routes():
        if route.admin or route.template.startswith("/api/"):
            continue
        url = route.template
        for name in route.params:
            url = url.replace("{" + name + "}", str(real.get(name, real_id(route, real))))
        urls.append(url)
    return urls


def test_every_page_reads_french_for_every_role(world):
    real, roles = world
    english: dict[str, set[str]] = {}
    for role in ("anonymous", "partner", "expert", "coordinator"):
        client = Client(HTTP_ACCEPT_LANGUAGE="fr")
        if roles[role] is not None:
            client.force_login(roles[role])
        for url in _page_urls(real):
            response = client.get(url)
            if response.status_code != 200 or "html" not in response["Content-Type"]:
                continue  # downloads, redirects and refusals are read elsewhere
            for sentence in _sentences(response.content.decode()):
                if ENGLISH.search(sentence):
                    english.setdefault(sentence[:120], set()).add(f"{url} ({role})")
    assert not english, "\n".join(f"{s!r} on {sorted(where)[:3]}" for s, where in english.items())
