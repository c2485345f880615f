"""Starting a round through the API: every parameter is checked against a range before anything
is queued."""

import pytest

from tests.conftest import client_for
from training.models import TrainingRound

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seed": 1e30}, "seed"),
        ({"seed": "--5"}, "seed"),
        ({"seed": 10**30}, "seed"),
        ({"seed": -3}, "seed"),
        ({"mode": "turbo"}, "mode"),
        ({"head": []}, "head"),
        ({"min_labels": 0}, "min_labels"),
        ({"epochs": 10**9}, "epochs"),
        ({"finetune_epochs": "many"}, "finetune_epochs"),
        ({"learning_rate": "nan"}, "learning_rate"),
        ({"learning_rate": 5}, "learning_rate"),
    ],
)
def test_round_parameters_out_of_range_are_a_400(coordinator, body, field):
    response = client_for(coordinator).post("/api/rounds/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not TrainingRound.objects.exists()


def test_valid_parameters_reach_the_round(coordinator, monkeypatch):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    body = {"mode": "head", "head": "mlp", "epochs": 5, "learning_rate": 0.01, "seed": 7}
    response = client_for(coordinator).post("/api/rounds/", body, format="json")
    assert response.status_code == 202
    created = TrainingRound.objects.get()
    assert (
        created.seed == 7
        and created.params["head"] == "mlp"
        and created.params["learning_rate"] == 0.01
    )
    assert created.params["min_labels"] == 10  # left out: the round default


def test_a_round_is_answered_with_the_same_keys_everywhere(coordinator, monkeypatch):
    """One output serializer for the list, the detail, the start and the cancel: the keys clients
    read, in order."""
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    api = client_for(coordinator)
    started = api.post("/api/rounds/", {"seed": 3}, format="json").json()
    keys = [
        "id",
        "status",
        "progress",
        "params",
        "seed",
        "snapshot",
        "candidate",
        "parent",
        "metrics",
        "log",
        "created_at",
        "finished_at",
    ]
    assert list(started) == keys and started["seed"] == 3 and started["candidate"] is None
    assert [list(row) for row in api.get("/api/rounds/").json()] == [keys]
    assert api.get(f"/api/rounds/{started['id']}/").json() == started
    assert list(api.post(f"/api/rounds/{started['id']}/cancel/", format="json").json()) == keys
