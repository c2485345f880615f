"""Fixtures of the tests that walk every URL."""

import pytest
from django.contrib.auth import get_user_model

from annotation.models import Role, TaxonProposal
from annotation.services.batches import batch_open
from annotation.services.undo import label_decided
from inference.services.exports.jobs import export_request
from inference.services.exports.scope import ExportOptions, ExportScope
from tests import factories
from tests.factories import taxon
from tests.worlds import some_of_everything
from training.models import Release


@pytest.fixture
def world(org, other_org, partner, expert, coordinator, tmp_path):
    """Some of everything, so that detail URLs resolve to real objects for each role."""
    superuser = get_user_model().objects.create_superuser("root", "root@example.org", "pw-root")
    world = some_of_everything(org=org, partner=partner, coordinator=coordinator, folder=tmp_path)
    batch, images, task = world.batch, world.images, world.task
    version, training_round = world.version, world.training_round
    release = Release.objects.create(
        version=version, semver="1.0.0", files={"model_card.md": "0" * 64}, model_card="A card."
    )
    factories.member("pat", other_org, Role.PARTNER)
    waiting = batch_open(
        organisation=org,
        uploader=partner,
        kind="import",  # waits for its class mapping
        params={"class_counts": {"Okapi": 1, "renards": 2}},
    )
    real = {
        "organisation": org.pk,
        "image": images[0].pk,
        "batch": batch.pk,
        "review": task.pk,
        "import": waiting.pk,
        "round": training_round.pk,
        "model": version.pk,
        "semver": release.semver,
        "name": "model_card.md",
        "export": export_request(
            user=partner,
            fmt="coco",
            scope=ExportScope(organisation=org.pk),
            options=ExportOptions(),
            enqueue=False,
        ).pk,  # pending: its download is a 409
        "decision": label_decided(image=images[1], taxon=taxon("fox"), author=partner)[1].pk,
        "proposal": TaxonProposal.objects.create(
            name="okapi", proposed_by=expert, labels_stamp=0
        ).pk,
    }
    roles = {
        "anonymous": None,
        "partner": partner,
        "expert": expert,
        "coordinator": coordinator,
        "superuser": superuser,
    }
    return real, roles
