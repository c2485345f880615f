"""Review queues that give experts work: a task goes to the first of its candidate taxa some expert
reviews (triage only when none has), and a blind second review that waited too long for another
expert of its taxon is offered to every expert and coordinator. What the queues count is what a
claim returns."""

import datetime as dt

import pytest
from django.utils import timezone

from annotation.models import Annotation, ReviewTask, ReviewVerdict, Role, Taxon
from annotation.selectors import second_opinions_waiting, taxa_with_experts
from annotation.services.reasons import reason_english
from annotation.services.review import (
    SECOND_OPINION,
    ReviewItem,
    review_queue_counts,
    review_queue_route,
    review_task_claim_next,
    review_tasks_create,
)
from annotation.services.verdicts import Verdict, review_verdict_submit
from tests import factories
from tests.annotation.test_review import _frames, claim, label
from tests.conftest import client_for
from tests.factories import taxon

pytestmark = pytest.mark.django_db
TOP3 = ["red-deer", "roe-deer", "fox"]


def _top3() -> list[Taxon]:
    return [taxon(slug) for slug in TOP3]


def test_the_queue_is_the_first_of_the_top_3_with_an_expert(other_org):
    factories.member("rob", other_org, Role.EXPERT, taxa=[taxon("roe-deer")])
    factories.member("fanny", other_org, Role.EXPERT, taxa=[taxon("fox")])
    route = review_queue_route(taxa=_top3(), expert_taxa=taxa_with_experts())
    assert (
        route.queue_taxon_id == taxon("roe-deer").pk
    )  # the 2nd: nobody reviews red deer, fox comes later
    assert reason_english([route.why]) == "queue roe deer (first of the top 3 with an expert)"


def test_no_expert_for_any_of_the_top_3_means_triage(other_org, partner, coordinator):
    factories.member("wolfgang", other_org, Role.EXPERT, taxa=[taxon("wolf")])
    route = review_queue_route(taxa=_top3(), expert_taxa=taxa_with_experts())
    assert (route.queue_taxon_id, reason_english([route.why])) == (
        None,
        "triage: no expert for red deer, roe deer, fox",
    )


def test_an_inactive_expert_covers_nothing(other_org):
    gone = factories.member("gone", other_org, Role.EXPERT, taxa=[taxon("red-deer")])
    gone.is_active = False
    gone.save()
    assert taxa_with_experts() == frozenset()


def test_an_expert_of_a_higher_taxon_covers_its_species(other_org):
    factories.member("mona", other_org, Role.EXPERT, taxa=[taxon("mustelid")])
    candidates = [taxon("fox"), taxon("badger")]
    route = review_queue_route(taxa=candidates, expert_taxa=taxa_with_experts())
    assert route.queue_taxon_id == taxon("badger").pk  # badger sits under mustelid
    assert taxon("badger").pk in taxa_with_experts() and taxon("fox").pk not in taxa_with_experts()


def test_long_names_keep_the_reason_under_its_200_characters():
    long = [
        Taxon(pk=i, name_en="a taxon with a very long common name indeed " * 3) for i in range(3)
    ]
    why = reason_english([review_queue_route(taxa=long, expert_taxa=set()).why])
    assert len(why) < 100 and why.startswith("triage: no expert for a taxon")


@pytest.fixture
def double(org, tmp_path, expert):
    """A blind double review in the red-deer queue, whose only expert (erin) gave the first label; a
    fox expert of another organisation."""
    image = _frames(org, tmp_path, "cam-double", 1, seed=5)[0]
    item = ReviewItem(image, taxon("red-deer"), "margin pick; queue red deer", 0.9)
    task = review_tasks_create(items=[item], origin="test")[0]
    ReviewTask.objects.filter(pk=task.pk).update(reviews_needed=2)
    assert claim(expert, taxon("red-deer").pk).json()["id"] == task.pk
    assert label(expert, task.pk, {"taxon": "red-deer"}).json()["waiting_for_second_review"] is True
    fox = factories.member(
        "finn",
        factories.organisation("Office de la biodiversité"),
        Role.EXPERT,
        taxa=[taxon("fox")],
    )
    return task, fox


def _wait(task: ReviewTask, hours: float) -> None:
    """As if the first label had been given `hours` ago."""
    ReviewVerdict.objects.filter(task=task).update(
        created_at=timezone.now() - dt.timedelta(hours=hours)
    )


def test_a_single_expert_double_review_falls_back_to_any_expert_after_the_wait(
    double, expert, coordinator, client
):
    task, fox = double
    assert claim(expert, taxon("red-deer").pk).status_code == 204  # erin never reviews it twice
    assert claim(fox, SECOND_OPINION).status_code == 204  # not yet: other red-deer experts may come
    assert client_for(fox).get("/api/review/queues/").json() == []
    _wait(task, 52)
    assert claim(expert, SECOND_OPINION).status_code == 204  # still never erin
    assert client_for(expert).get("/api/review/queues/").json() == []
    assert client_for(fox).get("/api/review/queues/").json() == [
        {"queue": SECOND_OPINION, "name": "second opinions", "name_fr": "seconds avis", "open": 1}
    ]
    claimed = claim(fox, SECOND_OPINION).json()
    assert claimed["id"] == task.pk and claimed["queue_name"] == "red deer"
    assert claimed["second_opinion"] == "second opinion: waited 52 h for another red deer expert"
    client.force_login(fox)
    assert (
        client.get(claimed["frames"][0]["url"]).status_code == 200
    )  # what they review, they may see
    assert label(fox, task.pk, {"taxon": "red-deer"}).json()["state"] == "done"
    assert sorted(a.author.username for a in Annotation.objects.all()) == ["erin", "finn"]


def test_the_second_opinion_note_reads_in_the_experts_language(double):
    task, fox = double
    _wait(task, 52)
    answer = client_for(fox).post(
        "/api/review/claim/", {"queue": SECOND_OPINION}, format="json", HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert answer.json()["second_opinion"] == (
        "second avis : 52 h d'attente d'un autre expert en cerf"
    )


def test_the_wait_is_a_setting(double, settings):
    task, fox = double
    settings.FAUNE = {**settings.FAUNE, "SECOND_OPINION_WAIT_HOURS": 2}
    _wait(task, 1)
    assert claim(fox, SECOND_OPINION).status_code == 204
    _wait(task, 3)
    assert (
        claim(fox, SECOND_OPINION).json()["second_opinion"].startswith("second opinion: waited 3 h")
    )


def _desk(client) -> str:
    """The review page's text, white space folded as a browser shows it."""
    return " ".join(client.get("/review/").content.decode().split())


def test_coordinators_are_offered_it_and_see_what_waits(double, coordinator, expert, client):
    task, _ = double
    waiting = second_opinions_waiting(taxon_ids=None)
    assert (waiting["count"], waiting["overdue"]) == (1, 0) and waiting["since"] is not None
    before = client_for(coordinator).get("/api/review/queues/").json()
    assert [(q["name"], q["open"]) for q in before] == [("red deer", 1)]
    client.force_login(coordinator)
    assert "Waiting for a second opinion: 1 task" in _desk(client)
    _wait(task, 49)
    after = client_for(coordinator).get("/api/review/queues/").json()
    assert [(q["queue"], q["open"]) for q in after] == [
        (SECOND_OPINION, 1)
    ]  # once: not in red deer too
    assert "1 past the 48 h wait, open to every expert" in _desk(client)
    assert claim(coordinator, taxon("red-deer").pk).status_code == 204
    assert claim(coordinator, SECOND_OPINION).json()["id"] == task.pk


def test_experts_see_the_waiting_line_for_their_queues(double, expert, client):
    client.force_login(expert)
    assert "Waiting for a second opinion: 1 task" in _desk(client)
    assert (
        second_opinions_waiting(taxon_ids={taxon("fox").pk})["count"] == 0
    )  # not theirs, not yet overdue


def _claimable_by_claiming(user, queue) -> int:
    """How many tasks `user` gets from `queue`, claiming again after skipping each (a skip is never
    offered back to who gave it)."""
    got = 0
    while True:
        task = review_task_claim_next(
            user=user,
            queue_taxon_id=None if queue in ("triage", SECOND_OPINION) else queue,
            second_opinion=queue == SECOND_OPINION,
        )
        if task is None:
            return got
        got += 1
        review_verdict_submit(task_id=task.pk, user=user, verdict=Verdict(kind="skip"))


def test_claims_and_counts_agree(org, tmp_path, expert, coordinator, double):
    overdue, fox = double
    _wait(overdue, 60)
    images = [_frames(org, tmp_path, f"cam{i}", 1, seed=20 * i)[0] for i in range(5)]
    queues = [taxon("red-deer"), taxon("fox"), None, taxon("fox"), taxon("wolf")]
    items = [
        ReviewItem(image, queue, "pick", 0.8 - i / 10)
        for i, (image, queue) in enumerate(zip(images, queues, strict=True))
    ]
    created = review_tasks_create(items=items, origin="test")
    ReviewTask.objects.filter(pk=created[3].pk).update(  # another expert is working on it
        claimed_by=coordinator, claimed_until=timezone.now() + dt.timedelta(minutes=5)
    )
    for user in (fox, expert, coordinator):
        taxa = (
            None
            if user == coordinator
            else {t.pk for t in user.memberships.get().review_taxa.all()}
        )
        counts = {
            row["queue"]: row["open"] for row in review_queue_counts(taxon_ids=taxa, user=user)
        }
        claimed = {queue: _claimable_by_claiming(user, queue) for queue in counts}
        assert claimed == counts, user.username
    assert counts == {
        SECOND_OPINION: 1,
        "triage": 1,
        taxon("red-deer").pk: 1,
        taxon("fox").pk: 2,
        taxon("wolf").pk: 1,
    }
