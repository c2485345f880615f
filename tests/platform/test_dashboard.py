"""The coordinators' dashboard: who may open it, what its figures count (against a world whose
numbers are known), and that its queries do not grow with the pool."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from annotation.models import LabelSource, ReviewState, Role
from annotation.selectors import (
    expert_median_seconds,
    expert_throughput,
    labelled_by_source,
    labelled_pool_growth,
    organisation_contributions,
    review_queue_sizes,
    verdicts_by_period,
)
from inference.models import HeadKind, ModelVersion, VersionStatus
from tests import factories
from tests.platform import dashboard_world
from tests.platform.dashboard_world import images_create, label, verdicts_give
from training.models import RoundStatus, TrainingRound
from training.selectors import learning_curve, production_test_figures

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return dashboard_world.build()


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_only_coordinators_open_the_dashboard(world, org):
    partner = factories.member("pia", org, Role.PARTNER)
    assert _client().get("/dashboard/").url.startswith("/accounts/login/")
    for user in (partner, world.experts["erin"]):
        refused = _client(user).get("/dashboard/")
        assert refused.status_code == 403
        assert "Only coordinators see the dashboard." in refused.content.decode()
    assert _client(world.coordinator).get("/dashboard/").status_code == 200
    assert _client(world.coordinator).post("/dashboard/").status_code == 405


def test_the_navigation_links_the_dashboard_for_coordinators_only(world):
    assert 'href="/dashboard/"' in _client(world.coordinator).get("/").content.decode()
    assert 'href="/dashboard/"' not in _client(world.experts["erin"]).get("/").content.decode()


def test_pool_figures_count_the_pool(world):
    growth = labelled_pool_growth()
    slugs = {factories.taxon(slug).pk: slug for slug, _ in dashboard_world.TAXA}
    final = {slugs[taxon_id]: counts[-1] for taxon_id, counts in growth.values.items()}
    assert final == {slug: n for slug, n in world.by_taxon.items() if n}
    assert growth.unit == "week" and len(growth.periods) == dashboard_world.WEEKS
    for counts in growth.values.values():  # a pool only grows
        assert counts == sorted(counts)
    assert sum(counts[0] for counts in growth.values.values()) < world.labelled
    assert labelled_by_source() == world.by_source
    rows = {row["name"]: row for row in organisation_contributions()}
    assert sum(row["contributed"] for row in rows.values()) == world.images
    assert sum(row["labelled"] for row in rows.values()) == world.labelled
    assert rows["Coordination"]["contributed"] == 0


def test_review_figures_count_queues_and_verdicts(world):
    rows = review_queue_sizes()
    waiting = {(row["queue_taxon_id"], row["conflicts"]): row["waiting"] for row in rows}
    assert waiting == {
        (factories.taxon("red-deer").pk, False): 7,
        (factories.taxon("fox").pk, False): 3,
        (None, False): 2,
        (None, True): 2,
    }
    assert [row["waiting"] for row in rows] == sorted(
        (row["waiting"] for row in rows), reverse=True
    )
    people = {row["username"]: row for row in expert_throughput().values()}
    assert set(people) == {
        "erin",
        "eli",
        "ezra",
    }  # ezra, an expert with no verdict yet, is listed too
    assert (people["erin"]["week"], people["erin"]["window"], people["erin"]["active_days"]) == (
        9,
        9,
        1,
    )
    assert (people["eli"]["week"], people["eli"]["window"], people["eli"]["total"]) == (0, 5, 6)
    medians = expert_median_seconds()
    names = {pk: row["username"] for pk, row in expert_throughput().items()}
    assert {names[pk]: round(seconds) for pk, seconds in medians.items()} == {"erin": 40, "eli": 90}
    timeline = verdicts_by_period()
    assert timeline.unit == "week"
    assert {names[pk]: sum(counts) for pk, counts in timeline.values.items()} == {
        "erin": 9,
        "eli": 6,
    }


def _verdicts_at(expert, seconds: list[int], org) -> None:
    """Verdicts of one expert at these offsets (in seconds) from two days ago."""
    from annotation.models import ReviewTask

    images = images_create(org, expert, len(seconds), start=500000 + expert.pk * 1000)
    tasks = ReviewTask.objects.bulk_create(
        [
            ReviewTask(
                image=i,
                sequence_id=i.sequence_id,
                opened_for=i.sequence_id,
                reason="t",
                state=ReviewState.DONE,
            )
            for i in images
        ]
    )
    start = timezone.now() - dt.timedelta(days=2)
    verdicts_give(expert, tasks, [start + dt.timedelta(seconds=s) for s in seconds])


def test_time_per_task_is_the_median_gap_without_pauses(org):
    odd = factories.member("odd", org, Role.EXPERT, taxa=[factories.taxon("fox")])
    even = factories.member("even", org, Role.EXPERT, taxa=[factories.taxon("fox")])
    alone = factories.member("alone", org, Role.EXPERT, taxa=[factories.taxon("fox")])
    _verdicts_at(
        odd, [0, 30, 80, 80 + 2000, 80 + 2000 + 70], org
    )  # gaps 30, 50, (pause), 70: median 50
    _verdicts_at(even, [0, 30, 80, 150, 240], org)  # gaps 30, 50, 70, 90: median 60
    _verdicts_at(alone, [0], org)  # one verdict: no gap to measure
    medians = expert_median_seconds()
    assert medians == {odd.pk: pytest.approx(50), even.pk: pytest.approx(60)}


def test_learning_curve_lists_trained_versions_with_their_releases(world):
    rows = learning_curve()
    assert [(row["version"], row["labels"], row["macro_f1"]) for row in rows] == [
        ("round-1", 40, 0.41),
        ("round-2", 90, 0.58),
        ("round-3", 150, 0.66),
        ("round-4", 230, 0.74),
    ]
    assert [row["releases"] for row in rows] == [[], [], ["1.0.0"], []]
    assert rows[-1]["status"] == VersionStatus.PRODUCTION


def test_production_recall_comes_from_the_newest_round_that_scored_it(world):
    found = production_test_figures()
    assert found["version"] == world.production and found["count"] == 141
    assert {row["class"]: row["recall"] for row in found["per_class"]}["wild boar"] == 0.35
    later = TrainingRound.objects.create(
        status=RoundStatus.DONE,
        active=None,
        parent=world.production,
        finished_at=timezone.now() + dt.timedelta(hours=1),
        metrics={
            "candidate": {
                "test": {
                    "count": 9,
                    "macro_f1": 0.1,
                    "per_class": [
                        {"class": "fox", "recall": 0.1, "precision": 0.1, "f1": 0.1, "support": 9}
                    ],
                }
            },
            "production": {
                "test": {
                    "count": 300,
                    "macro_f1": 0.7,
                    "per_class": [
                        {
                            "class": "fox",
                            "recall": 0.6,
                            "precision": 0.5,
                            "f1": 0.55,
                            "support": 300,
                        }
                    ],
                }
            },
        },
    )
    found = production_test_figures()
    assert (found["round"], found["count"], found["per_class"][0]["recall"]) == (later.pk, 300, 0.6)


def test_the_page_shows_every_figure_with_its_numbers(world):
    page = _client(world.coordinator).get("/dashboard/").content.decode()
    for title in (
        "Labelled pool per taxon",
        "Labels per source",
        "Contributions per organisation",
        "Review queues",
        "Verdicts per expert",
        "Learning curve",
        "Per-class recall of the production version",
    ):
        assert title in page
    assert "<title>red deer: 7</title>" in page  # a queue's bar carries its number
    assert "92% · n=60" in page
    assert (
        "2 other taxa" not in page and "3 other taxa" in page
    )  # 9 taxa hold labels: 7 lines and the rest
    assert "40 s" in page and "1 min 30 s" in page  # erin's and eli's time per task


def test_an_empty_platform_says_what_to_do(db):
    coordinator = factories.member("cora", factories.organisation("Coordination"), Role.COORDINATOR)
    page = _client(coordinator).get("/dashboard/").content.decode()
    assert '<svg class="chart"' not in page
    assert "No image carries a label yet" in page and 'href="/import/"' in page
    assert "No task is waiting" in page and 'href="/selection/"' in page
    assert "No verdict in the last 12 weeks" in page
    assert "No version was trained here yet" in page and 'href="/rounds/"' in page
    assert "No version is in production" in page and 'href="/models/"' in page


def test_a_production_version_without_test_figures_says_how_to_get_them(coordinator):
    ModelVersion.objects.create(
        name="faune-zero-shot",
        version="1",
        backbone={},
        head_kind=HeadKind.ZERO_SHOT,
        status=VersionStatus.PRODUCTION,
    )  # in production, never scored by a round
    page = _client(coordinator).get("/dashboard/").content.decode()
    assert "The production version has no test figures yet" in page and 'href="/rounds/"' in page


def _pool(org, user, images: int) -> None:
    """`images` labelled images over a few days, from several sources and taxa."""
    pool = images_create(org, user, images, start=900000)
    now, taxa = (
        timezone.now(),
        [factories.taxon(slug) for slug in ("red-deer", "fox", "badger", "lynx")],
    )
    step = max(1, images // 40)
    for start in range(0, images, step):
        index = start // step
        label(
            pool[start : start + step],
            taxa[index % 4],
            (LabelSource.EXPERT, LabelSource.IMPORT)[index % 2],
            user,
            now - dt.timedelta(days=index),
        )


def test_queries_do_not_grow_with_the_pool(world, org, django_assert_max_num_queries):
    """The figures aggregate in the database: a pool with thousands more labelled images costs the
    same queries."""
    client = _client(world.coordinator)
    with django_assert_max_num_queries(40) as small:
        assert client.get("/dashboard/").status_code == 200
    _pool(org, world.coordinator, 3000)
    _verdicts_at(
        factories.member("busy", org, Role.EXPERT, taxa=[factories.taxon("fox")]),
        list(range(0, 500 * 45, 45)),
        org,
    )
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        page = client.get("/dashboard/").content.decode()
    assert len(large.captured_queries) == len(small.captured_queries)
    assert f"{world.images + 3500:,} images in the pool, {world.labelled + 3000:,} labelled" in page
