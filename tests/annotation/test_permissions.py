"""Every page and API endpoint, as each role and as anonymous: who may see and change what.

Partners: their organisation only. Experts: also the whole pool within their taxa. Coordinators: everything
and the admin. Anonymous: the home page only. Invisible objects answer 404, so their existence does not leak."""
import pytest
from django.test import Client
from rest_framework.test import APIClient

from annotation.models import Role
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from tests import factories
from tests.factories import taxon, write_jpeg

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "partner", "other_partner", "expert", "coordinator"]
DENIED_API = {401, 403}


@pytest.fixture
def world(org, partner, other_partner, expert, coordinator, tmp_path):
    batch = batch_open(organisation=org, uploader=partner)
    deer, fox = (image_ingest(path=write_jpeg(tmp_path / f"{n}.jpg", seed=n), name=f"{n}.jpg", batch=batch,
                              deployment=None).image for n in (1, 2))
    annotation_add(image=deer, taxon=taxon("red-deer"), author=partner)
    annotation_add(image=fox, taxon=taxon("fox"), author=partner)
    users = {"anonymous": None, "partner": partner, "other_partner": other_partner, "expert": expert,
             "coordinator": coordinator}
    return {"users": users, "deer": deer.pk, "fox": fox.pk, "batch": batch.pk}


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


OK, LOGIN, HIDDEN, FORBIDDEN = 200, 302, 404, 403
PAGES = [
    # path template, expected status per role (anonymous, partner, other partner, expert, coordinator)
    ("/", (OK, OK, OK, OK, OK)),
    ("/images/", (LOGIN, OK, OK, OK, OK)),
    ("/images/{deer}/", (LOGIN, OK, HIDDEN, OK, OK)),
    ("/images/{fox}/", (LOGIN, OK, HIDDEN, HIDDEN, OK)),
    ("/images/{deer}/file", (LOGIN, OK, HIDDEN, OK, OK)),
    ("/images/{fox}/thumbnail", (LOGIN, OK, HIDDEN, HIDDEN, OK)),
    ("/upload/", (LOGIN, OK, OK, OK, OK)),
    ("/import/", (LOGIN, OK, OK, OK, OK)),
    ("/batches/", (LOGIN, OK, OK, OK, OK)),
    ("/batches/{batch}/", (LOGIN, OK, HIDDEN, HIDDEN, OK)),
    ("/taxa/", (LOGIN, OK, OK, OK, OK)),
    ("/admin/", (LOGIN, LOGIN, LOGIN, LOGIN, OK)),
    ("/review/", (LOGIN, FORBIDDEN, FORBIDDEN, OK, OK)),
    ("/review/conflicts/", (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)),
    ("/selection/", (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)),
]
API_READS = [
    ("/api/taxa/", (DENIED_API, OK, OK, OK, OK)),
    ("/api/deployments/", (DENIED_API, OK, OK, OK, OK)),
    ("/api/images/", (DENIED_API, OK, OK, OK, OK)),
    ("/api/images/{deer}/", (DENIED_API, OK, HIDDEN, OK, OK)),
    ("/api/images/{fox}/", (DENIED_API, OK, HIDDEN, HIDDEN, OK)),
    ("/api/images/{deer}/annotations/", (DENIED_API, OK, HIDDEN, OK, OK)),
    ("/api/batches/{batch}/", (DENIED_API, OK, HIDDEN, HIDDEN, OK)),
    ("/api/batches/{batch}/files/", (DENIED_API, OK, HIDDEN, HIDDEN, OK)),
    ("/api/review/queues/", (DENIED_API, FORBIDDEN, FORBIDDEN, OK, OK)),
    ("/api/review/conflicts/", (DENIED_API, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)),
    ("/api/review/agreement/", (DENIED_API, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)),
    ("/api/selection/batches/", (DENIED_API, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)),
]


def _matches(status: int, expected) -> bool:
    return status in expected if isinstance(expected, set) else status == expected


@pytest.mark.parametrize(("path", "expected"), PAGES + API_READS, ids=[p for p, _ in PAGES + API_READS])
def test_reads(world, path, expected):
    url = path.format(**world)
    for role, want in zip(ROLES, expected, strict=True):
        client = api_client(world["users"][role]) if url.startswith("/api/") else page_client(world["users"][role])
        status = client.get(url).status_code
        assert _matches(status, want), f"{role} GET {url}: {status}, expected {want}"


def test_api_image_counts_follow_visibility(world):
    seen = {role: api_client(user).get("/api/images/").json()["count"]
            for role, user in world["users"].items() if user is not None}
    assert seen == {"partner": 2, "other_partner": 0, "expert": 1, "coordinator": 2}


@pytest.mark.parametrize(("role", "image", "expected"), [
    ("anonymous", "deer", DENIED_API), ("partner", "deer", 201), ("other_partner", "deer", HIDDEN),
    ("expert", "deer", 201), ("expert", "fox", HIDDEN), ("coordinator", "fox", 201),
])
def test_api_labelling(world, role, image, expected):
    response = api_client(world["users"][role]).post(f"/api/images/{world[image]}/annotations/",
                                                      {"taxon": "red deer"}, format="json")
    assert _matches(response.status_code, expected)


@pytest.mark.parametrize(("role", "expected"), [
    ("anonymous", LOGIN), ("partner", LOGIN), ("other_partner", HIDDEN), ("expert", LOGIN), ("coordinator", LOGIN),
])
def test_page_labelling(world, role, expected):
    """A saved label redirects back to the image (302); anonymous is redirected to log in (also 302)."""
    response = page_client(world["users"][role]).post(f"/images/{world['deer']}/",
                                                      {"taxon": taxon("red-deer").pk, "expected_current": ""})
    assert response.status_code == expected
    if role == "anonymous":
        assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(("role", "expected"), [
    ("anonymous", DENIED_API), ("partner", 201), ("other_partner", FORBIDDEN), ("expert", FORBIDDEN),
    ("coordinator", 201),
])
def test_api_upload_into_the_partner_organisation(world, org, role, expected):
    file = factories.upload("new.jpg", factories.jpeg_bytes(seed=50 + ROLES.index(role)))
    response = api_client(world["users"][role]).post("/api/images/", {"files": [file], "organisation": org.pk},
                                                     format="multipart")
    assert _matches(response.status_code, expected)


@pytest.mark.parametrize(("role", "expected"), [
    ("anonymous", DENIED_API), ("partner", FORBIDDEN), ("expert", FORBIDDEN), ("coordinator", 201),
])
def test_api_taxon_creation(world, role, expected):
    response = api_client(world["users"][role]).post("/api/taxa/", {"name_en": f"beaver {role}"}, format="json")
    assert _matches(response.status_code, expected)


@pytest.mark.parametrize(("role", "expected"), [("partner", FORBIDDEN), ("coordinator", LOGIN)])
def test_taxon_page_form(world, role, expected):
    response = page_client(world["users"][role]).post("/taxa/", {"name_en": "beaver", "name_fr": "castor",
                                                                 "kind": "animal"})
    assert response.status_code == expected


def test_expert_membership_role_is_required_for_pool_wide_view(world, other_org):
    plain = factories.member("pat", other_org, Role.PARTNER, taxa=[taxon("red-deer")])
    assert api_client(plain).get(f"/api/images/{world['deer']}/").status_code == HIDDEN
