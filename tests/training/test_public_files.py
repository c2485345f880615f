"""What a release shows the world (its files, its page and its model card) holds no server path, no
image id and no e-mail address: the pool's images belong to the organisations that uploaded them."""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from inference.services.registry import model_version_promote
from tests.conftest import client_for
from tests.training.test_rounds import labelled_pool, run_round
from training.models import Release
from training.services.releases import release_publish, releases_dir

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
SERVER_PATH = re.compile(
    r"(?<![\w.])/(?:tmp|work|home|root|var|usr|opt|srv)/|site-packages|[A-Z]:\\\\"
)


def _leaks(text: str, data_dir: str, image_ids: set[int]) -> list[str]:
    found = [f"e-mail {match}" for match in EMAIL.findall(text)]
    found += [
        f"server path near {text[max(0, m.start() - 30) : m.end() + 30]!r}"
        for m in SERVER_PATH.finditer(text)
    ]
    found += ["the data dir"] if data_dir in text else []
    found += [
        f"image ids under {key!r}"
        for key in ("image_ids", "label_ids", "image_id")
        if f'"{key}"' in text
    ]
    found += [
        f"image link {link}"
        for link in re.findall(r"/images/(\d+)", text)
        if int(link) in image_ids
    ]
    return found


def test_a_release_shows_no_server_path_image_id_or_email(settings, org, parent, coordinator):
    get_user_model().objects.filter(pk=coordinator.pk).update(email="coordinator@example.org")
    labelled_pool(org, parent, {"roe-deer": 18, "wild-boar": 18, "fox": 18})
    candidate = run_round().candidate
    model_version_promote(version=candidate, user=coordinator, confirm_lost_classes=True)
    release_publish(version=candidate, semver="1.0.0", user=coordinator)
    release = Release.objects.get()
    from annotation.models import Image

    image_ids, data_dir = set(Image.objects.values_list("pk", flat=True)), str(settings.DATA_DIR)
    leaks = {}
    for path in sorted((releases_dir() / "1.0.0").iterdir()):
        if path.suffix in (".json", ".md", ".txt", "") or path.name == "SHA256SUMS":
            leaks[path.name] = _leaks(path.read_text(errors="replace"), data_dir, image_ids)
    client = client_for(coordinator)
    client.force_login(coordinator)
    for url in (
        f"/releases/{release.semver}/",
        f"/releases/{release.semver}/files/MODEL_CARD.md",
        "/releases/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        leaks[url] = _leaks(body.decode(errors="replace"), data_dir, image_ids)
    assert not {name: found for name, found in leaks.items() if found}


def test_what_every_member_reads_of_models_and_rounds_holds_no_server_path(
    settings, org, parent, other_partner
):
    """The model registry and the rounds are open to every signed-in member: a partner of another
    organisation reads no file path of the server there."""
    labelled_pool(org, parent, {"roe-deer": 18, "wild-boar": 18, "fox": 18})
    done = run_round()
    assert done.snapshot.get("file") and done.candidate.artifacts  # what the server keeps
    client = client_for(other_partner)
    client.force_login(other_partner)
    leaks = {}
    for url in ("/api/models/", "/api/rounds/", f"/api/rounds/{done.pk}/", f"/rounds/{done.pk}/"):
        response = client.get(url)
        assert response.status_code == 200, url
        leaks[url] = _leaks(response.content.decode(), str(settings.DATA_DIR), set())
    assert not {url: found for url, found in leaks.items() if found}
    artifacts = client.get("/api/models/").json()[-1]["artifacts"]
    assert artifacts and all(set(record) <= {"sha256", "format"} for record in artifacts.values())


def test_a_job_stopped_by_our_bug_tells_its_kind_not_its_text(org):
    from annotation.models import UploadBatch
    from annotation.services.batches import batch_open
    from faune_platform.jobs import job_fail

    batch = batch_open(organisation=org, uploader=None)
    job_fail(batch, OSError("cannot open /srv/faune/media/org-2/secret.jpg"))
    error = UploadBatch.objects.get(pk=batch.pk).error
    assert "OSError" in error and "worker's log" in error and not _leaks(error, "/srv", set())
    job_fail(batch, "a message written for a person")  # a message is kept as it is
    assert UploadBatch.objects.get(pk=batch.pk).error == "a message written for a person"


@pytest.fixture
def parent(db):
    from inference.services.registry import default_version_ensure

    return default_version_ensure()


def test_the_leak_finder_finds_what_it_looks_for():
    text = 'see /tmp/faune/models/head.pt, "image_ids": [3], mail a.b@example.org, /images/7/'
    found = _leaks(text, "/nowhere", {7})
    assert (
        len(found) == 4
        and any("e-mail" in f for f in found)
        and any("image link 7" in f for f in found)
    )
    assert _leaks(str(Path("releases") / "1.0.0"), "/nowhere", set()) == []
