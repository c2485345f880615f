"""The review desk in a real Chromium says why a task is offered: an expert of another taxon sees
how many tasks wait for a second opinion, claims one that waited past the wait, and reads why it
came to them."""

import datetime as dt

import pytest
from django.utils import timezone

from annotation.models import ReviewTask, ReviewVerdict, Role
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from annotation.services.review import ReviewItem, review_task_claim_next, review_tasks_create
from annotation.services.verdicts import Verdict, review_verdict_submit
from tests import factories
from tests.browser.conftest import log_in, switch_to
from tests.factories import taxon, write_jpeg

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]
REASON = (
    "margin pick; model: red deer 0.41, roe deer 0.33, fox 0.10; "
    "queue red deer (first of the top 3 with an expert)"
)


@pytest.fixture
def waited(org, tmp_path):
    """A blind double review in the red-deer queue: its only red-deer expert gave the first label 52
    h ago."""
    camera = deployment_get_or_create(organisation=org, name="Col du Lautaret")
    batch = batch_open(organisation=org, uploader=None, deployment=camera)
    path = write_jpeg(tmp_path / "deer.jpg", seed=3, taken="2024:05:01 10:00:00", size=(160, 120))
    image = image_ingest(path=path, name=path.name, batch=batch, deployment=camera).image
    task = review_tasks_create(
        items=[ReviewItem(image, taxon("red-deer"), REASON, 0.9)], origin="test"
    )[0]
    ReviewTask.objects.filter(pk=task.pk).update(reviews_needed=2)
    other = factories.organisation("Office de la biodiversité")
    erin = factories.member("erin", other, Role.EXPERT, taxa=[taxon("red-deer")])
    assert review_task_claim_next(user=erin, queue_taxon_id=taxon("red-deer").pk).pk == task.pk
    review_verdict_submit(task_id=task.pk, user=erin, verdict=Verdict(taxon=taxon("red-deer")))
    ReviewVerdict.objects.filter(task=task).update(
        created_at=timezone.now() - dt.timedelta(hours=52)
    )
    factories.member("finn", other, Role.EXPERT, taxa=[taxon("fox")])
    return task


def test_an_expert_of_another_taxon_sees_why_a_second_opinion_came_to_them(page, waited):
    log_in(page, "finn")
    page.goto("/review/")
    line = page.locator("#second-opinions")
    assert line.is_visible()
    assert "Waiting for a second opinion: 1 task" in line.inner_text()
    assert "1 past the 48 h wait" in line.inner_text()
    page.click("#queues button:has-text('second opinions')")
    page.wait_for_selector("#work:not([hidden])")
    reason = page.locator("#task-reason")
    assert reason.is_visible()
    assert (
        reason.inner_text() == f"second opinion: waited 52 h for another red deer expert; {REASON}"
    )
    assert page.inner_text("#task-queue") == "red deer" and page.is_visible("#task-double")
    page.wait_for_function(
        "document.getElementById('frame').naturalWidth > 0"
    )  # the frame is theirs to see
    assert page.get_attribute("#work", "data-task") == str(waited.pk)


def test_a_french_expert_reads_why_in_french(page, waited):
    log_in(page, "finn")
    page.goto("/review/")
    switch_to(page, "Français")
    page.click("#queues button[data-queue='second-opinion']")
    page.wait_for_selector("#work:not([hidden])")
    assert page.inner_text("#task-reason") == (
        f"second avis : 52 h d'attente d'un autre expert en cerf ; {REASON}"
    )
