"""Schema-driven fuzzing of the REST API on loopback: for every operation of the OpenAPI schema, hypothesis draws
path parameters, query parameters and bodies from the schema (valid shapes and junk), a real HTTP client sends
them with a token to the live server as a coordinator and as a partner, with real data in place; no answer may be
a 5xx. A failure names the operation, the role, the request and the server's exception."""
import datetime as dt
import sys
import traceback
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest
from django.core.signals import got_request_exception
from django_q.conf import Conf
from hypothesis import HealthCheck, Phase, given, seed, settings
from rest_framework.authtoken.models import Token

from annotation.models import ReviewState, ReviewTask, Role
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from annotation.services.review import ReviewItem, review_tasks_create
from faune_platform.openapi import FauneSchemaGenerator
from inference.services.registry import default_version_ensure
from tests import factories
from tests.factories import jpeg_bytes, taxon, write_jpeg, zip_bytes
from tests.platform.openapi_requests import Builder, Call
from training.models import Release, RoundStatus, TrainingRound

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_taxa")]

# Per operation and role: more for those that take a body or a query. About 1,200 requests in all.
EXAMPLES, EXAMPLES_BARE = 20, 5
ROLES = ("coordinator", "partner")


@pytest.fixture
def world(org, partner, expert, coordinator, tmp_path):
    """A camera with two dated frames (one labelled), an open and a disputed review task, the default model,
    a finished round and a release: the ids the fuzzer draws from reach real rows."""
    camera = deployment_get_or_create(organisation=org, name="Col 1", latitude=45.0, longitude=6.0)
    batch = batch_open(organisation=org, uploader=partner, deployment=camera)
    images = []
    for pixels, taken in ((1, "2024:05:01 10:00:00"), (2, "2024:06:01 10:00:00")):
        path = write_jpeg(tmp_path / f"{pixels}.jpg", seed=pixels, taken=taken)
        images.append(image_ingest(path=path, name=path.name, batch=batch, deployment=camera).image)
    annotation_add(image=images[0], taxon=taxon("fox"), author=partner, announce=False)
    _, disputed = review_tasks_create(items=[ReviewItem(images[0], taxon("red-deer"), "margin pick", 0.9),
                                             ReviewItem(images[1], None, "undefined", 0.5)], origin="test")
    ReviewTask.objects.filter(pk=disputed.pk).update(state=ReviewState.CONFLICT)
    version = default_version_ensure()
    training_round = TrainingRound.objects.create(created_by=coordinator, status=RoundStatus.DONE, active=None,
                                                  params={"mode": "head"}, finished_at=dt.datetime.now(dt.UTC))
    Release.objects.create(version=version, semver="1.0.0", files={}, model_card="A card.")
    factories.member("pat", org, Role.PARTNER)
    deer = taxon("red-deer").pk
    ids = sorted({org.pk, camera.pk, batch.pk, *(i.pk for i in images), disputed.pk, version.pk, training_round.pk,
                  partner.pk, expert.pk, coordinator.pk, deer, 1})
    taxa = ["fox", "red-deer", "red deer", "renard", "chevreuil", str(deer)]
    words = {"taxon": taxa, "parent": taxa, "split": taxa, "review_taxa": taxa, "username": ["paula", "pat", "erin"],
             "queue": ["triage", "second-opinion", str(deer)], "name": ["Col 1", "Col 2"],
             "deployment_name": ["Col 1", "Col 2"], "name_en": ["golden jackal", "fox"], "password": ["pw-paula"],
             "organisation": [org.pk], "deployment": [camera.pk], "images": [i.pk for i in images],
             "frame": [i.pk for i in images]}
    files = [("a.jpg", jpeg_bytes(seed=7)), ("card.zip", zip_bytes({"renard/b.jpg": jpeg_bytes(seed=8)})),
             ("junk.jpg", b"\xff\xd8\xff not a whole jpeg"), ("empty.zip", b"PK\x05\x06" + b"\x00" * 18)]
    path_ids = {("images", "pk"): [i.pk for i in images], ("batches", "pk"): [batch.pk],
                ("review", "pk"): sorted(ReviewTask.objects.values_list("pk", flat=True)),
                ("rounds", "pk"): [training_round.pk], ("models", "pk"): [version.pk],
                ("organisations", "pk"): [org.pk], ("organisations", "user_id"): [partner.pk, expert.pk]}
    inputs = {"ids": ids, "path_ids": path_ids, "words": words, "files": files}
    return inputs, {"coordinator": coordinator, "partner": partner}


class _ServerErrors:
    """The exception behind the latest 5xx, caught in the live server's thread (same process)."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, sender, **kwargs) -> None:
        kind, error, trace = sys.exc_info()
        frames = [f for f in traceback.extract_tb(trace) if "site-packages" not in f.filename] or \
            traceback.extract_tb(trace)[-1:]
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        self.last = f"{kind.__name__ if kind else '?'}: {str(error)[:300]} (at {where})"


def _send(base: str, call: Call, token: str) -> int:
    data, headers = call.encoded()
    request = urllib.request.Request(base + call.target(), data=data, method=call.method,
                                     headers={**headers, "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 loopback only
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _operations(schema: dict) -> list[tuple[str, str, dict]]:
    """Every operation; deletions last, so removing a member does not hide the rest from that member."""
    found = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    return sorted(found, key=lambda item: item[1] == "delete")


def test_no_api_operation_answers_a_5xx(world, live_server, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # queued jobs wait in the ORM queue instead of running here
    inputs, users = world
    tokens = {role: Token.objects.create(user=users[role]).key for role in ROLES}
    schema = FauneSchemaGenerator().get_schema(request=None, public=True)
    builder = Builder(schema, **inputs)
    errors, failures = _ServerErrors(), []
    got_request_exception.connect(errors, dispatch_uid="api-fuzz")
    try:
        for path, method, operation in _operations(schema):
            calls, examples = builder.call(path, method, operation), _examples(operation)
            for role in ROLES:
                label = f"{operation['operationId']} as {role}"
                failures += _fuzz(calls, examples, label, live_server.url, tokens[role], errors)
    finally:
        got_request_exception.disconnect(dispatch_uid="api-fuzz")
    assert not failures, f"{len(failures)} server error(s):\n" + "\n".join(failures)


def _examples(operation: dict) -> int:
    takes_input = "requestBody" in operation or any(p["in"] == "query" for p in operation["parameters"])
    return EXAMPLES if takes_input else EXAMPLES_BARE


def _fuzz(calls, examples: int, label: str, base: str, token: str, errors: _ServerErrors) -> list[str]:
    """Sends `examples` drawn requests, the same ones on every run for this operation and role (a failure
    reproduces); returns one line per 5xx."""
    found = []

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @seed(zlib.crc32(label.encode()))
    @given(calls)
    def run(call: Call) -> None:
        status = _send(base, call, token)
        if status >= 500:
            found.append(f"{status} {label}: {call.describe()}: {errors.last}")

    run()
    return found
