"""The inference API and pages refuse junk numbers with a 4xx and a message, never a 500."""

import pytest
from django.test import Client

from annotation.models import Image
from inference.models import SelectionBatch
from tests.conftest import client_for
from tests.factories import jpeg_bytes, upload

pytestmark = pytest.mark.django_db
HUGE = 10**23


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seed": 1e30}, "seed"),
        ({"seed": "--5"}, "seed"),
        ({"seed": 10**30}, "seed"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**31}, "seed"),
        ({"organisation": HUGE}, "organisation"),
        ({"deployment": 0}, "deployment"),
        ({"taxon": "²"}, "taxon"),
        ({"size": 10**9}, "size"),
    ],
)
def test_selection_requests_with_junk_numbers_are_a_400(coordinator, body, field):
    response = client_for(coordinator).post("/api/selection/batches/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not SelectionBatch.objects.exists()


def test_the_selection_page_says_there_is_no_production_model(coordinator):
    client = Client()
    client.force_login(coordinator)
    response = client.post(
        "/selection/", {"strategy": "hybrid", "size": "5", "seed": "0"}, follow=True
    )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "No production model: selection works on its predictions and embeddings."
    ]
    assert not SelectionBatch.objects.exists()


def test_the_selection_page_refuses_a_huge_seed_with_a_message(coordinator):
    client = Client()
    client.force_login(coordinator)
    response = client.post("/selection/", {"seed": str(10**30)}, follow=True)
    assert response.status_code == 200 and "seed" in str(list(response.context["messages"])[0])


@pytest.mark.parametrize(
    "body",
    [
        {"images": [1e30]},
        {"images": [10**30]},
        {"images": ["²"]},
        {"images": [0]},
        {"images": [1], "taxon": "²"},
        {"images": [1], "taxon": []},
    ],
)
def test_bulk_accept_refuses_ids_that_cannot_name_an_image(api, body):
    assert api.post("/api/prelabels/accept/", body, format="json").status_code == 400


@pytest.mark.parametrize("query", ["k=²", "k=0", "k=1000", "taxa=²", "taxa=1,x", f"taxa={HUGE}"])
def test_similar_images_query_junk_is_a_400(api, query):
    api.post("/api/images/", {"files": [upload("a.jpg", jpeg_bytes())]}, format="multipart")
    image = Image.objects.get()
    assert api.get(f"/api/images/{image.pk}/similar/?{query}").status_code == 400
