"""Each role's home page: the figures it shows are the counts of the pages they link to, and each
role sees its own work (a partner their uploads and pre-labels, an expert their queues first, a
coordinator everything)."""

import re

import pytest
from django.test import Client

from annotation.models import ReviewState, ReviewTask, Role
from tests import factories
from tests.factories import taxon
from tests.platform.home_data import prelabelled_pool, review_tasks, trained_production

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def tile(html: str, tile_id: str) -> tuple[int, str]:
    """(the figure, the link) of a home tile."""
    found = re.search(rf'id="{tile_id}" href="([^"]+)"><b>(\d+)</b>', html)
    assert found, f"no tile {tile_id}"
    return int(found.group(2)), found.group(1).replace("&amp;", "&")


def listed(client: Client, url: str) -> int:
    return client.get(url).context["page"].paginator.count


@pytest.fixture
def pool(org, partner, tmp_path):
    return prelabelled_pool(org, partner, tmp_path)


def test_a_partners_figures_are_what_the_linked_pages_list(pool, partner):
    client = signed_in(partner)
    html = client.get("/").content.decode()
    expected = {
        "tile-images": 6,
        "tile-unlabelled": 5,
        "tile-prelabels": 4,
        "tile-unsure": 2,
        "tile-pending": 1,
    }
    for tile_id, count in expected.items():
        figure, link = tile(html, tile_id)
        assert figure == count, tile_id
        if (
            tile_id != "tile-pending"
        ):  # that one links to the uploads, where pre-labelling progress shows
            assert listed(client, link) == count, (tile_id, link)
    figure, link = tile(html, "tile-deployments")
    assert (figure, link) == (1, "/deployments/") and "1 without coordinates" in html
    assert 'id="uploads"' in html and "card-01" in html  # their upload, with its images
    for coordinators_only in ("home-models", "home-people", "tile-conflicts", "home-queues"):
        assert coordinators_only not in html


def test_another_partner_sees_none_of_it(pool, other_partner):
    html = signed_in(other_partner).get("/").content.decode()
    assert tile(html, "tile-images")[0] == 0 and tile(html, "tile-prelabels")[0] == 0
    assert "card-01" not in html and "Nothing uploaded yet." in html


def test_an_expert_sees_their_queues_first_even_empty_ones(pool, org, expert):
    factories.member("vic", org, Role.EXPERT, taxa=[taxon("red-deer"), taxon("roe-deer")])
    review_tasks(pool["images"][1:4], taxon("red-deer"))
    review_tasks(pool["images"][4:5], None, "undefined")
    html = (
        signed_in(
            factories.member("ed", org, Role.EXPERT, taxa=[taxon("roe-deer"), taxon("red-deer")])
        )
        .get("/")
        .content.decode()
    )
    rows = re.findall(r'<tr data-queue="([^"]+)"( class="own")?>\s*<td>([^<]+)', html)
    assert [(name.strip(), bool(own)) for _, own, name in rows] == [
        ("red deer", True),
        ("roe deer", True),
        ("triage", False),
    ]
    assert html.index('id="home-queues"') < html.index('id="home-images"')
    assert '<a href="/review/?queue=triage">' in html
    assert "home-models" not in html and "tile-conflicts" not in html


def test_a_coordinator_sees_everything_with_the_production_figures(pool, coordinator):
    trained_production(coordinator)
    review_tasks(pool["images"][1:2], taxon("red-deer"))
    ReviewTask.objects.update(state=ReviewState.CONFLICT)
    html = signed_in(coordinator).get("/").content.decode()
    production = re.search(r'id="tile-production".*?</a>', html, re.S).group(0)
    assert "Faune head 2025.1" in production and "0.8712" in production and "0.9134" in production
    assert re.search(r"<b>4</b>\s*classes", production)
    assert tile(html, "tile-conflicts") == (1, "/review/conflicts/")
    assert tile(html, "tile-images")[0] == 6 and tile(html, "tile-organisations")[0] == 2
    assert 'href="/rounds/' in html and "home-people" in html


def test_a_zero_shot_production_says_it_was_never_tested(pool, coordinator):
    html = signed_in(coordinator).get("/").content.decode()
    production = re.search(r'id="tile-production".*?</a>', html, re.S).group(0)
    assert "zero-shot" in production and "never tested on the pool" in production


def test_anonymous_visitors_get_the_front_page(pool):
    html = Client().get("/").content.decode()
    assert "Log in" in html and "tile-images" not in html
