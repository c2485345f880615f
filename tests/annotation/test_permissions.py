"""Every page and API endpoint, as each role and as anonymous: who may see and change what.

Partners: their organisation only. Experts: also the whole pool within their taxa. Coordinators:
everything and the admin. Anonymous: the home page only. Invisible objects answer 404, so their
existence does not leak."""

import hashlib
from dataclasses import dataclass, field, replace

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from annotation.models import ReviewTask, Role, UploadBatch
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_open
from annotation.services.imports_web import import_archive_accept
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from annotation.services.proposals import taxon_proposal_create
from annotation.services.undo import label_decided
from faune_platform.jobs import job_claim, job_start
from faune_platform.tokens.services import api_token_create
from inference.models import ExportJob, ModelVersion, NoveltyScan, VersionStatus
from inference.services.exports.jobs import export_request, export_work
from inference.services.exports.scope import ExportOptions, ExportScope
from tests import factories
from tests.factories import taxon, write_jpeg
from training.models import Release, RoundStatus, TrainingRound
from training.services.releases import releases_dir

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "partner", "other_partner", "expert", "coordinator"]
DENIED_API = {401, 403}


@pytest.fixture
def world(org, partner, other_partner, expert, coordinator, tmp_path):
    batch = batch_open(organisation=org, uploader=partner)
    deer, fox = factories.photos_ingested(batch, tmp_path, (1, 2))
    annotation_add(image=deer, taxon=taxon("red-deer"), author=partner)
    annotation_add(image=fox, taxon=taxon("fox"), author=partner)
    users = {
        "anonymous": None,
        "partner": partner,
        "other_partner": other_partner,
        "expert": expert,
        "coordinator": coordinator,
    }
    deer.refresh_from_db()
    task = ReviewTask.objects.create(
        image=deer,
        sequence_id=deer.sequence_id,
        opened_for=deer.sequence_id,
        queue_taxon=taxon("red-deer"),
        reason="permissions matrix",
    )
    version = ModelVersion.objects.create(
        name="head", version="1", backbone={}, status=VersionStatus.ARCHIVED
    )
    _release(version, coordinator)
    training_round = TrainingRound.objects.create(
        created_by=coordinator, status=RoundStatus.DONE, active=None
    )
    scan = NoveltyScan.objects.create(created_by=coordinator, version=version, status="done")
    deployment = deployment_get_or_create(organisation=org, name="Col du Lautaret")
    _label, decision = label_decided(image=fox, taxon=taxon("fox"), author=partner)
    return {
        "users": users,
        "deer": deer.pk,
        "fox": fox.pk,
        "batch": batch.pk,
        "task": task.pk,
        "org": org.pk,
        "member": partner.pk,
        "version": version.pk,
        "round": training_round.pk,
        "scan": scan.pk,
        "deployment": deployment.pk,
        "token": api_token_create(user=partner, name="matrix").token.pk,
        "uid": urlsafe_base64_encode(force_bytes(partner.pk)),
        "decision": decision.pk,
        "proposal": _proposal(batch, expert, tmp_path).pk,
        "export": _export(org, partner).pk,
        "waiting_import": _waiting_import(org, partner).pk,
    }


def _release(version: ModelVersion, coordinator) -> Release:
    """A published release whose one file is on disk, so its file and zip URLs serve something."""
    card = b"# head 1.0.0\n"
    folder = releases_dir() / "1.0.0"
    folder.mkdir(parents=True)
    (folder / "model_card.md").write_bytes(card)
    (folder / "SHA256SUMS").write_text(f"{hashlib.sha256(card).hexdigest()}  model_card.md\n")
    return Release.objects.create(
        version=version,
        semver="1.0.0",
        files={"model_card.md": "card"},
        model_card="card",
        created_by=coordinator,
    )


def _proposal(batch, expert, tmp_path):
    """The expert proposes a new taxon on a task of theirs, on a frame of its own (a task in their
    taxa shows them its frame: deer and fox keep the visibility the matrix expects)."""
    image = image_ingest(
        path=write_jpeg(tmp_path / "3.jpg", seed=3), name="3.jpg", batch=batch, deployment=None
    ).image
    task = ReviewTask.objects.create(
        image=image,
        sequence_id=image.sequence_id,
        opened_for=image.sequence_id,
        queue_taxon=taxon("red-deer"),
        reason="permissions matrix",
        claimed_by=expert,
        claimed_until=timezone.now() + timezone.timedelta(minutes=15),
    )
    return taxon_proposal_create(task_id=task.pk, user=expert, name="okapi")


def _export(org, partner) -> ExportJob:
    """The partner's finished COCO export of their organisation."""
    job = export_request(
        user=partner,
        fmt="coco",
        scope=ExportScope(organisation=org.pk),
        options=ExportOptions(),
        enqueue=False,
    )
    assert export_work(job_claim(ExportJob, job.pk, job_start(job)), clock=None)
    return job


def _waiting_import(org, partner):
    """The partner's import of a class folder no taxon is named like: it waits for its
    class mapping."""
    archive = factories.upload(
        "okapis.zip",
        factories.zip_bytes({"Okapi/1.jpg": factories.jpeg_bytes(seed=9)}),
        "application/zip",
    )
    return import_archive_accept(
        archive=archive,
        organisation=org,
        deployment_name="",
        user=partner,
        fmt="classes",
        maxlag_s=None,
    )


def page_client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api_client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


OK, LOGIN, HIDDEN, FORBIDDEN, NO_METHOD = 200, 302, 404, 403, 405
CREATED, NO_CONTENT, BAD, UNAUTHENTICATED, CONFLICT, NOT_MULTIPART = 201, 204, 400, 401, 409, 415
SKIP = (
    None  # not exercised here (it would start a training round, say); the reason is given beside it
)


@dataclass(frozen=True)
class Access:
    """Who may use a route: the status each role gets (anonymous, partner, other partner, expert,
    coordinator) for a GET and for a POST of `body` (an empty or invalid body: what matters is
    whether the role gets past the gate). None: the method is not served. `csrf`: a POST without the
    CSRF token is refused (403) even to a coordinator with a session."""

    path: str
    get: tuple | None
    post: tuple | None = None
    body: dict = field(default_factory=dict)
    csrf: bool = True
    delete: tuple | None = None


ALL_OK = (OK,) * 5
SIGNED_IN = (LOGIN, OK, OK, OK, OK)
API_SIGNED_IN = (UNAUTHENTICATED, OK, OK, OK, OK)
COORDINATOR = (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
API_COORDINATOR = (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
API_COORDINATOR_POST = (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, BAD)
API_MULTIPART_POST = (UNAUTHENTICATED,) + (
    NOT_MULTIPART,
) * 4  # past the gate, refused for its body's format
REDISPLAYED = (
    LOGIN,
    OK,
    OK,
    OK,
    OK,
)  # an empty form posted is shown again (the fields say what is missing)

# Every route of the project (the admin's are covered by ADMIN below): a new route without an entry
# here fails test_every_route_has_an_expected_access, so nobody adds a page or an endpoint without
# deciding who may use it.
ROUTES: dict[str, Access] = {
    # faune_platform
    "home": Access("/", ALL_OK),
    "dashboard": Access("/dashboard/", COORDINATOR),
    "login": Access("/accounts/login/", ALL_OK, (OK,) * 5),
    "logout": Access("/accounts/logout/", None, (LOGIN,) * 5),
    "password-set": Access("/accounts/set-password/{uid}/bad-token/", ALL_OK, (OK,) * 5),
    "password-change": Access("/accounts/password/", SIGNED_IN, SIGNED_IN),
    # the footer's language switch: anyone, back to the page it came from (302; POST needs the
    # CSRF token)
    "set_language": Access("/i18n/setlang/", (LOGIN,) * 5, (LOGIN,) * 5),
    "api-tokens": Access("/accounts/tokens/", SIGNED_IN, (LOGIN, BAD, BAD, BAD, BAD)),
    "api-token-revoke": Access(
        "/accounts/tokens/{token}/revoke/", None, (LOGIN, LOGIN, HIDDEN, HIDDEN, HIDDEN)
    ),
    # the token endpoint takes a password, not a session: no CSRF to check (it sets no cookie)
    "api-token": Access("/api/token/", None, (BAD,) * 5, csrf=False),
    "api-tokens-list": Access("/api/tokens/", API_SIGNED_IN, (UNAUTHENTICATED, BAD, BAD, BAD, BAD)),
    "api-token-detail": Access(
        "/api/tokens/{token}/",
        None,
        None,
        delete=(UNAUTHENTICATED, NO_CONTENT, HIDDEN, HIDDEN, HIDDEN),
    ),
    "favicon": Access("/favicon.ico", ALL_OK),
    # the schema and its page describe the API to those who may call it
    "api-schema": Access("/api/schema/", API_SIGNED_IN),
    "api-schema-yaml": Access("/api/schema.yaml", API_SIGNED_IN),
    "api-docs": Access("/api/docs/", SIGNED_IN),
    # annotation: pages
    "image-list": Access("/images/", SIGNED_IN),
    "image-detail": Access(
        "/images/{deer}/", (LOGIN, OK, HIDDEN, OK, OK), (LOGIN, OK, HIDDEN, OK, OK)
    ),
    "image-file": Access("/images/{deer}/file", (LOGIN, OK, HIDDEN, OK, OK)),
    "image-thumbnail": Access("/images/{fox}/thumbnail", (LOGIN, OK, HIDDEN, HIDDEN, OK)),
    "upload": Access("/upload/", SIGNED_IN),
    "import": Access("/import/", SIGNED_IN, REDISPLAYED),
    "batch-list": Access("/batches/", SIGNED_IN),
    "batch-detail": Access("/batches/{batch}/", (LOGIN, OK, HIDDEN, HIDDEN, OK)),
    "batch-close": Access("/batches/{batch}/close/", None, (LOGIN, LOGIN, HIDDEN, HIDDEN, LOGIN)),
    # the partner's import waiting for its class mapping; an empty mapping is shown again with what
    # is missing
    "import-classes": Access(
        "/import/{waiting_import}/classes/",
        (LOGIN, OK, HIDDEN, HIDDEN, OK),
        (LOGIN, BAD, HIDDEN, HIDDEN, BAD),
    ),
    # the partner's cancel removes the import: the coordinator, after them, finds nothing
    "import-cancel": Access(
        "/import/{waiting_import}/cancel/", None, (LOGIN, LOGIN, HIDDEN, HIDDEN, HIDDEN)
    ),
    "taxon-list": Access("/taxa/", SIGNED_IN, (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)),
    "review": Access("/review/", (LOGIN, FORBIDDEN, FORBIDDEN, OK, OK)),
    "review-conflicts": Access(
        "/review/conflicts/", COORDINATOR, (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN)
    ),
    "taxon-proposals": Access(
        "/review/proposals/", COORDINATOR, (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN)
    ),
    # only its author undoes a decision; the page says why not to anyone else and goes back (302
    # for all)
    "decision-undo": Access("/decisions/{decision}/undo/", None, (LOGIN,) * 5),
    "organisation-list": Access(
        "/organisations/", COORDINATOR, (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
    ),
    "organisation-members": Access(
        "/organisations/{org}/members/", COORDINATOR, (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, BAD)
    ),
    "deployment-list": Access("/deployments/", SIGNED_IN, REDISPLAYED),
    "deployment-detail": Access(
        "/deployments/{deployment}/",
        (LOGIN, OK, HIDDEN, HIDDEN, OK),
        (LOGIN, BAD, HIDDEN, HIDDEN, BAD),
    ),
    # annotation: API
    "api-taxa": Access("/api/taxa/", API_SIGNED_IN, API_COORDINATOR_POST),
    "api-deployments": Access(
        "/api/deployments/", API_SIGNED_IN, (UNAUTHENTICATED, BAD, BAD, BAD, BAD)
    ),
    "api-images": Access("/api/images/", API_SIGNED_IN, API_MULTIPART_POST),
    "api-image": Access("/api/images/{deer}/", (UNAUTHENTICATED, OK, HIDDEN, OK, OK)),
    "api-image-annotations": Access(
        "/api/images/{deer}/annotations/",
        (UNAUTHENTICATED, OK, HIDDEN, OK, OK),
        (UNAUTHENTICATED, BAD, HIDDEN, BAD, BAD),
    ),
    # each signed-in person here belongs to one organisation, where the batch opens when none
    # is named
    "api-batches": Access(
        "/api/batches/", None, (UNAUTHENTICATED, CREATED, CREATED, CREATED, CREATED)
    ),
    "api-batch": Access("/api/batches/{batch}/", (UNAUTHENTICATED, OK, HIDDEN, HIDDEN, OK)),
    "api-batch-files": Access(
        "/api/batches/{batch}/files/",
        (UNAUTHENTICATED, OK, HIDDEN, HIDDEN, OK),
        (UNAUTHENTICATED, NOT_MULTIPART, HIDDEN, HIDDEN, NOT_MULTIPART),
    ),
    "api-batch-close": Access(
        "/api/batches/{batch}/close/", None, (UNAUTHENTICATED, OK, HIDDEN, HIDDEN, OK)
    ),
    "api-imports": Access("/api/imports/", None, API_MULTIPART_POST),
    # as import-cancel: the partner's DELETE removes the import the coordinator would have cancelled
    "api-import-mapping": Access(
        "/api/imports/{waiting_import}/mapping/",
        (UNAUTHENTICATED, OK, HIDDEN, HIDDEN, OK),
        (UNAUTHENTICATED, BAD, HIDDEN, HIDDEN, BAD),
        delete=(UNAUTHENTICATED, NO_CONTENT, HIDDEN, HIDDEN, HIDDEN),
    ),
    "api-review-queues": Access(
        "/api/review/queues/", (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, OK, OK)
    ),
    "api-review-claim": Access(
        "/api/review/claim/",
        None,  # 204: nothing in triage to claim
        (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, NO_CONTENT, NO_CONTENT),
    ),
    "api-review-label": Access(
        "/api/review/tasks/{task}/label/", None, (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, BAD, BAD)
    ),
    # 409: the task is not held by them (a verdict needs a claim first)
    "api-review-unsure": Access(
        "/api/review/tasks/{task}/unsure/",
        None,
        (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, CONFLICT, CONFLICT),
    ),
    "api-review-skip": Access(
        "/api/review/tasks/{task}/skip/",
        None,
        (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, CONFLICT, CONFLICT),
    ),
    "api-review-resolve": Access("/api/review/tasks/{task}/resolve/", None, API_COORDINATOR_POST),
    # giving back a task one does not hold releases nothing (200, `released: false`)
    "api-review-release": Access(
        "/api/review/tasks/{task}/release/", None, (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, OK, OK)
    ),
    "api-review-propose": Access(
        "/api/review/tasks/{task}/propose/", None, (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, BAD, BAD)
    ),
    "api-decisions": Access("/api/decisions/", API_SIGNED_IN),
    "api-decision-undo": Access(
        "/api/decisions/{decision}/undo/", None, (UNAUTHENTICATED, OK, HIDDEN, HIDDEN, HIDDEN)
    ),
    "api-taxon-proposals": Access("/api/taxon-proposals/", API_COORDINATOR),
    # nothing named: the taxon is created with the proposed name
    "api-taxon-proposal-accept": Access(
        "/api/taxon-proposals/{proposal}/accept/",
        None,
        (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, CREATED),
    ),
    "api-taxon-proposal-decline": Access(
        "/api/taxon-proposals/{proposal}/decline/",
        None,
        (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
    ),
    "api-review-conflicts": Access("/api/review/conflicts/", API_COORDINATOR),
    "api-review-agreement": Access("/api/review/agreement/", API_COORDINATOR),
    "api-members": Access(
        "/api/organisations/{org}/members/", API_COORDINATOR, API_COORDINATOR_POST
    ),
    "api-member": Access(
        "/api/organisations/{org}/members/{member}/",
        None,
        None,
        delete=(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, NO_CONTENT),
    ),
    # inference
    "prelabel-list": Access("/prelabels/", SIGNED_IN),
    "model-list": Access("/models/", SIGNED_IN),
    # pages that start jobs answer a refused request with a redirect and a message
    "selection": Access(
        "/selection/",
        COORDINATOR,
        (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN),
        {"strategy": "no-such-strategy"},
    ),
    # the confirmation step of a status change; with no status chosen it says so (400)
    "model-status": Access(
        "/models/{version}/status/",
        (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, BAD),
        (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, BAD),
    ),
    "novelty": Access(
        "/novelty/", COORDINATOR, (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN), {"seed": "x"}
    ),
    "novelty-cluster": Access(
        "/novelty/{scan}/clusters/0/",
        (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, HIDDEN),
        (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, HIDDEN),
    ),
    # no model predicted the image yet: 404 for all; who sees a prediction is
    # tests/inference's business
    "api-image-prediction": Access(
        "/api/images/{deer}/prediction/", (UNAUTHENTICATED,) + (HIDDEN,) * 4
    ),
    "api-image-detections": Access(
        "/api/images/{deer}/detections/", (UNAUTHENTICATED, OK, HIDDEN, OK, OK)
    ),
    "api-image-similar": Access(
        "/api/images/{fox}/similar/", (UNAUTHENTICATED, OK, HIDDEN, HIDDEN, OK)
    ),
    "api-batch-prelabel": Access(
        "/api/batches/{batch}/prelabel/", (UNAUTHENTICATED, OK, HIDDEN, HIDDEN, OK)
    ),
    "api-prelabel-accept": Access(
        "/api/prelabels/accept/", None, (UNAUTHENTICATED, BAD, BAD, BAD, BAD)
    ),
    "api-models": Access("/api/models/", API_SIGNED_IN),
    "api-selection-batches": Access(
        "/api/selection/batches/",
        API_COORDINATOR,
        API_COORDINATOR_POST,
        {"strategy": "no-such-strategy"},
    ),
    "api-model-status": Access("/api/models/{version}/status/", None, API_COORDINATOR_POST),
    # the partner's finished export: theirs and the coordinators' only; the partner's delete
    # goes first
    "exports": Access("/exports/", SIGNED_IN, (LOGIN, BAD, BAD, BAD, BAD)),
    "export-detail": Access("/exports/{export}/", (LOGIN, OK, HIDDEN, HIDDEN, OK)),
    "export-download": Access("/exports/{export}/download", (LOGIN, OK, HIDDEN, HIDDEN, OK)),
    "export-delete": Access(
        "/exports/{export}/delete", None, (LOGIN, LOGIN, HIDDEN, HIDDEN, HIDDEN)
    ),
    "api-exports": Access("/api/exports/", API_SIGNED_IN, (UNAUTHENTICATED, BAD, BAD, BAD, BAD)),
    "api-export": Access("/api/exports/{export}/", (UNAUTHENTICATED, OK, HIDDEN, HIDDEN, OK)),
    "api-novelty-scans": Access(
        "/api/novelty/scans/", API_COORDINATOR, API_COORDINATOR_POST, {"seed": "x"}
    ),
    # 409 for the coordinator: no production model, so no scan to list clusters of
    "api-novelty-clusters": Access(
        "/api/novelty/clusters/", (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, CONFLICT)
    ),
    "api-novelty-cluster": Access(
        "/api/novelty/scans/{scan}/clusters/0/",
        (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, HIDDEN),
    ),
    "api-novelty-cluster-label": Access(
        "/api/novelty/scans/{scan}/clusters/0/label/",
        None,
        (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, BAD),
    ),
    # training
    "round-list": Access(
        "/rounds/", SIGNED_IN, (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, SKIP)
    ),  # SKIP: starts one
    "round-detail": Access("/rounds/{round}/", SIGNED_IN),
    "round-cancel": Access(
        "/rounds/{round}/cancel/", None, (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN)
    ),
    "round-compare": Access("/rounds/{round}/compare/", SIGNED_IN),
    "round-plot": Access(
        "/rounds/{round}/plots/confusion.png", (LOGIN, HIDDEN, HIDDEN, HIDDEN, HIDDEN)
    ),
    "release-list": Access("/releases/", ALL_OK),
    "release-detail": Access("/releases/1.0.0/", ALL_OK),
    "release-file": Access("/releases/1.0.0/files/model_card.md", ALL_OK),
    "release-download": Access("/releases/1.0.0/download.zip", ALL_OK),
    "api-rounds": Access(
        "/api/rounds/", API_SIGNED_IN, API_COORDINATOR_POST, {"mode": "no-such-mode"}
    ),
    "api-round": Access("/api/rounds/{round}/", API_SIGNED_IN),
    "api-round-cancel": Access(
        "/api/rounds/{round}/cancel/", None, (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
    ),
}
# The Django admin: coordinators (by membership) and site admins only; everyone else is sent to
# its log-in.
ADMIN = Access("/admin/", (LOGIN, LOGIN, LOGIN, LOGIN, OK))
ADMIN_SAMPLES = [
    "/admin/",
    "/admin/annotation/image/",
    "/admin/annotation/image/{deer}/change/",
    "/admin/auth/user/",
    "/admin/inference/modelversion/",
    "/admin/training/traininground/",
]


def _routes(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(
                entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace
            )
        else:
            yield prefix + str(entry.pattern), namespace, entry.name or prefix + str(entry.pattern)


def test_every_route_has_an_expected_access():
    found = {
        name
        for _path, namespace, name in _routes(get_resolver().url_patterns)
        if namespace != "admin"
    }
    admin = [
        path
        for path, namespace, _name in _routes(get_resolver().url_patterns)
        if namespace == "admin"
    ]
    assert not found - ROUTES.keys(), (
        f"routes with no expected access in ROUTES: {sorted(found - ROUTES.keys())}"
    )
    assert not ROUTES.keys() - found, (
        f"entries for routes that no longer exist: {sorted(ROUTES.keys() - found)}"
    )
    assert admin and all(path.startswith("admin/") for path in admin)


def _client(role: str, user, url: str, **options):
    client = (APIClient if url.startswith("/api/") else Client)(**options)
    if user is not None:
        client.force_login(user)
    return client


def _call(client, method: str, url: str, body: dict):
    if method == "post" and url.startswith("/api/"):
        return client.post(url, body, format="json")
    return getattr(client, method)(url, body) if method == "post" else getattr(client, method)(url)


def _mismatches(world, access: Access, method: str, expected: tuple) -> list[str]:
    url = access.path.format(**world)
    wrong = []
    for role, want in zip(ROLES, expected, strict=True):
        if want is SKIP:
            continue
        status = _call(
            _client(role, world["users"][role], url), method, url, access.body
        ).status_code
        if not _matches(status, want):
            wrong.append(f"{role} {method.upper()} {url}: {status}, expected {want}")
    return wrong


def _matches(status: int, expected) -> bool:
    return status in expected if isinstance(expected, set) else status == expected


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_route_access(world, name):
    access = ROUTES[name]
    wrong = []
    for method in ("get", "post", "delete"):
        expected = getattr(access, method)
        if expected is not None:
            wrong += _mismatches(world, access, method, expected)
    if (
        access.get is None
    ):  # a route that does not serve GET says so to a coordinator, it does not guess
        url = access.path.format(**world)
        status = _call(
            _client("coordinator", world["users"]["coordinator"], url), "get", url, {}
        ).status_code
        if status != NO_METHOD:
            wrong.append(f"coordinator GET {url}: {status}, expected {NO_METHOD}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", ADMIN_SAMPLES)
def test_admin_access(world, path):
    assert not _mismatches(world, replace(ADMIN, path=path), "get", ADMIN.get)


@pytest.mark.parametrize(
    "name", sorted(n for n, a in ROUTES.items() if a.post is not None and a.csrf)
)
def test_every_post_needs_the_csrf_token(world, name):
    """A signed-in browser tricked into posting from another site carries the session cookie but not
    the token."""
    access = ROUTES[name]
    url = access.path.format(**world)
    role = "anonymous" if name in ("login", "password-set") else "coordinator"
    client = _client(role, world["users"][role], url, enforce_csrf_checks=True)
    response = _call(client, "post", url, access.body)
    assert response.status_code == FORBIDDEN and b"CSRF" in response.content, (
        name,
        response.status_code,
    )


@pytest.mark.parametrize("name", sorted(n for n, a in ROUTES.items() if a.delete is not None))
def test_every_delete_needs_the_csrf_token(world, name):
    url = ROUTES[name].path.format(**world)
    response = _client("partner", world["users"]["partner"], url, enforce_csrf_checks=True).delete(
        url
    )
    assert response.status_code == FORBIDDEN and b"CSRF" in response.content, (
        name,
        response.status_code,
    )


def test_csrf_refusal_is_about_the_token(world):
    """The same POST with the token passes the CSRF check (so the 403s above are the check, not
    the role)."""
    client = _client(
        "coordinator", world["users"]["coordinator"], "/taxa/", enforce_csrf_checks=True
    )
    client.get("/taxa/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/taxa/",
        {"name_en": "beaver", "name_fr": "castor", "kind": "animal", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == LOGIN


def test_api_image_counts_follow_visibility(world):
    """The partner's three frames; the expert sees the two with a task in their deer queue (the deer
    and the proposal's frame), not the fox."""
    seen = {
        role: api_client(user).get("/api/images/").json()["count"]
        for role, user in world["users"].items()
        if user is not None
    }
    assert seen == {"partner": 3, "other_partner": 0, "expert": 2, "coordinator": 3}


@pytest.mark.parametrize(
    ("role", "image", "expected"),
    [
        ("anonymous", "deer", DENIED_API),
        ("partner", "deer", 201),
        ("other_partner", "deer", HIDDEN),
        ("expert", "deer", 201),
        ("expert", "fox", HIDDEN),
        ("coordinator", "fox", 201),
    ],
)
def test_api_labelling(world, role, image, expected):
    response = api_client(world["users"][role]).post(
        f"/api/images/{world[image]}/annotations/", {"taxon": "red deer"}, format="json"
    )
    assert _matches(response.status_code, expected)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("anonymous", LOGIN),
        ("partner", LOGIN),
        ("other_partner", HIDDEN),
        ("expert", LOGIN),
        ("coordinator", LOGIN),
    ],
)
def test_page_labelling(world, role, expected):
    """A saved label redirects back to the image (302); anonymous is redirected to log in
    (also 302)."""
    response = page_client(world["users"][role]).post(
        f"/images/{world['deer']}/", {"taxon": taxon("red-deer").pk, "expected_current": ""}
    )
    assert response.status_code == expected
    if role == "anonymous":
        assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("anonymous", DENIED_API),
        ("partner", 201),
        ("other_partner", FORBIDDEN),
        ("expert", FORBIDDEN),
        ("coordinator", 201),
    ],
)
def test_api_upload_into_the_partner_organisation(world, org, role, expected):
    file = factories.upload("new.jpg", factories.jpeg_bytes(seed=50 + ROLES.index(role)))
    response = api_client(world["users"][role]).post(
        "/api/images/", {"files": [file], "organisation": org.pk}, format="multipart"
    )
    assert _matches(response.status_code, expected)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("anonymous", DENIED_API),
        ("partner", FORBIDDEN),
        ("expert", FORBIDDEN),
        ("coordinator", 201),
    ],
)
def test_api_taxon_creation(world, role, expected):
    response = api_client(world["users"][role]).post(
        "/api/taxa/", {"name_en": f"beaver {role}"}, format="json"
    )
    assert _matches(response.status_code, expected)


@pytest.mark.parametrize(("role", "expected"), [("partner", FORBIDDEN), ("coordinator", LOGIN)])
def test_taxon_page_form(world, role, expected):
    response = page_client(world["users"][role]).post(
        "/taxa/", {"name_en": "beaver", "name_fr": "castor", "kind": "animal"}
    )
    assert response.status_code == expected


def test_expert_membership_role_is_required_for_pool_wide_view(world, other_org):
    plain = factories.member("pat", other_org, Role.PARTNER, taxa=[taxon("red-deer")])
    assert api_client(plain).get(f"/api/images/{world['deer']}/").status_code == HIDDEN


@pytest.mark.parametrize(
    ("method", "path", "model", "key", "expected"),
    [
        (
            "delete",
            "/api/imports/{waiting_import}/mapping/",
            UploadBatch,
            "waiting_import",
            NO_CONTENT,
        ),
        ("post", "/import/{waiting_import}/cancel/", UploadBatch, "waiting_import", LOGIN),
        ("post", "/exports/{export}/delete", ExportJob, "export", LOGIN),
    ],
)
def test_coordinator_removes_a_partners_import_or_export(world, method, path, model, key, expected):
    """In the matrix the partner removes these before the coordinator's turn; here the coordinator
    alone does."""
    url = path.format(**world)
    response = _call(_client("coordinator", world["users"]["coordinator"], url), method, url, {})
    assert response.status_code == expected and not model.objects.filter(pk=world[key]).exists()
