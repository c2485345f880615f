"""What each role's home page shows: the work waiting for them, each figure counted as the page it
links to counts it, so a click lands on that many items. Gathered here because it reads every app
(annotation may not import inference or training); everything goes through the apps' selectors, so a
figure never shows what its reader may not see."""

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef, Q

from annotation.models import MediaKind, Membership, Organisation, Role, UploadBatch
from annotation.permissions import Access, user_access
from annotation.selectors import (
    batches_visible_to,
    deployments_visible_to,
    images_visible_to,
    review_conflicts,
)
from annotation.services.review import review_queue_counts
from inference.models import ModelVersion, Prediction, VersionStatus
from inference.selectors import production_version, with_prediction
from training.models import TrainingRound

UNSURE_AT_MOST = (
    0.5  # pre-labels scored this or less are the likeliest to need a correction: pointed out first
)
RECENT_UPLOADS = 5


def home_figures(user: User) -> dict:
    access = user_access(user)
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("organisation")
        .prefetch_related("review_taxa")
    )
    figures = {
        "access": access,
        "memberships": list(memberships),
        "images": image_figures(user),
        "prelabels": prelabel_figures(user),
        "uploads": recent_uploads(user, access),
        "deployments": deployment_figures(user),
    }
    if access.expert or access.coordinator:
        figures["queues"] = queue_rows(user, access)
    if access.coordinator:
        figures |= {
            "conflicts": review_conflicts().count(),
            "rounds": round_figures(),
            "model": model_figures(production_version()),
            "people": people_figures(),
            "candidates": ModelVersion.objects.filter(status=VersionStatus.CANDIDATE).count(),
        }
    return figures


def image_figures(user: User) -> dict:
    """As the image list counts them, all and not labelled yet."""
    images = images_visible_to(user)
    return {
        "total": images.count(),
        "unlabelled": images.filter(current_taxon__isnull=True).count(),
    }


def prelabel_figures(user: User) -> dict:
    """Pre-labels of the production version nobody has accepted or corrected yet (as the pre-labels
    page lists them with 'not labelled'), those the model was unsure of, and images still waiting
    for a pre-label."""
    version = production_version()
    if version is None:
        return {"version": None}
    images = images_visible_to(user)
    waiting = with_prediction(images, version).filter(
        predicted_score__isnull=False, current_taxon__isnull=True
    )
    predicted = Prediction.objects.filter(image=OuterRef("pk"), version=version)
    pending = images.filter(kind=MediaKind.IMAGE).exclude(
        Exists(predicted)
    )  # videos are classified later
    return {
        "version": version,
        "waiting": waiting.count(),
        "unsure_at_most": UNSURE_AT_MOST,
        "unsure": waiting.filter(predicted_score__lte=UNSURE_AT_MOST).count(),
        "pending": pending.count(),
    }


def recent_uploads(user: User, access: Access) -> list[UploadBatch]:
    """A coordinator's view is every upload; anyone else's, their own."""
    batches = batches_visible_to(user)
    if not access.coordinator:
        batches = batches.filter(uploader=user)
    return list(
        batches.select_related("deployment", "organisation").annotate(stored=Count("images"))[
            :RECENT_UPLOADS
        ]
    )


def deployment_figures(user: User) -> dict:
    deployments = deployments_visible_to(user)
    unplaced = deployments.filter(Q(latitude__isnull=True) | Q(longitude__isnull=True))
    return {"total": deployments.count(), "unplaced": unplaced.count()}


def _own_taxa(user: User) -> list[tuple[int, str, str]]:
    """The taxa an expert was given (not their descendants): their queues, shown even when empty."""
    rows = (
        Membership.objects.filter(user=user, role=Role.EXPERT, review_taxa__isnull=False)
        .values_list("review_taxa", "review_taxa__name_en", "review_taxa__name_fr")
        .distinct()
    )
    return sorted(rows, key=lambda row: row[1])


def queue_rows(user: User, access: Access) -> list[dict]:
    """Tasks the user can claim now, per queue; an expert's own queues first (with their empty
    ones), then second opinions and triage, then (for coordinators) everyone else's."""
    rows = review_queue_counts(
        taxon_ids=None if access.coordinator else set(access.expert_taxon_ids), user=user
    )
    for row in rows:
        row["own"] = row["queue"] in access.expert_taxon_ids
    listed = {row["queue"] for row in rows}
    empty = [
        {"queue": pk, "name": name, "name_fr": name_fr, "open": 0, "own": True}
        for pk, name, name_fr in _own_taxa(user)
        if pk not in listed
    ]
    own = sorted([row for row in rows if row["own"]] + empty, key=lambda row: -row["open"])
    return own + [row for row in rows if not row["own"]]


def round_figures() -> dict:
    """The round running now (one at a time) and the last one that ended."""
    ended = TrainingRound.objects.filter(active__isnull=True).select_related("candidate")
    return {"running": TrainingRound.objects.filter(active=True).first(), "last": ended.first()}


def model_figures(version: ModelVersion | None) -> dict | None:
    """The production version with its test figures, read from the round that trained it (none for a
    zero-shot or imported version: it was never tested on the pool)."""
    if version is None:
        return None
    trained_by = TrainingRound.objects.filter(candidate=version).first()
    test = trained_by.metrics.get("candidate", {}).get("test", {}) if trained_by else {}
    return {
        "version": version,
        "classes": version.classes.count(),
        "round": trained_by,
        "macro_f1": test.get("macro_f1"),
        "accuracy": test.get("accuracy"),
        "test_images": test.get("count"),
    }


def people_figures() -> dict:
    members = Membership.objects.filter(user__is_active=True)
    invited = members.filter(
        user__password__startswith=UNUSABLE_PASSWORD_PREFIX
    )  # no password chosen yet
    return {
        "organisations": Organisation.objects.count(),
        "people": members.values("user").distinct().count(),
        "invited": invited.values("user").distinct().count(),
    }
