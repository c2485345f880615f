"""Schema-driven fuzzing of the REST API on loopback: for every operation of the OpenAPI schema,
hypothesis draws path parameters, query parameters and bodies from the schema (valid shapes and
junk), a real HTTP client sends them with a token to the live server as a coordinator and as a
partner, with real data in place; no answer may be a 5xx. A failure names the operation, the role,
the request and the server's exception."""

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

from annotation.models import ReviewTask, Role
from annotation.services.imports_web import import_archive_accept
from annotation.services.proposals import taxon_proposal_create
from annotation.services.undo import label_decided
from faune_platform.jobs import job_claim, job_start
from faune_platform.openapi import FauneSchemaGenerator
from faune_platform.tokens.services import api_token_create
from inference.models import ExportJob
from inference.services.exports.jobs import export_request, export_work
from inference.services.exports.scope import ExportOptions, ExportScope
from tests import factories
from tests.factories import jpeg_bytes, taxon, zip_bytes
from tests.platform.openapi_requests import Builder, Call
from tests.worlds import some_of_everything
from training.models import Release

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]

# Per operation and role: more for those that take a body or a query. About 1,200 requests in all.
EXAMPLES, EXAMPLES_BARE = 20, 5
ROLES = ("coordinator", "partner")


@pytest.fixture
def world(org, partner, expert, coordinator, tmp_path):
    """A camera with three dated frames (one labelled), an open and a disputed review task, the
    default model, a finished round and a release: the ids the fuzzer draws from reach real rows."""
    world = some_of_everything(
        org=org, partner=partner, coordinator=coordinator, folder=tmp_path, frames=3
    )
    camera, batch, images = world.camera, world.batch, world.images
    disputed, version, training_round = world.disputed, world.version, world.training_round
    Release.objects.create(version=version, semver="1.0.0", files={}, model_card="A card.")
    factories.member("pat", org, Role.PARTNER)
    deer = taxon("red-deer").pk
    later = _later_objects(org, partner, expert, images)
    ids = sorted(
        {
            org.pk,
            camera.pk,
            batch.pk,
            *(i.pk for i in images),
            disputed.pk,
            version.pk,
            training_round.pk,
            partner.pk,
            expert.pk,
            coordinator.pk,
            deer,
            1,
            *(pk for pks in later.values() for pk in pks),
        }
    )
    taxa = ["fox", "red-deer", "red deer", "renard", "chevreuil", str(deer)]
    words = {
        "taxon": taxa,
        "parent": taxa,
        "split": taxa,
        "review_taxa": taxa,
        "username": ["paula", "pat", "erin"],
        "queue": ["triage", "second-opinion", str(deer)],
        "name": ["Col 1", "Col 2"],
        "deployment_name": ["Col 1", "Col 2"],
        "name_en": ["golden jackal", "fox"],
        "password": ["pw-paula"],
        "organisation": [org.pk],
        "deployment": [camera.pk],
        "images": [i.pk for i in images],
        "frame": [i.pk for i in images],
    }
    files = [
        ("a.jpg", jpeg_bytes(seed=7)),
        ("card.zip", zip_bytes({"renard/b.jpg": jpeg_bytes(seed=8)})),
        ("junk.jpg", b"\xff\xd8\xff not a whole jpeg"),
        ("empty.zip", b"PK\x05\x06" + b"\x00" * 18),
    ]
    path_ids = {
        ("images", "pk"): [i.pk for i in images],
        ("batches", "pk"): [batch.pk],
        ("review", "pk"): sorted(ReviewTask.objects.values_list("pk", flat=True)),
        ("rounds", "pk"): [training_round.pk],
        ("models", "pk"): [version.pk],
        ("organisations", "pk"): [org.pk],
        ("organisations", "user_id"): [partner.pk, expert.pk],
        **later,
    }
    inputs = {"ids": ids, "path_ids": path_ids, "words": words, "files": files}
    return inputs, {"coordinator": coordinator, "partner": partner}


def _later_objects(org, partner, expert, images) -> dict[tuple[str, str], list[int]]:
    """What the exports, imports, undo and proposals endpoints act on: a finished export, an import
    waiting for its class mapping, a label to undo and a proposal of a new taxon (on the third
    frame's task)."""
    job = export_request(
        user=partner,
        fmt="coco",
        scope=ExportScope(organisation=org.pk),
        options=ExportOptions(),
        enqueue=False,
    )
    export_work(job_claim(ExportJob, job.pk, job_start(job)), clock=None)
    archive = factories.upload(
        "okapis.zip", zip_bytes({"Okapi/1.jpg": jpeg_bytes(seed=9)}), "application/zip"
    )
    waiting = import_archive_accept(
        archive=archive,
        organisation=org,
        deployment_name="",
        user=partner,
        fmt="classes",
        maxlag_s=None,
    )
    _label, decision = label_decided(image=images[1], taxon=taxon("fox"), author=partner)
    third = images[2]
    held = ReviewTask.objects.create(
        image=third,
        sequence_id=third.sequence_id,
        opened_for=third.sequence_id,
        queue_taxon=taxon("red-deer"),
        reason="api fuzz",
        claimed_by=expert,
        claimed_until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15),
    )
    proposal = taxon_proposal_create(task_id=held.pk, user=expert, name="okapi")
    return {
        ("exports", "pk"): [job.pk],
        ("imports", "pk"): [waiting.pk],
        ("decisions", "pk"): [decision.pk],
        ("taxon-proposals", "pk"): [proposal.pk],
    }


class _ServerErrors:
    """The exception behind the latest 5xx, caught in the live server's thread (same process)."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, sender, **kwargs) -> None:
        kind, error, trace = sys.exc_info()
        frames = [
            f for f in traceback.extract_tb(trace) if "site-packages" not in f.filename
        ] or traceback.extract_tb(trace)[-1:]
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        self.last = f"{kind.__name__ if kind else '?'}: {str(error)[:300]} (at {where})"


def _send(base: str, call: Call, token: str) -> int:
    data, headers = call.encoded()
    request = urllib.request.Request(
        base + call.target(),
        data=data,
        method=call.method,
        headers={**headers, "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 loopback only
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _operations(schema: dict) -> list[tuple[str, str, dict]]:
    """Every operation; deletions last, so removing a member does not hide the rest from that
    member, and the revocation of tokens at the very end: the walk's own token may be among those
    it revokes."""
    found = [
        (path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()
    ]
    return sorted(found, key=lambda item: (item[1] == "delete", item[0].startswith("/api/tokens/")))


def test_no_api_operation_answers_a_5xx(world, live_server, monkeypatch):
    monkeypatch.setattr(
        Conf, "SYNC", False
    )  # queued jobs wait in the ORM queue instead of running here
    inputs, users = world
    tokens = {role: api_token_create(user=users[role], name="fuzz").secret for role in ROLES}
    schema = FauneSchemaGenerator().get_schema(request=None, public=True)
    builder = Builder(schema, **inputs)
    errors, failures, answered = _ServerErrors(), [], {role: set() for role in ROLES}
    got_request_exception.connect(errors, dispatch_uid="api-fuzz")
    try:
        for path, method, operation in _operations(schema):
            calls, examples = builder.call(path, method, operation), _examples(operation)
            for role in ROLES:
                label = f"{operation['operationId']} as {role}"
                failures += _fuzz(
                    calls, examples, label, live_server.url, tokens[role], errors, answered[role]
                )
    finally:
        got_request_exception.disconnect(dispatch_uid="api-fuzz")
    assert not failures, f"{len(failures)} server error(s):\n" + "\n".join(failures)
    # The tokens opened the doors: a walk answered 401 throughout would find no 5xx and
    # prove nothing.
    assert all(any(status < 300 for status in statuses) for statuses in answered.values()), answered


def _examples(operation: dict) -> int:
    takes_input = "requestBody" in operation or any(
        p["in"] == "query" for p in operation["parameters"]
    )
    return EXAMPLES if takes_input else EXAMPLES_BARE


def _fuzz(
    calls,
    examples: int,
    label: str,
    base: str,
    token: str,
    errors: _ServerErrors,
    answered: set[int],
) -> list[str]:
    """Sends `examples` drawn requests, the same ones on every run for this operation and role (a
    failure reproduces); returns one line per 5xx, and adds each status to `answered`."""
    found = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(zlib.crc32(label.encode()))
    @given(calls)
    def run(call: Call) -> None:
        status = _send(base, call, token)
        answered.add(status)
        if status >= 500:
            found.append(f"{status} {label}: {call.describe()}: {errors.last}")

    run()
    return found
