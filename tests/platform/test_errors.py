"""Domain errors say what kind of refusal they are (faune_platform.errors) and never an HTTP
status; one mapping turns each kind into a status, for the API (JSON `detail`) and for pages
(the message as text), through real requests here. Also through requests elsewhere: a conflict
through the API (409) in tests/annotation/test_undo.py, upload allowances (413, 429 with
Retry-After) in tests/annotation/test_upload_limits.py."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from annotation.services.upload_limits import (
    UploadAllowanceSpent,
    UploadLimitExceeded,
    UploadRequestTooLarge,
)
from faune_platform import errors
from faune_platform.responses import STATUS_OF_CATEGORY
from inference.models import ExportJob
from inference.services.exports.jobs import ExportBusy, ExportError, ExportGone
from inference.services.novelty import NoveltyScanBusy, NoveltyScanError
from tests.conftest import client_for

ROOT = Path(__file__).resolve().parents[2]
APPS = ("annotation", "inference", "training", "faune_platform")
# Not refusals: a signal that stops training when its round is cancelled, caught by the
# round itself.
NOT_REFUSALS = {"TrainingCancelled", "JobDisowned"}  # control flow inside a job, never answered


def _classes() -> list[tuple[Path, ast.ClassDef]]:
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += [(path, node) for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    return found


def test_no_class_under_the_apps_carries_an_http_status():
    def sets_http_status(node: ast.ClassDef) -> bool:
        for statement in node.body:
            targets = (
                statement.targets
                if isinstance(statement, ast.Assign)
                else [getattr(statement, "target", None)]
            )
            if any(
                isinstance(target, ast.Name) and target.id == "http_status" for target in targets
            ):
                return True
        return False

    offenders = [
        f"{path.relative_to(ROOT)}:{node.name}"
        for path, node in _classes()
        if sets_http_status(node)
    ]
    assert offenders == [], "map the error's category in faune_platform/responses.py instead"


def test_every_domain_error_has_a_category():
    """A new exception class names its category (faune_platform.errors), not a bare Exception."""
    bare = [
        f"{path.relative_to(ROOT)}:{node.name}"
        for path, node in _classes()
        if any(isinstance(base, ast.Name) and base.id == "Exception" for base in node.bases)
        and path != ROOT / "faune_platform" / "errors.py"
        and node.name not in NOT_REFUSALS
    ]
    assert bare == []


def test_every_category_has_one_status():
    assert set(STATUS_OF_CATEGORY) == set(errors.CATEGORIES)
    assert len(set(STATUS_OF_CATEGORY.values())) == len(STATUS_OF_CATEGORY)


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (NoveltyScanError("x"), errors.InputRefused),
        (
            NoveltyScanBusy("x"),
            errors.StateConflict,
        ),  # narrows an invalid request: its own category first
        (ExportError("x"), errors.InputRefused),
        (ExportBusy("x"), errors.StateConflict),
        (ExportGone("x"), errors.Gone),
        (UploadRequestTooLarge("x"), errors.TooLarge),
        (UploadAllowanceSpent("x", retry_after_s=5), errors.AllowanceSpent),
        (ValueError("x"), None),
    ],
)
def test_the_most_specific_category_wins(error, category):
    assert errors.category_of(error) is category
    assert isinstance(error, UploadLimitExceeded) == isinstance(
        error, UploadRequestTooLarge | UploadAllowanceSpent
    )


def test_engine_errors_load_no_django():
    """Engine code raises categorised errors yet stays free of Django."""
    code = (
        "import sys, faune_platform.errors, inference.engine.detections, "
        "inference.engine.backbones, inference.engine.novelty, training.engine.simulation; "
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"


@pytest.mark.django_db
def test_an_invalid_request_is_a_400_through_the_api(coordinator):
    api = client_for(coordinator)
    refused = api.post("/api/novelty/scans/", {}, format="json")  # no production model to scan with
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "No production model: the scan works on its embeddings and predictions."
    }


@pytest.mark.django_db
def test_something_missing_is_a_404_through_the_api(partner):
    missing = client_for(partner).post("/api/decisions/999999/undo/", {}, format="json")
    assert missing.status_code == 404 and missing.json()["detail"]


@pytest.mark.django_db
def test_a_page_answers_a_conflict_with_409_and_what_is_gone_with_410(
    partner, org, settings, tmp_path
):
    job = ExportJob.objects.create(
        created_by=partner, format="coco", organisations=[org.pk], status="running"
    )
    page = Client()
    page.force_login(partner)
    busy = page.get(f"/exports/{job.pk}/download")
    assert busy.status_code == 409 and busy["Content-Type"] == "text/plain; charset=utf-8"
    assert "there is nothing to download yet" in busy.content.decode()
    ExportJob.objects.filter(pk=job.pk).update(
        status="done", report={"result": "never-written.json"}, folder=str(tmp_path / "export")
    )
    gone = page.get(f"/exports/{job.pk}/download")
    assert gone.status_code == 410
    assert gone.content.decode() == "The files of this export were removed; start it again."
