"""A taxon not in the list: an expert proposes it with the task's frames; the task waits; a
coordinator accepts it (a new taxon, or an existing one, labelling the frames) or declines it (the
task goes back to its queue)."""

import pytest

from annotation.models import Annotation, Image, ReviewTask, Taxon, TaxonProposal
from annotation.services.annotations import annotation_add
from annotation.services.review import ReviewItem, review_tasks_create
from tests.annotation.test_review import _frames, claim
from tests.conftest import client_for
from tests.factories import taxon

pytestmark = pytest.mark.django_db


def propose(user, task_id, **body):
    return client_for(user).post(f"/api/review/tasks/{task_id}/propose/", body, format="json")


@pytest.fixture
def jackal_task(org, tmp_path, expert):
    frames = _frames(org, tmp_path, "jackal", 2)
    review_tasks_create(items=[ReviewItem(frames[0], None, "undefined", 0.5)], origin="test")
    task = claim(expert).json()
    return frames, task


def test_a_proposal_reaches_coordinators_with_its_frames_and_holds_the_task(
    jackal_task, expert, coordinator, partner
):
    frames, task = jackal_task
    answer = propose(expert, task["id"], name="golden jackal", scientific_name="Canis aureus")
    assert answer.status_code == 201
    body = answer.json()
    assert (
        body["saved"]["summary"]
        == "Proposed the new taxon “golden jackal” for 2 frames; a coordinator will decide."
    )
    assert [f["id"] for f in body["frames"]] == [f.pk for f in frames]
    assert ReviewTask.objects.get(pk=task["id"]).state == "proposed"
    assert claim(expert).status_code == 204  # waiting for the coordinator, not in any queue
    listed = client_for(coordinator).get("/api/taxon-proposals/").json()
    assert [(p["name"], p["scientific_name"], p["proposed_by"]) for p in listed] == [
        ("golden jackal", "Canis aureus", "erin")
    ]
    assert client_for(expert).get("/api/taxon-proposals/").status_code == 403
    assert (
        client_for(partner)
        .post(f"/api/taxon-proposals/{body['id']}/accept/", {}, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(partner)
        .post(f"/api/review/tasks/{task['id']}/propose/", {"name": "x"}, format="json")
        .status_code
        == 403
    )


def test_accepting_a_proposal_creates_the_taxon_and_labels_the_frames(
    jackal_task, expert, coordinator
):
    frames, task = jackal_task
    proposal = propose(
        expert, task["id"], name="golden jackal", scientific_name="Canis aureus"
    ).json()
    answer = client_for(coordinator).post(
        f"/api/taxon-proposals/{proposal['id']}/accept/",
        {"name_fr": "chacal doré", "parent": taxon("dog").pk},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    jackal = Taxon.objects.get(slug="golden-jackal")
    assert (jackal.name_fr, jackal.scientific_name, jackal.parent, jackal.created_by) == (
        "chacal doré",
        "Canis aureus",
        taxon("dog"),
        coordinator,
    )
    assert sorted(answer.json()["labelled"]) == sorted(f.pk for f in frames)
    for frame in Image.objects.filter(pk__in=[f.pk for f in frames]):
        assert frame.current_taxon == jackal
        assert (frame.current_label.author, frame.current_label.source) == (
            expert,
            "expert",
        )  # the expert's word
    assert ReviewTask.objects.get(pk=task["id"]).state == "done"
    again = client_for(coordinator).post(
        f"/api/taxon-proposals/{proposal['id']}/decline/", {}, format="json"
    )
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]


def test_mapping_to_an_existing_taxon_leaves_frames_labelled_since_alone(
    jackal_task, expert, coordinator
):
    frames, task = jackal_task
    proposal = propose(expert, task["id"], name="chacal").json()
    annotation_add(
        image=frames[1], taxon=taxon("fox"), author=coordinator
    )  # meanwhile, on one frame
    answer = (
        client_for(coordinator)
        .post(f"/api/taxon-proposals/{proposal['id']}/accept/", {"taxon": "wolf"}, format="json")
        .json()
    )
    assert (
        answer["labelled"] == [frames[0].pk]
        and "fox by cora" in answer["left_alone"][str(frames[1].pk)]
    )
    assert answer["taxon"]["slug"] == "wolf" and not Taxon.objects.filter(name_en="chacal").exists()
    assert [Image.objects.get(pk=f.pk).current_taxon.slug for f in frames] == ["wolf", "fox"]


def test_declining_puts_the_task_back_in_its_queue_with_the_note(jackal_task, expert, coordinator):
    frames, task = jackal_task
    proposal = propose(expert, task["id"], name="big grey dog").json()
    answer = client_for(coordinator).post(
        f"/api/taxon-proposals/{proposal['id']}/decline/",
        {"note": "a wolf: see the tail"},
        format="json",
    )
    assert answer.status_code == 200 and answer.json()["status"] == "declined"
    back = ReviewTask.objects.get(pk=task["id"])
    assert back.state == "open" and back.claimed_by is None
    assert back.reason.startswith(
        "proposal “big grey dog” declined by cora: a wolf: see the tail; "
    )
    assert claim(expert).json()["id"] == task["id"] and not Annotation.objects.exists()


def test_a_known_name_is_refused_and_an_undone_proposal_is_withdrawn(
    jackal_task, expert, coordinator
):
    frames, task = jackal_task
    known = propose(expert, task["id"], name="Renard", scientific_name="")
    assert known.status_code == 400 and "already in the list as fox" in known.json()["detail"]
    by_latin = propose(expert, task["id"], name="whatever", scientific_name="Vulpes vulpes")
    assert by_latin.status_code == 400
    assert propose(expert, task["id"], name="  ").status_code == 400
    proposal = propose(expert, task["id"], name="golden jackal").json()
    undone = client_for(expert).post(
        f"/api/decisions/{proposal['saved']['id']}/undo/", format="json"
    )
    assert undone.status_code == 200 and undone.json()["task"]["id"] == task["id"]
    assert TaxonProposal.objects.get(pk=proposal["id"]).status == "withdrawn"
    assert ReviewTask.objects.get(pk=task["id"]).state == "open"
    assert client_for(coordinator).get("/api/taxon-proposals/").json() == []
    # once a coordinator decided, the proposal can no longer be undone
    second = propose(expert, task["id"], name="golden jackal").json()
    client_for(coordinator).post(f"/api/taxon-proposals/{second['id']}/decline/", {}, format="json")
    refused = client_for(expert).post(
        f"/api/decisions/{second['saved']['id']}/undo/", format="json"
    )
    assert refused.status_code == 409 and "moved on" in refused.json()["detail"]


def test_the_coordinator_page_lists_proposals_and_decides(jackal_task, expert, coordinator, client):
    frames, task = jackal_task
    proposal = propose(
        expert, task["id"], name="golden jackal", scientific_name="Canis aureus"
    ).json()
    client.force_login(expert)
    assert client.get("/review/proposals/").status_code == 403
    client.force_login(coordinator)
    page = client.get("/review/proposals/").content.decode()
    assert (
        "“golden jackal”" in page
        and "Canis aureus" in page
        and f"/images/{frames[1].pk}/thumbnail" in page
    )
    assert "Proposed new taxa (1)" in client.get("/review/").content.decode()
    refused = client.post(
        "/review/proposals/", {"proposal": proposal["id"], "action": "map"}, follow=True
    )
    assert "Choose the existing taxon" in refused.content.decode()
    done = client.post(
        "/review/proposals/",
        {
            "proposal": proposal["id"],
            "action": "new",
            "name_en": "golden jackal",
            "name_fr": "chacal doré",
        },
        follow=True,
    ).content.decode()
    assert "Accepted “golden jackal” as golden jackal: 2 frames labelled." in done
    assert "No proposal waits." in done and "accepted: golden jackal" in done
