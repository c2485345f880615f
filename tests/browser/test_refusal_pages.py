"""A refusal a page lets through reaches the person as its message, with the status its category
maps to (faune_platform/responses.py), in a real Chromium: a download of an export still running
(409), then of one whose files were removed (410)."""

import pytest

from inference.models import ExportJob
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_download_refused_says_why_in_the_browser(page, partner, org, tmp_path):
    job = ExportJob.objects.create(
        created_by=partner, format="coco", organisations=[org.pk], status="running"
    )
    log_in(page, partner.username)

    busy = page.goto(f"/exports/{job.pk}/download")
    assert busy.status == 409
    assert (
        page.locator("body").inner_text().strip()
        == "This export is running: there is nothing to download yet."
    )
    assert page.locator("body").is_visible()

    ExportJob.objects.filter(pk=job.pk).update(
        status="done", report={"result": "gone.json"}, folder=str(tmp_path / "export")
    )
    gone = page.goto(f"/exports/{job.pk}/download")
    assert gone.status == 410
    assert (
        page.locator("body").inner_text().strip()
        == "The files of this export were removed; start it again."
    )
