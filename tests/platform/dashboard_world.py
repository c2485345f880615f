"""A pool with a history, for the coordinators' dashboard: images labelled over several weeks from
every source, organisations of different sizes, waiting review tasks and conflicts, experts'
verdicts at known times, and model versions trained on growing label counts with one in production
and one released.

Rows are bulk-created (thousands of them, quickly) and their dates set afterwards, since
`auto_now_add` fields cannot be given at creation. The figures only read these rows, so writing them
directly tests the reads on what the services would have written."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.utils import timezone

from annotation.models import (
    Annotation,
    Image,
    LabelSource,
    ReviewState,
    ReviewTask,
    ReviewVerdict,
    Role,
    Sequence,
    Taxon,
    UploadBatch,
    VerdictKind,
)
from inference.models import HeadKind, ModelVersion, VersionStatus
from tests import factories
from training.models import Release, RoundStatus, TrainingRound

# (taxon slug, labelled images) of the pool; more taxa than a chart draws lines for, so some
# are summed.
TAXA = [
    ("red-deer", 40),
    ("roe-deer", 30),
    ("wild-boar", 24),
    ("fox", 18),
    ("badger", 12),
    ("chamois", 9),
    ("lagomorph", 0),
    ("lynx", 6),
    ("wolf", 5),
    ("marmot", 0),
    ("bird", 4),
    ("empty", 3),
]
SOURCES = [LabelSource.IMPORT, LabelSource.PARTNER, LabelSource.EXPERT, LabelSource.MODEL_ACCEPTED]
WEEKS = 8


@dataclass
class World:
    now: dt.datetime
    coordinator: User
    experts: dict[str, User]
    images: int
    labelled: int
    by_source: dict[str, int]
    by_taxon: dict[str, int]
    production: ModelVersion
    open_tasks: dict[str, int]  # queue name -> waiting
    verdicts: dict[str, list[dt.datetime]]  # expert -> when each verdict was given


def _batch(org, user) -> UploadBatch:
    return UploadBatch.objects.create(organisation=org, uploader=user, status="done")


def images_create(org, user, count: int, *, start: int = 0) -> list[Image]:
    """`count` images of one organisation, each in a sequence of its own (no files: the figures
    read rows)."""
    batch = _batch(org, user)
    sequences = Sequence.objects.bulk_create(
        [Sequence(organisation=org, batch=batch) for _ in range(count)]
    )
    return Image.objects.bulk_create(
        [
            Image(
                organisation=org,
                batch=batch,
                sequence=sequence,
                uploader=user,
                file=f"x/{start + i}.jpg",
                original_name=f"{start + i}.jpg",
                sha256=f"{org.pk:08x}{start + i:056x}",
                bytes=1,
                width=4,
                height=3,
            )
            for i, sequence in enumerate(sequences)
        ]
    )


def label(
    images: list[Image], taxon: Taxon, source: str, author: User | None, at: dt.datetime
) -> None:
    """Give `images` a label event at `at` and make it their current label, as the annotation
    services do."""
    role = Role.EXPERT if source == LabelSource.EXPERT else Role.PARTNER
    events = Annotation.objects.bulk_create(
        [
            Annotation(image=image, taxon=taxon, author=author, role=role, source=source)
            for image in images
        ]
    )
    Annotation.objects.filter(pk__in=[e.pk for e in events]).update(created_at=at)
    for image, event in zip(images, events, strict=True):
        image.current_label, image.current_taxon, image.current_source = event, taxon, source
    Image.objects.bulk_update(images, ["current_label", "current_taxon", "current_source"])


def _tasks(
    images: list[Image], queue: Taxon | None, state: str = ReviewState.OPEN
) -> list[ReviewTask]:
    return ReviewTask.objects.bulk_create(
        [
            ReviewTask(
                image=image,
                sequence_id=image.sequence_id,
                opened_for=image.sequence_id,
                queue_taxon=queue,
                reason="test",
                state=state,
            )
            for image in images
        ]
    )


def verdicts_give(expert: User, tasks: list[ReviewTask], times: list[dt.datetime]) -> None:
    made = ReviewVerdict.objects.bulk_create(
        [
            ReviewVerdict(task=task, expert=expert, kind=VerdictKind.LABEL, frames={})
            for task in tasks
        ]
    )
    for verdict, at in zip(made, times, strict=True):
        ReviewVerdict.objects.filter(pk=verdict.pk).update(created_at=at)


def versions_create(coordinator: User, now: dt.datetime) -> ModelVersion:
    """Four versions trained on growing label counts (the third released, the last in production), a
    zero-shot one with no training record, and the round that trained production, with its per-class
    test figures."""
    zero_shot = ModelVersion.objects.create(
        name="faune-zero-shot",
        version="1",
        backbone={},
        head_kind=HeadKind.ZERO_SHOT,
        status=VersionStatus.ARCHIVED,
    )
    versions = []
    for index, (labels, f1) in enumerate(
        [(40, 0.41), (90, 0.58), (150, 0.66), (230, 0.74)], start=1
    ):
        status = VersionStatus.PRODUCTION if index == 4 else VersionStatus.ARCHIVED
        versions.append(
            ModelVersion.objects.create(
                name="faune-head",
                version=f"round-{index}",
                backbone={},
                head_kind=HeadKind.TRAINED_HEAD,
                status=status,
                lineage={
                    "round": index,
                    "parent": zero_shot.pk,
                    "labels": labels,
                    "test_macro_f1": f1,
                },
            )
        )
    Release.objects.create(
        version=versions[2], semver="1.0.0", files={}, model_card="card", created_by=coordinator
    )
    per_class = [
        {"class": name, "precision": 0.8, "recall": recall, "f1": 0.75, "support": support}
        for name, recall, support in [
            ("red deer", 0.92, 60),
            ("roe deer", 0.81, 44),
            ("wild boar", 0.35, 12),
            ("fox", 0.66, 25),
            ("lynx", 0.0, 0),
        ]
    ]
    TrainingRound.objects.create(
        created_by=coordinator,
        status=RoundStatus.DONE,
        active=None,
        candidate=versions[3],
        finished_at=now,
        snapshot={"labels": 230},
        metrics={"candidate": {"test": {"count": 141, "macro_f1": 0.74, "per_class": per_class}}},
    )
    return versions[3]


def build(*, scale: int = 1) -> World:
    """The whole world; `scale` multiplies the labelled images of each taxon (scale 10: about 1,500
    labelled images among 2,000, and as many label events)."""
    now = timezone.now()
    coordinator = factories.member("cora", factories.organisation("Coordination"), Role.COORDINATOR)
    orgs = [
        factories.organisation(name)
        for name in (
            "Parc des Écrins",
            "Réserve du Vercors",
            "Office français de la biodiversité, délégation Auvergne-Rhône-Alpes",
        )
    ]
    partner = factories.member("paula", orgs[0], Role.PARTNER)
    experts = {
        "erin": factories.member("erin", orgs[1], Role.EXPERT, taxa=[factories.taxon("red-deer")]),
        "eli": factories.member("eli", orgs[1], Role.EXPERT, taxa=[factories.taxon("fox")]),
        "ezra": factories.member("ezra", orgs[2], Role.EXPERT, taxa=[factories.taxon("badger")]),
    }
    labelled_total = sum(n for _, n in TAXA) * scale
    pool = (
        images_create(orgs[0], partner, labelled_total // 2)
        + images_create(orgs[1], partner, labelled_total // 3, start=100000)
        + images_create(orgs[2], partner, labelled_total, start=200000)
    )
    by_source: dict[str, int] = {}
    cursor = 0
    for index, (slug, n) in enumerate(TAXA):
        for week in range(WEEKS if n else 0):  # each taxon's labels spread over the weeks
            chunk = pool[cursor : cursor + n * scale // WEEKS + (week < n * scale % WEEKS)]
            cursor += len(chunk)
            source = SOURCES[(index + week) % len(SOURCES)]
            label(
                chunk,
                factories.taxon(slug),
                source,
                partner,
                now - dt.timedelta(weeks=WEEKS - week, hours=1),
            )
            by_source[source] = by_source.get(source, 0) + len(chunk)
    unlabelled = pool[cursor:]
    queues = {
        "red deer": (factories.taxon("red-deer"), 7),
        "fox": (factories.taxon("fox"), 3),
        "triage": (None, 2),
    }
    taken = 0
    for taxon, waiting in queues.values():
        _tasks(unlabelled[taken : taken + waiting], taxon)
        taken += waiting
    _tasks(unlabelled[taken : taken + 2], None, ReviewState.CONFLICT)
    taken += 2
    verdicts = {
        "erin": [now - dt.timedelta(days=2, seconds=40 * i) for i in range(9)],
        "eli": [now - dt.timedelta(days=9, seconds=90 * i) for i in range(5)]
        + [now - dt.timedelta(weeks=5)],
    }
    for name, times in verdicts.items():
        tasks = _tasks(unlabelled[taken : taken + len(times)], None, ReviewState.DONE)
        taken += len(times)
        verdicts_give(experts[name], tasks, times)
    return World(
        now,
        coordinator,
        experts,
        len(pool),
        cursor,
        by_source,
        {s: n * scale for s, n in TAXA},
        versions_create(coordinator, now),
        {name: w for name, (_, w) in queues.items()},
        verdicts,
    )
