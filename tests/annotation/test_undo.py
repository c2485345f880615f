"""Undo: a verdict, a label or accepted pre-labels are taken back by a newer event (the record stays
append-only); every frame they touched gets its label back, and so does the review task; an undo
that would discard someone else's later work is refused with a 409 that says whose."""

import pytest

from annotation.models import Annotation, Decision, Image, LabelSource, ReviewTask, ReviewVerdict
from annotation.services.annotations import annotation_add
from annotation.services.review import ReviewItem, review_tasks_create
from tests import factories
from tests.annotation.test_review import _frames, claim, label
from tests.conftest import client_for
from tests.factories import taxon

pytestmark = pytest.mark.django_db


def undo(user, decision_id):
    return client_for(user).post(f"/api/decisions/{decision_id}/undo/", format="json")


def _current(images) -> list[str | None]:
    return [
        Image.objects.get(pk=i.pk).current_taxon.slug
        if Image.objects.get(pk=i.pk).current_taxon_id
        else None
        for i in images
    ]


@pytest.fixture
def burst(org, tmp_path, partner):
    """A 3-frame sequence a partner labelled roe deer (frame 3 alone: wild boar), waiting
    in triage."""
    frames = _frames(org, tmp_path, "burst", 3)
    annotation_add(image=frames[0], taxon=taxon("roe-deer"), author=partner, whole_sequence=True)
    annotation_add(image=frames[2], taxon=taxon("wild-boar"), author=partner)
    review_tasks_create(items=[ReviewItem(frames[0], None, "margin pick", 0.5)], origin="test")
    return frames


def test_undoing_a_verdict_restores_every_frame_and_the_task(burst, expert):
    task = claim(expert).json()
    before = _current(burst)
    answer = label(
        expert,
        task["id"],
        {
            "taxon": "cow",
            "split": {str(burst[1].pk): "fox"},
            "expected_current": task["labels_stamp"],
            "boxes": [{"frame": burst[0].pk, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}],
        },
    )
    assert answer.status_code == 201
    saved = answer.json()["saved"]
    assert saved["summary"].startswith("Labelled cow on 2 frames; fox on 1 frame; 1 box")
    assert (
        _current(burst) == ["cow", "fox", "cow"]
        and ReviewTask.objects.get(pk=task["id"]).state == "done"
    )
    written = Annotation.objects.filter(decision_id=saved["id"]).count()

    back = undo(expert, saved["id"])
    assert back.status_code == 200, back.json()
    assert _current(burst) == before == ["roe-deer", "roe-deer", "wild-boar"]
    # nothing was deleted: one undo event per withdrawn event, pointing at it
    undos = Annotation.objects.filter(source=LabelSource.UNDO)
    assert undos.count() == written and all(u.undoes.decision_id == saved["id"] for u in undos)
    assert Annotation.objects.filter(decision_id=saved["id"]).count() == written
    again = ReviewTask.objects.get(pk=task["id"])
    assert (again.state, again.claimed_by) == (
        "open",
        expert,
    )  # back with the expert, to decide again
    assert not ReviewVerdict.objects.filter(task_id=task["id"]).exists()
    assert (
        Decision.objects.get(pk=saved["id"]).verdict["frames"][str(burst[1].pk)] == taxon("fox").pk
    )  # kept
    assert (
        back.json()["task"]["id"] == task["id"]
        and back.json()["task"]["labels_stamp"] > task["labels_stamp"]
    )
    # and decide again: a fresh verdict is accepted
    relabel = label(
        expert,
        task["id"],
        {"taxon": "red-deer", "expected_current": back.json()["task"]["labels_stamp"]},
    )
    assert relabel.status_code == 201 and _current(burst) == ["red-deer"] * 3


def test_an_undo_is_refused_when_someone_labelled_the_frames_since(burst, expert, coordinator):
    task = claim(expert).json()
    saved = label(expert, task["id"], {"taxon": "cow"}).json()["saved"]
    annotation_add(
        image=burst[2], taxon=taxon("badger"), author=coordinator
    )  # a colleague, after the verdict
    refused = undo(expert, saved["id"])
    assert refused.status_code == 409
    assert "cora labelled these frames badger" in refused.json()["detail"]
    assert _current(burst) == ["cow", "cow", "badger"]  # nobody's label lost
    assert not Annotation.objects.filter(source=LabelSource.UNDO).exists()
    assert ReviewTask.objects.get(pk=task["id"]).state == "done"


def test_an_undo_is_refused_when_a_newer_task_waits_on_the_sequence(burst, expert):
    task = claim(expert).json()
    saved = label(expert, task["id"], {"taxon": "cow"}).json()["saved"]
    (newer,) = review_tasks_create(
        items=[ReviewItem(burst[0], None, "margin pick", 0.4)], origin="test"
    )  # the finished task no longer waits, so a later pick may open one
    refused = undo(expert, saved["id"])
    assert refused.status_code == 409
    assert "A newer review task waits on this sequence" in refused.json()["detail"]
    assert ReviewTask.objects.get(pk=task["id"]).state == "done"
    assert ReviewTask.objects.get(pk=newer.pk).state == "open"
    assert _current(burst) == ["cow"] * 3


def test_an_undo_happens_once_and_only_for_its_author(burst, expert, other_org):
    task = claim(expert).json()
    saved = label(expert, task["id"], {"taxon": "cow"}).json()["saved"]
    edgar = factories.member("edgar", other_org, "expert", taxa=[taxon("fox")])
    assert undo(edgar, saved["id"]).status_code == 404  # not theirs: not even said to exist
    assert undo(expert, saved["id"]).status_code == 200
    twice = undo(expert, saved["id"])
    assert twice.status_code == 409 and "already undone" in twice.json()["detail"]
    assert Annotation.objects.filter(source=LabelSource.UNDO).count() == 1


def test_undo_of_unsure_puts_the_task_back_in_its_queue(tasks_in_queues, expert, other_org):
    deer = taxon("red-deer").pk
    task = claim(expert, deer).json()
    saved = client_for(expert).post(f"/api/review/tasks/{task['id']}/unsure/").json()["saved"]
    assert ReviewTask.objects.get(pk=task["id"]).queue_taxon_id is None
    assert undo(expert, saved["id"]).status_code == 200
    back = ReviewTask.objects.get(pk=task["id"])
    assert (back.queue_taxon_id, back.reason, back.claimed_by) == (deer, "margin pick", expert)
    # an unsure whose task someone else took meanwhile cannot be undone
    saved = client_for(expert).post(f"/api/review/tasks/{task['id']}/unsure/").json()["saved"]
    other = factories.member("edgar", other_org, "expert", taxa=[taxon("fox")])
    assert claim(other).json()["id"] == task["id"]
    refused = undo(expert, saved["id"])
    assert (
        refused.status_code == 409
        and "edgar is working on this task now" in refused.json()["detail"]
    )


@pytest.fixture
def tasks_in_queues(org, tmp_path):
    image = _frames(org, tmp_path, "deer", 1)[0]
    return review_tasks_create(
        items=[ReviewItem(image, taxon("red-deer"), "margin pick", 0.9)], origin="test"
    )


def test_undo_of_a_skip_gives_the_task_back(tasks_in_queues, expert):
    task = claim(expert, taxon("red-deer").pk).json()
    saved = client_for(expert).post(f"/api/review/tasks/{task['id']}/skip/").json()["saved"]
    assert claim(expert, taxon("red-deer").pk).status_code == 204  # skipped: not offered again
    assert undo(expert, saved["id"]).json()["task"]["id"] == task["id"]
    assert claim(expert, taxon("red-deer").pk).json()["id"] == task["id"]  # offered again


def test_the_second_expert_undoes_a_settled_double_review(
    settings, org, tmp_path, expert, other_org
):
    settings.FAUNE = {**settings.FAUNE, "DOUBLE_REVIEW_FRACTION": 1.0}
    frames = _frames(org, tmp_path, "double", 2)
    review_tasks_create(items=[ReviewItem(frames[0], None, "undefined", 0.5)], origin="test")
    edgar = factories.member("edgar", other_org, "expert", taxa=[taxon("fox")])
    task = claim(expert).json()
    first = label(expert, task["id"], {"taxon": "fox"}).json()["saved"]
    assert "a second expert will review it blind" in first["summary"]
    second = label(edgar, claim(edgar).json()["id"], {"taxon": "fox"}).json()["saved"]
    assert _current(frames) == ["fox", "fox"]
    assert undo(expert, first["id"]).status_code == 409  # edgar reviewed (and labelled) since
    assert undo(edgar, second["id"]).status_code == 200
    assert _current(frames) == [
        None,
        None,
    ]  # both experts' labels were the settled verdict's: both withdrawn
    back = ReviewTask.objects.get(pk=task["id"])
    assert back.state == "open" and list(
        back.verdicts.values_list("expert__username", flat=True)
    ) == ["erin"]


def test_undo_of_a_conflict_resolution(settings, org, tmp_path, expert, other_org, coordinator):
    settings.FAUNE = {**settings.FAUNE, "DOUBLE_REVIEW_FRACTION": 1.0}
    frames = _frames(org, tmp_path, "dispute", 1)
    review_tasks_create(items=[ReviewItem(frames[0], None, "undefined", 0.5)], origin="test")
    edgar = factories.member("edgar", other_org, "expert", taxa=[taxon("fox")])
    label(expert, claim(expert).json()["id"], {"taxon": "fox"})
    task = claim(edgar).json()
    label(edgar, task["id"], {"taxon": "wolf"})
    resolved = (
        client_for(coordinator)
        .post(f"/api/review/tasks/{task['id']}/resolve/", {"taxon": "wolf"}, format="json")
        .json()
    )
    assert resolved["saved"]["summary"] == "Resolved as wolf on 1 frame."
    assert undo(coordinator, resolved["saved"]["id"]).status_code == 200
    back = ReviewTask.objects.get(pk=task["id"])
    assert (back.state, back.resolved_by, back.claimed_by) == ("conflict", None, None) and _current(
        frames
    ) == [None]


def test_accepted_pre_labels_and_page_labels_are_undone_on_the_image_page(
    org, tmp_path, partner, client
):
    image = _frames(org, tmp_path, "page", 1)[0]
    client.force_login(partner)
    client.post(f"/images/{image.pk}/", {"taxon": taxon("fox").pk, "expected_current": 0})
    page = client.get(f"/images/{image.pk}/").content.decode()
    decision = Decision.objects.get(author=partner)
    assert (
        f"Labelled fox on {image.original_name}." in page
        and f"/decisions/{decision.pk}/undo/" in page
    )
    answer = client.post(
        f"/decisions/{decision.pk}/undo/", {"next": f"/images/{image.pk}/"}, follow=True
    )
    assert answer.redirect_chain[-1][0] == f"/images/{image.pk}/"
    text = answer.content.decode()
    assert "Undone: Labelled fox" in text and "Not labelled yet." in text and "<s>fox</s>" in text
    assert _current([image]) == [None]
    refused = client.post(
        f"/decisions/{decision.pk}/undo/", {"next": "https://elsewhere.example/"}, follow=True
    )
    assert refused.redirect_chain[-1][0] == "/" and "already undone" in refused.content.decode()


def test_the_desk_lists_the_users_own_undoable_decisions(burst, expert, coordinator):
    task = claim(expert).json()
    saved = label(expert, task["id"], {"taxon": "cow"}).json()["saved"]
    mine = client_for(expert).get("/api/decisions/").json()
    assert [d["id"] for d in mine] == [saved["id"]]
    assert client_for(coordinator).get("/api/decisions/").json() == []
    undo(expert, saved["id"])
    assert client_for(expert).get("/api/decisions/").json() == []


@pytest.mark.parametrize(
    ("query", "field"), [("?limit=0", "limit"), ("?limit=51", "limit"), ("?limit=x", "limit")]
)
def test_the_decisions_list_refuses_a_limit_out_of_range_saying_which(expert, query, field):
    response = client_for(expert).get(f"/api/decisions/{query}")
    assert response.status_code == 400 and field in response.json()


def test_the_proposals_list_refuses_an_unknown_status(coordinator):
    response = client_for(coordinator).get("/api/taxon-proposals/?status=maybe")
    assert response.status_code == 400 and "status" in response.json()
    assert client_for(coordinator).get("/api/taxon-proposals/?status=all").status_code == 200


TASK_KEYS = [
    "id",
    "image",
    "sequence",
    "state",
    "queue",
    "queue_name",
    "reason",
    "second_opinion",
    "waiting_since",
    "score",
    "claimed_until",
    "reviews_needed",
    "frames",
    "current_label",
    "checks_label",
    "labels_stamp",
]
DECISION_KEYS = ["id", "kind", "summary", "task", "created_at"]


def test_the_review_answers_keep_their_keys_and_order(burst, expert, coordinator):
    """The output serializers declare each answer; clients read the same keys, in the same order,
    as before."""
    api = client_for(expert)
    assert [list(row) for row in api.get("/api/review/queues/").json()] == [
        ["queue", "name", "name_fr", "open"]
    ]
    task = claim(expert).json()
    assert list(task) == TASK_KEYS and task["queue"] == "triage"
    assert list(task["frames"][0]) == [
        "id",
        "kind",
        "taken_at",
        "width",
        "height",
        "url",
        "thumbnail_url",
    ]
    answer = label(
        expert, task["id"], {"taxon": "cow", "expected_current": task["labels_stamp"]}
    ).json()
    assert list(answer) == ["id", "state", "verdict", "waiting_for_second_review", "saved"]
    assert list(answer["saved"]) == DECISION_KEYS
    assert [list(row) for row in api.get("/api/decisions/").json()] == [DECISION_KEYS]
    back = undo(expert, answer["saved"]["id"]).json()
    assert list(back) == ["undone", "saved", "task"] and list(back["task"]) == TASK_KEYS
    assert back["undone"] == answer["saved"]["id"] and list(back["saved"]) == DECISION_KEYS
    released = api.post(f"/api/review/tasks/{task['id']}/release/", format="json").json()
    assert released == {"id": task["id"], "released": True}
    agreement = client_for(coordinator).get("/api/review/agreement/").json()
    assert list(agreement) == [
        "double_reviews",
        "agreement",
        "kappa",
        "by_queue",
        "by_expert",
        "conflicts_open",
    ]
    assert client_for(coordinator).get("/api/review/conflicts/").json() == {
        "count": 0,
        "results": [],
    }
