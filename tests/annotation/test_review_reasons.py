"""Why a task waits reads in the expert's language on the desk: the reason is stored as parts
(catalogue messages and their values, taxon names in every language) and translated when shown;
the English stays in `reason`, and a task from before the parts shows its text as it was."""

import pytest
from django.test import Client

from annotation.models import ReviewTask, Role
from annotation.services.reasons import MAX_PARTS, model_said, reason_fields, task_reason
from annotation.services.review import ReviewItem, review_queue_route, review_tasks_create
from faune_platform.errors import Worded
from tests import factories
from tests.annotation.test_review import _frames, claim, double, label  # noqa: F401 (fixture)
from tests.conftest import client_for
from tests.factories import taxon

pytestmark = pytest.mark.django_db


def _pick(org, tmp_path, expert_taxa) -> ReviewTask:
    """A selection pick the model thought red deer (0.41) or roe deer (0.33)."""
    top = [(taxon("red-deer"), 0.41), (taxon("roe-deer"), 0.33)]
    route = review_queue_route(taxa=[t for t, _ in top], expert_taxa=expert_taxa)
    picked = Worded("%(strategy)s pick", {"strategy": "margin"})
    image = _frames(org, tmp_path, "cam-reason", 1)[0]
    queue = taxon("red-deer") if route.queue_taxon_id else None
    item = ReviewItem(image, queue, [picked, model_said(top), route.why], 0.5)
    return review_tasks_create(items=[item], origin="test")[0]


def _claimed_reason(user, queue, language: str) -> str:
    answer = client_for(user).post(
        "/api/review/claim/", {"queue": queue}, format="json", HTTP_ACCEPT_LANGUAGE=language
    )
    return answer.json()["reason"]


def test_a_picks_reason_reads_in_french_and_in_english(org, tmp_path, expert):
    task = _pick(org, tmp_path, {taxon("red-deer").pk})
    assert _claimed_reason(expert, taxon("red-deer").pk, "fr") == (
        "choix margin ; modèle : cerf 0,41, chevreuil 0,33 ; "
        "file cerf (la première des 2 plus probables à avoir un expert)"
    )
    english = (
        "margin pick; model: red deer 0.41, roe deer 0.33; "
        "queue red deer (first of the top 2 with an expert)"
    )
    assert _claimed_reason(expert, taxon("red-deer").pk, "en") == english
    assert ReviewTask.objects.get(pk=task.pk).reason == english


def test_an_unsure_expert_adds_a_part_in_front_that_the_next_expert_reads_in_french(
    org, tmp_path, expert, other_org
):
    task = _pick(org, tmp_path, set())  # nobody reviews deer: triage
    assert _claimed_reason(expert, "triage", "en").endswith(
        "triage: no expert for red deer, roe deer"
    )
    assert client_for(expert).post(f"/api/review/tasks/{task.pk}/unsure/").status_code == 200
    other = factories.member("theo", other_org, Role.EXPERT, taxa=[taxon("fox")])
    assert _claimed_reason(other, "triage", "fr") == (
        "incertain (erin) ; choix margin ; modèle : cerf 0,41, chevreuil 0,33 ; "
        "tri : aucun expert pour cerf, chevreuil"
    )


def test_a_task_from_before_the_parts_shows_its_text_and_keeps_it_under_a_new_part(
    org, tmp_path, expert
):
    task = _pick(org, tmp_path, set())
    ReviewTask.objects.filter(pk=task.pk).update(
        reason="margin pick; model: fox 0.50", reason_words=[]
    )
    assert _claimed_reason(expert, "triage", "fr") == "margin pick; model: fox 0.50"
    assert client_for(expert).post(f"/api/review/tasks/{task.pk}/unsure/").status_code == 200
    task.refresh_from_db()
    assert task.reason == "unsure (erin); margin pick; model: fox 0.50"


def test_a_reason_released_again_and_again_keeps_its_newest_parts_and_its_first():
    parts = [Worded("unsure (%(who)s)", {"who": f"e{i}"}) for i in range(10)]
    parts.append(Worded("%(strategy)s pick", {"strategy": "margin"}))
    kept = task_reason(ReviewTask(**reason_fields(parts)))
    assert len(kept) == MAX_PARTS
    assert [p.params for p in kept] == [{"who": f"e{i}"} for i in range(MAX_PARTS - 1)] + [
        {"strategy": "margin"}
    ]


def test_the_conflicts_page_reads_the_reason_and_the_experts_taxa_in_french(
    double,  # noqa: F811 (the fixture imported above)
    expert,
    coordinator,
):
    (task, _), edgar = double
    ReviewTask.objects.filter(pk=task.pk).update(
        **reason_fields([Worded("unsure (%(who)s)", {"who": "otto"})])
    )
    for user, said in ((expert, "fox"), (edgar, "wolf")):
        assert claim(user).json()["id"] == task.pk
        assert label(user, task.pk, {"taxon": said}).status_code == 201
    client = Client()
    client.force_login(coordinator)
    page = client.get("/review/conflicts/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    row = page[page.index('id="conflicts"') :]
    assert (
        "incertain (otto)" in row and "<b>erin</b>: renard" in row and "<b>edgar</b>: loup" in row
    )
