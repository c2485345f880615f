"""Possibly new taxa. The engine on generated embeddings (labelled taxa as Gaussian blobs on the
sphere, one taxon held back from the labels entirely): the held-back taxon comes out as one cluster,
with few false members, over several seeds, dimensions and spreads. Then the job on the database,
labelling a cluster, and the refusals."""

from dataclasses import dataclass

import numpy as np
import pytest
from django.utils import timezone

from annotation.models import Annotation, Image, ReviewTask, Sequence, Taxon, UploadBatch
from annotation.services.annotations import annotation_add, current_labels_refresh
from inference.engine import novelty as engine
from inference.engine.similarity import normalise
from inference.engine.specs import EFFICIENTNET_LITE0
from inference.engine.stored import to_f16_bytes
from inference.models import Embedding, ModelVersion, NoveltyScan, Prediction
from inference.services.novelty import (
    NewTaxon,
    NoveltyScanBusy,
    NoveltyScanError,
    novelty_cluster_label,
    novelty_scan_request,
)
from tests.conftest import client_for
from tests.factories import taxon

NOISE, STRAY = (
    -1,
    -2,
)  # truth of images of no taxon, and of held-back images planted far from its centre


@dataclass
class Generated:
    labelled: engine.Images
    candidates: engine.Images
    truth: np.ndarray  # per candidate: its taxon's position, NOISE or STRAY
    held: int  # the held-back taxon's position


def generate(
    seed: int,
    *,
    dim: int = 64,
    known: int = 8,
    labelled_sequences: int = 40,
    unlabelled_sequences: int = 60,
    held_sequences: int = 40,
    frames: int = 3,
    noise: int = 40,
    strays: int = 0,
    scale: float = 1.0,
    sister: float | None = None,
) -> Generated:
    """Taxa as blobs around random centres (spread drawn per taxon), frames of a sequence as
    near-copies, the model's top probability a softmax over the labelled taxa's centres (a head
    trained on the labels), and noise (glare, blur) scattered anywhere. The last taxon is never
    labelled; `sister` puts its centre at that cosine from the first taxon's (a congener). `strays`:
    held-back sequences drawn twice as loose."""
    rng = np.random.default_rng(seed)
    centres = normalise(rng.normal(size=(known + 1, dim)))
    if sister is not None:
        away = normalise((centres[known] - (centres[known] @ centres[0]) * centres[0])[None])[0]
        centres[known] = sister * centres[0] + np.sqrt(1 - sister**2) * away
    spreads = scale * rng.uniform(0.8, 1.2, size=known + 1)

    def draw(position: int, sequences: int, loose: float = 1.0) -> np.ndarray:
        spread = loose * spreads[position] / np.sqrt(dim)
        animals = centres[position] + spread * rng.normal(size=(sequences, dim))
        shake = 0.05 / np.sqrt(dim) * rng.normal(size=(sequences * frames, dim))
        return normalise(np.repeat(animals, frames, axis=0) + shake)

    labelled = np.concatenate([draw(t, labelled_sequences) for t in range(known)])
    parts = [draw(t, unlabelled_sequences) for t in range(known)] + [draw(known, held_sequences)]
    parts += [draw(known, strays, loose=2.0), normalise(rng.normal(size=(noise * frames, dim)))]
    truth = np.concatenate(
        [
            np.repeat(np.arange(known), unlabelled_sequences * frames),
            np.full(held_sequences * frames, known),
            np.full(strays * frames, STRAY),
            np.full(noise * frames, NOISE),
        ]
    )
    candidates = np.concatenate(parts)
    labels = np.repeat(np.arange(known), labelled_sequences * frames)
    means = normalise(np.stack([labelled[labels == t].sum(axis=0) for t in range(known)]))

    def confidence(vectors: np.ndarray) -> np.ndarray:
        logits = 12 * vectors @ means.T
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (probabilities / probabilities.sum(axis=1, keepdims=True)).max(axis=1)

    return Generated(
        labelled=engine.Images(
            np.arange(len(labelled)),
            labelled,
            confidence(labelled),
            np.arange(len(labelled)) // frames,
            labels,
        ),
        candidates=engine.Images(
            10**6 + np.arange(len(candidates)),
            candidates,
            confidence(candidates),
            10**6 + np.arange(len(candidates)) // frames,
        ),
        truth=truth,
        held=known,
    )


def held_back_found(data: Generated, scan: engine.Scan) -> tuple[float, float]:
    """(share of the held-back images among the non-outlier members of the cluster that holds most
    of them, share of that cluster's non-outlier members that are not of the held-back taxon)."""
    held = set(data.candidates.ids[data.truth == data.held].tolist())
    best = max(scan.clusters, key=lambda cluster: len(held.intersection(cluster.ids.tolist())))
    kept = set(best.ids[~best.outliers].tolist())
    return len(held & kept) / len(held), len(kept - held) / len(kept)


@pytest.mark.parametrize("seed", range(6))
def test_a_taxon_held_back_from_the_labels_comes_out_as_one_cluster(seed):
    data = generate(seed)
    scan = engine.novelty_scan(data.candidates, data.labelled, seed=seed)
    found, false = held_back_found(data, scan)
    assert found >= 0.9 and false <= 0.02, (found, false, [len(c.ids) for c in scan.clusters])
    assert (
        len(scan.clusters[0].ids) >= 0.9 * (data.truth == data.held).sum()
    )  # the largest cluster is it


@pytest.mark.parametrize("seed", range(4))
def test_a_congener_of_a_labelled_taxon_is_found_too(seed):
    """Its centre at cosine 0.5 from a labelled taxon's: many of its images are not far from that
    taxon's labelled images, yet they join the cluster of their own kind."""
    data = generate(seed, sister=0.5)
    found, false = held_back_found(
        data, engine.novelty_scan(data.candidates, data.labelled, seed=seed)
    )
    assert found >= 0.85 and false <= 0.02, (found, false)


@pytest.mark.parametrize(("dim", "scale"), [(32, 0.7), (128, 1.3), (384, 1.0)])
def test_no_threshold_is_tuned_to_one_data_set(dim, scale):
    """Tighter or looser taxa, fewer or more dimensions: the thresholds move with the data, the
    finding holds."""
    data = generate(3, dim=dim, scale=scale)
    scan = engine.novelty_scan(data.candidates, data.labelled, seed=3)
    found, false = held_back_found(data, scan)
    assert found >= 0.9 and false <= 0.02, (dim, scale, found, false, scan.thresholds)


def test_thresholds_are_read_off_the_labelled_images():
    tight, loose = generate(1, scale=0.6), generate(1, scale=1.4)
    tight_rules = engine.thresholds_from(tight.labelled, tight.candidates)
    loose_rules = engine.thresholds_from(loose.labelled, loose.candidates)
    assert tight_rules.far_similarity > loose_rules.far_similarity + 0.1
    assert tight_rules.linkage > loose_rules.linkage
    assert (
        len(tight_rules.far_by_taxon) == 8
    )  # 40 labelled sequences each: every taxon has its own yardstick
    assert tight_rules.confidence == pytest.approx(float(np.median(tight.labelled.confidence)))


@pytest.mark.parametrize("seed", range(4))
def test_nothing_held_back_makes_no_large_cluster(seed):
    data = generate(seed, held_sequences=0)
    scan = engine.novelty_scan(data.candidates, data.labelled, seed=seed)
    assert all(len(cluster.ids) < 10 for cluster in scan.clusters), [
        len(c.ids) for c in scan.clusters
    ]


def test_strays_of_a_cluster_are_its_outliers():
    data = generate(0, strays=4)
    scan = engine.novelty_scan(data.candidates, data.labelled, seed=0)
    cluster = scan.clusters[0]
    truth = dict(zip(data.candidates.ids.tolist(), data.truth.tolist(), strict=True))
    strays = [pk for pk in cluster.ids.tolist() if truth[pk] == STRAY]
    flagged = {pk for pk in cluster.ids[cluster.outliers].tolist()}
    assert strays and set(strays) <= flagged and len(flagged) <= len(strays) + 3
    assert list(cluster.typicality) == sorted(
        cluster.typicality, reverse=True
    )  # most typical first
    assert cluster.outliers[-len(flagged) :].all()  # outliers are the least typical


def test_bounded_work_samples_candidates_and_clusters_through_k_means(monkeypatch):
    monkeypatch.setattr(engine, "CANDIDATE_CAP", 1500)
    monkeypatch.setattr(
        engine, "MICRO_CLUSTERS", 48
    )  # fewer groups than possibly-new images: k-means first
    data = generate(2)
    scan = engine.novelty_scan(data.candidates, data.labelled, seed=2)
    assert scan.scanned == 1500 < len(data.candidates)
    held = set(data.candidates.ids[data.truth == data.held].tolist())
    kept = set(scan.clusters[0].ids[~scan.clusters[0].outliers].tolist())
    sampled_held = (
        1500 / len(data.candidates) * len(held)
    )  # about this many held-back images were looked at
    assert len(kept - held) <= 0.02 * len(kept) and len(kept & held) >= 0.7 * sampled_held


def test_no_candidate_no_cluster():
    data = generate(0)
    nothing = engine.Images(np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.float32))
    scan = engine.novelty_scan(nothing, data.labelled)
    assert (scan.scanned, scan.possibly_new, scan.clusters) == (0, 0, [])


def test_too_few_labelled_images_say_so():
    data = generate(0, labelled_sequences=2)
    with pytest.raises(engine.NoveltyError, match="labelled sequences"):
        engine.novelty_scan(data.candidates, data.labelled)


# ---- the job, labelling and refusals on the database ---------------------------------------------

KNOWN = ("fox", "badger", "red-deer", "wild-boar", "chamois")


def _images(org, batch, frames: np.ndarray, sequences: np.ndarray) -> list[Image]:
    """Image rows for generated frames (no files: the scan reads only stored embeddings
    and predictions)."""
    sequence_of = {
        s: Sequence.objects.create(organisation=org, batch=batch)
        for s in np.unique(sequences).tolist()
    }
    images = Image.objects.bulk_create(
        [
            Image(
                organisation=org,
                batch=batch,
                sequence=sequence_of[int(s)],
                file=f"gen/{i}.jpg",
                original_name=f"{i}.jpg",
                sha256=f"{i:064x}",
                bytes=1,
                width=64,
                height=48,
            )
            for i, s in enumerate(sequences.tolist(), start=Image.objects.count())
        ]
    )
    return list(Image.objects.filter(sha256__in=[image.sha256 for image in images]).order_by("pk"))


def store_pool(org, data: Generated, version: ModelVersion, author) -> dict[int, Image]:
    """The generated pool in the database: images, embeddings, the version's predictions, and the
    labelled images' labels (one label event each, current labels refreshed as the annotation
    services do)."""
    batch = UploadBatch.objects.create(organisation=org)
    taxa = [taxon(slug) for slug in KNOWN]
    labelled = _images(org, batch, data.labelled.embeddings, data.labelled.sequences)
    unlabelled = _images(org, batch, data.candidates.embeddings, data.candidates.sequences)
    labels = zip(labelled, data.labelled.labels.tolist(), strict=True)
    Annotation.objects.bulk_create(
        [
            Annotation(
                image=image, taxon=taxa[t], author=author, role="coordinator", source="expert"
            )
            for image, t in labels
        ]
    )
    current_labels_refresh(images=Image.objects.filter(pk__in=[image.pk for image in labelled]))
    rows = [
        *zip(labelled, data.labelled.embeddings, data.labelled.confidence, strict=True),
        *zip(unlabelled, data.candidates.embeddings, data.candidates.confidence, strict=True),
    ]
    Embedding.objects.bulk_create(
        [
            Embedding(image=image, backbone_key=version.backbone_key, vector=to_f16_bytes(vector))
            for image, vector, _ in rows
        ]
    )
    Prediction.objects.bulk_create(
        [
            Prediction(
                image=image, version=version, category="animal", taxon=taxa[0], score=float(score)
            )
            for image, _, score in rows
        ]
    )
    return dict(zip(data.candidates.ids.tolist(), unlabelled, strict=True))


@pytest.fixture
def version(db):
    version = ModelVersion.objects.create(
        name="head",
        version="1",
        backbone=EFFICIENTNET_LITE0.to_dict(),
        head_kind="trained_head",
        status="production",
    )
    for index, slug in enumerate(KNOWN):
        version.classes.create(index=index, taxon=taxon(slug))
    return version


@pytest.fixture
def pool(org, version, coordinator):
    data = generate(
        4,
        known=5,
        labelled_sequences=30,
        unlabelled_sequences=30,
        held_sequences=20,
        frames=2,
        noise=20,
        strays=3,
    )
    return data, store_pool(org, data, version, coordinator)


@pytest.fixture
def scanned(pool, coordinator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(
        execute=True
    ):  # the test cluster runs the queued job inline
        scan = novelty_scan_request(user=coordinator)
    scan.refresh_from_db()
    assert scan.status == "done", scan.error
    return scan


def test_the_scan_job_stores_the_held_back_taxon_as_the_first_cluster(pool, scanned):
    data, images = pool
    held = {images[i].pk for i in data.candidates.ids[data.truth == data.held].tolist()}
    first = scanned.clusters[0]
    kept = set(first["members"]) - set(first["outliers"])
    assert held <= set(first["members"]) and kept <= held | {
        images[i].pk for i in data.candidates.ids[data.truth == STRAY].tolist()
    }
    assert first["outliers"] and first["outcome"] is None
    unsure = data.candidates.confidence < np.median(data.labelled.confidence)  # the only ones read
    assert scanned.scanned == unsure.sum() < len(unsure) and scanned.labelled == len(
        data.labelled.ids
    )
    assert 0 < scanned.thresholds["far_similarity"] < 1 and scanned.stage == ""


def test_labelling_a_cluster_with_a_new_taxon(pool, scanned, coordinator, partner):
    first = scanned.clusters[0]
    kept = [pk for pk in first["members"] if pk not in first["outliers"]]
    meanwhile = Image.objects.get(pk=kept[-1])
    annotation_add(
        image=meanwhile, taxon=taxon("fox"), author=coordinator
    )  # labelled since the scan
    result = novelty_cluster_label(
        user=coordinator,
        scan=scanned,
        number=1,
        new_taxon=NewTaxon(
            name_en="golden jackal",
            name_fr="chacal doré",
            scientific_name="Canis aureus",
            parent=None,
        ),
    )
    jackal = Taxon.objects.get(name_en="golden jackal")
    assert result.taxon == jackal and jackal.scientific_name == "Canis aureus"
    assert jackal.name_fr == "chacal doré" and jackal.created_by == coordinator
    assert sorted(result.labelled) == sorted(kept[:-1]) and list(result.conflicts) == [meanwhile.pk]
    assert set(Image.objects.filter(pk__in=kept[:-1]).values_list("current_taxon", flat=True)) == {
        jackal.pk
    }
    assert Image.objects.get(pk=meanwhile.pk).current_taxon == taxon("fox")  # left alone
    tasks = ReviewTask.objects.filter(origin=f"novelty:{scanned.pk}:1")
    sequences = set(
        Image.objects.filter(pk__in=result.review).values_list("sequence_id", flat=True)
    )
    assert (
        set(tasks.values_list("sequence_id", flat=True)) == sequences and result.review
    )  # one per sequence
    # a new taxon has no expert yet: its outliers wait in triage, where experts look, saying why
    assert {t.queue_taxon for t in tasks} == {None}
    assert all(
        t.reason.startswith("outlier of a possibly-new cluster labelled golden jackal")
        and "no expert for golden jackal" in t.reason
        for t in tasks
    )
    assert set(result.review) <= set(first["outliers"]) <= set(result.review) | set(result.skipped)
    outcome = NoveltyScan.objects.get(pk=scanned.pk).clusters[0]["outcome"]
    assert outcome["labelled"] == len(kept) - 1 and outcome["by"] == "cora" and outcome["new_taxon"]
    with pytest.raises(NoveltyScanBusy, match="already labelled golden jackal"):
        novelty_cluster_label(user=coordinator, scan=scanned, number=1, taxon=taxon("fox"))


def test_outliers_of_a_cluster_named_as_a_reviewed_taxon_wait_in_its_queue(
    scanned, coordinator, expert
):
    result = novelty_cluster_label(
        user=coordinator, scan=scanned, number=1, taxon=taxon("red-deer")
    )
    tasks = ReviewTask.objects.filter(origin=f"novelty:{scanned.pk}:1")
    assert result.review and {t.queue_taxon for t in tasks} == {taxon("red-deer")}


def test_a_pool_past_the_cap_is_sampled_in_the_database(
    pool, coordinator, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(engine, "CANDIDATE_CAP", 100)
    with django_capture_on_commit_callbacks(execute=True):
        scan = novelty_scan_request(user=coordinator, seed=1)
    scan.refresh_from_db()
    assert (scan.status, scan.sampled) == ("done", True) and 50 < scan.scanned <= 100


def test_a_refused_labelling_leaves_no_new_taxon(scanned, coordinator):
    with pytest.raises(NoveltyScanError, match="no cluster 99"):
        novelty_cluster_label(
            user=coordinator, scan=scanned, number=99, new_taxon=NewTaxon(name_en="mongoose")
        )
    assert not Taxon.objects.filter(name_en="mongoose").exists()


def test_refusals_say_why(db, coordinator, partner, django_capture_on_commit_callbacks):
    with pytest.raises(NoveltyScanError, match="No production model"):
        novelty_scan_request(user=coordinator)
    api = client_for(coordinator)
    assert "No production model" in api.get("/api/novelty/clusters/").json()["detail"]
    assert client_for(partner).get("/api/novelty/clusters/").status_code == 403
    assert client_for(partner).post("/api/novelty/scans/", {}, format="json").status_code == 403


def test_one_scan_at_a_time_and_a_stale_one_is_replaced(version, coordinator, settings):
    first = novelty_scan_request(user=coordinator)  # queued, not run: no on-commit callbacks here
    with pytest.raises(NoveltyScanBusy, match=f"Scan {first.pk} is still queued"):
        novelty_scan_request(user=coordinator)
    long_ago = timezone.now() - timezone.timedelta(seconds=settings.FAUNE["JOB_STALE_S"] + 1)
    NoveltyScan.objects.filter(pk=first.pk).update(created_at=long_ago, heartbeat_at=long_ago)
    second = novelty_scan_request(user=coordinator)
    assert NoveltyScan.objects.get(pk=first.pk).status == "failed" and second.pk != first.pk


def test_a_scan_without_enough_labels_fails_with_the_reason(
    version, coordinator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scan = novelty_scan_request(user=coordinator)
    scan.refresh_from_db()
    assert scan.status == "failed" and "labelled sequences" in scan.error


def test_the_api(scanned, coordinator, django_capture_on_commit_callbacks):
    api = client_for(coordinator)
    listed = api.get("/api/novelty/clusters/").json()
    assert listed["scan"]["id"] == scanned.pk and listed["clusters"][0]["number"] == 1
    assert listed["clusters"][0]["typical"][0]["thumbnail_url"].endswith("/thumbnail")
    members = api.get(f"/api/novelty/scans/{scanned.pk}/clusters/1/").json()["members"]
    assert [m["image"] for m in members] == scanned.clusters[0]["members"]
    assert api.get(f"/api/novelty/scans/{scanned.pk}/clusters/99/").status_code == 404
    url = f"/api/novelty/scans/{scanned.pk}/clusters/1/label/"
    assert api.post(url, {}, format="json").status_code == 400  # neither a taxon nor a name
    both = api.post(url, {"taxon": "fox", "name_en": "mongoose"}, format="json")
    assert both.status_code == 400 and "not both" in str(both.json())
    assert "Unknown taxon" in str(api.post(url, {"taxon": "unicorn"}, format="json").json())
    assert api.post(url, {"name_en": "x" * 121}, format="json").status_code == 400
    clash = api.post(url, {"name_en": "Fox"}, format="json")
    assert clash.status_code == 400 and "already exists" in clash.json()["detail"]
    done = api.post(url, {"taxon": "genet"}, format="json")
    assert (
        done.status_code == 201
        and done.json()["taxon"]["slug"] == "genet"
        and done.json()["review"]
    )
    assert api.post(url, {"taxon": "genet"}, format="json").status_code == 409
    assert api.post("/api/novelty/scans/", {"seed": -1}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post("/api/novelty/scans/", {"seed": 3}, format="json")
    assert started.status_code == 202 and api.get("/api/novelty/scans/").json()["status"] == "done"


def test_the_pages(client, scanned, coordinator, partner):
    client.force_login(partner)
    assert client.get("/novelty/").status_code == 403
    client.force_login(coordinator)
    page = client.get("/novelty/").content.decode()
    first = scanned.clusters[0]
    assert "Cluster 1" in page and f"/images/{first['members'][0]}/thumbnail" in page
    assert f'href="/novelty/{scanned.pk}/clusters/1/"' in page and "Possibly new taxa" in page
    cluster = client.get(f"/novelty/{scanned.pk}/clusters/1/").content.decode()
    assert all(f"/images/{pk}/thumbnail" in cluster for pk in first["members"])
    assert client.get(f"/novelty/{scanned.pk}/clusters/0/").status_code == 404
    url = f"/novelty/{scanned.pk}/clusters/1/"
    assert "Unknown taxon" in client.post(url, {"taxon": "unicorn"}, follow=True).content.decode()
    labelled = client.post(
        url, {"name_en": "mongoose", "name_fr": "mangouste"}, follow=True
    ).content.decode()
    assert "Labelled" in labelled and "mongoose" in labelled and "sent to review" in labelled
