"""Reads of the labelled pool, always through what the asking user may see."""

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast, Coalesce, Lag, Substr, Trunc, TruncDate
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from annotation.models import (
    SOURCE_RANK,
    WAITING,
    Annotation,
    BatchKind,
    BatchOutcome,
    BatchStatus,
    Deployment,
    Image,
    Membership,
    Organisation,
    ReviewState,
    ReviewTask,
    ReviewVerdict,
    Role,
    Taxon,
    TaxonProposal,
    UploadBatch,
    VerdictKind,
)
from annotation.permissions import Access, taxa_with_descendants, user_access
from faune_platform.db import unique_or_none
from faune_platform.errors import InputRefused
from faune_platform.periods import Timeline, period_unit, periods_between, timeline


def _rank_expression() -> Case:
    return Case(
        *(When(source=source, then=Value(rank)) for source, rank in SOURCE_RANK.items()),
        output_field=IntegerField(),
    )


def labels_in_force() -> QuerySet[Annotation]:
    """Label events that count: neither an undo nor undone (an undo withdraws the event
    it `undoes`)."""
    return Annotation.objects.filter(undoes__isnull=True, undone_by__isnull=True)


def labels_for_image(
    image_ref: OuterRef | Image, sequence_ref: OuterRef | int
) -> QuerySet[Annotation]:
    """The label events in force that apply to an image, the winning one first (rank, then newest):
    the rule that `Image.current_label` materialises."""
    return (
        labels_in_force()
        .filter(Q(image=image_ref) | Q(sequence=sequence_ref))
        .annotate(rank=_rank_expression())
        .order_by("-rank", "-created_at", "-pk")
    )


def label_events(image: Image) -> QuerySet[Annotation]:
    """Every label event of an image and its sequence, newest first, undone ones and undos included:
    the record people read (what counts is `label_history`)."""
    return (
        Annotation.objects.filter(Q(image=image) | Q(sequence_id=image.sequence_id))
        .select_related("taxon", "author", "undoes__taxon")
        .annotate(undone=Exists(Annotation.objects.filter(undoes=OuterRef("pk"))))
        .order_by("-created_at", "-pk")
    )


def images_visible_to(user: User | AnonymousUser) -> QuerySet[Image]:
    access = user_access(user)
    images = Image.objects.all()
    if access.coordinator:
        return images
    if not access.authenticated:
        return images.none()
    visible: Q | Combinable = Q(organisation_id__in=access.organisation_ids)
    if access.expert:
        in_review = Exists(_reviewable_by(access, OuterRef("sequence_id")))
        visible |= Q(current_taxon_id__in=access.expert_taxon_ids) | in_review
    return images.filter(visible)


def image_visible_to(user: User | AnonymousUser, pk: int, *related: str) -> Image | None:
    """One image if the user may see it (as `images_visible_to` decides), with `related` joined.
    Most checks need no second query: the image's organisation or taxon answers them; only an
    image seen through a review task asks the database again. Every frame of a review task is
    checked this way, many times a minute per expert."""
    access = user_access(user)
    if not access.authenticated:
        return None
    # select_related() with no names would join every non-null relation: name them or join none
    images = Image.objects.select_related(*related) if related else Image.objects.all()
    image = unique_or_none(images.filter(pk=pk))
    if image is None or _seen_by_right(access, image.organisation_id, image.current_taxon_id):
        return image
    return image if images_visible_to(user).filter(pk=pk).exists() else None


def visible_among(user: User | AnonymousUser, pks: list[int]) -> set[int]:
    """Which of these images the user may see (as `images_visible_to` decides), the same way as
    `image_visible_to`: by organisation and taxon first, the review tasks asked only for the rest.
    The similar images of every frame an expert reviews are checked this way."""
    access = user_access(user)
    if not access.authenticated or not pks:
        return set()
    rows = Image.objects.filter(pk__in=pks).values_list("pk", "organisation_id", "current_taxon_id")
    seen = {pk for pk, organisation, taxon in rows if _seen_by_right(access, organisation, taxon)}
    rest = set(pks) - seen
    if rest:
        seen |= set(images_visible_to(user).filter(pk__in=rest).values_list("pk", flat=True))
    return seen


def _seen_by_right(access: Access, organisation_id: int, taxon_id: int | None) -> bool:
    """Visible without asking about review tasks: a coordinator, the user's organisation, or an
    expert's taxon."""
    if access.coordinator or access.can_contribute_to(organisation_id):
        return True
    return access.expert and taxon_id in access.expert_taxon_ids


def visible_image_or_404(user: User | AnonymousUser, pk: int, *related: str) -> Image:
    """`image_visible_to`, for pages and the API: an image the user may not see is as missing as
    one that does not exist, so its existence does not leak."""
    image = image_visible_to(user, pk, *related)
    if image is None:
        raise Http404(_("No such image, or not one you may see."))
    return image


def _reviewable_by(access: Access, sequence_ref: OuterRef) -> QuerySet[ReviewTask]:
    """Waiting review tasks of a sequence in the expert's queues (or triage), and second opinions
    past the wait (offered to every expert): experts see what they review."""
    queues = Q(queue_taxon__isnull=True) | Q(queue_taxon_id__in=access.expert_taxon_ids)
    offered = queues | second_opinion_overdue()
    return ReviewTask.objects.filter(offered, sequence_id=sequence_ref, state__in=WAITING)


def image_editable_by(user: User | AnonymousUser, image: Image) -> bool:
    """Partners edit their organisation's images; experts the images in their taxa;
    coordinators all."""
    access = user_access(user)
    if access.can_contribute_to(image.organisation_id):
        return True
    return access.expert and image.current_taxon_id in access.expert_taxon_ids


def image_filter(
    images: QuerySet[Image],
    *,
    organisation: int | None = None,
    deployment: int | None = None,
    taken_after: datetime | None = None,
    taken_before: datetime | None = None,
    taxon: int | None = None,
    labelled: bool | None = None,
    batch: int | None = None,
) -> QuerySet[Image]:
    if organisation is not None:
        images = images.filter(organisation_id=organisation)
    if deployment is not None:
        images = images.filter(deployment_id=deployment)
    if batch is not None:
        images = images.filter(batch_id=batch)
    if taken_after is not None:
        images = images.filter(taken_at__gte=taken_after)
    if taken_before is not None:
        images = images.filter(taken_at__lte=taken_before)
    if taxon is not None:
        images = images.filter(current_taxon_id__in=taxa_with_descendants({taxon}))
    if labelled is not None:
        images = images.filter(current_taxon_id__isnull=not labelled)
    return images


def deployments_visible_to(user: User | AnonymousUser) -> QuerySet[Deployment]:
    access = user_access(user)
    if access.coordinator:
        return Deployment.objects.all()
    return Deployment.objects.filter(organisation_id__in=access.organisation_ids)


def batches_visible_to(user: User | AnonymousUser) -> QuerySet[UploadBatch]:
    access = user_access(user)
    if access.coordinator:
        return UploadBatch.objects.all()
    return UploadBatch.objects.filter(organisation_id__in=access.organisation_ids)


def batch_counts(batch: UploadBatch) -> dict[str, int]:
    rows = dict(
        batch.items.values_list("outcome").annotate(n=Count("pk")).values_list("outcome", "n")
    )
    counts = {outcome: rows.get(outcome, 0) for outcome in BatchOutcome.values}
    counts["labelled"] = batch.items.filter(outcome=BatchOutcome.IMPORTED, labelled=True).count()
    counts["sequences"] = batch.images.values("sequence_id").distinct().count()
    return counts


def batch_state(batch: UploadBatch) -> str:
    """Where a batch's storing phase stands: receiving (an upload still taking files), mapping (an
    import waiting for its class mapping), queued, running, done or failed."""
    if batch.status == BatchStatus.OPEN:
        return "receiving" if batch.kind == BatchKind.UPLOAD else "mapping"
    return batch.status


def batch_stored_progress(batch: UploadBatch) -> dict[str, Any]:
    """The storing phase of an upload or import, as its pages follow it: its state (`batch_state`),
    the files handled and the files expected (an upload knows them once closed)."""
    counts = batch_counts(batch)
    handled = (
        counts[BatchOutcome.IMPORTED]
        + counts[BatchOutcome.DUPLICATE]
        + counts[BatchOutcome.REJECTED]
    )
    state = batch_state(batch)
    if batch.kind == BatchKind.IMPORT:
        total = max(batch.total, handled) if batch.total else None
    else:
        total = None if state == "receiving" else handled
    return {
        "state": state,
        "handled": handled,
        "total": total,
        "error": batch.error,
        "counts": counts,
    }


def batch_deployment_names(batches: list[UploadBatch]) -> dict[int, list[str]]:
    """{batch id: the deployments its images went to, by name}; before any image, the one chosen
    for it."""
    names: dict[int, list[str]] = defaultdict(list)
    rows = (
        Image.objects.filter(batch__in=batches)
        .values_list("batch_id", "deployment__name")
        .distinct()
        .order_by("batch_id", "deployment__name")
    )
    for batch_id, name in rows:
        if name:
            names[batch_id].append(name)
    for batch in batches:
        if not names[batch.pk]:
            chosen = (
                batch.deployment.name if batch.deployment else batch.params.get("deployment", "")
            )
            names[batch.pk] = [chosen] if chosen else []
    return dict(names)


def taxa_held(taxon_ids: set[int] | None = None) -> dict[int, int]:
    """{taxon id: images whose current label it is} over the whole pool (or these taxa)."""
    images = Image.objects.filter(current_taxon__isnull=False)
    if taxon_ids is not None:
        images = images.filter(current_taxon_id__in=taxon_ids)
    return dict(
        images.values_list("current_taxon_id")
        .annotate(n=Count("pk"))
        .values_list("current_taxon_id", "n")
    )


def sequence_label_stamp(sequence_id: int) -> int:
    """The newest label event on a sequence or any of its frames (0: none): what a reviewer saw is
    stale once it changes, whichever frame was labelled."""
    # Two branches, not one OR across the image join: each reads its own index (a sequence's labels
    # are a handful), where the OR made PostgreSQL read every label (1.75 ms a call in the load
    # bench).
    labels = Annotation.objects.order_by().values_list("pk", flat=True)
    on_sequence = labels.filter(sequence_id=sequence_id)
    on_frames = labels.filter(image__sequence_id=sequence_id)
    return max(on_sequence.union(on_frames, all=True), default=0)


def label_history(image: Image) -> QuerySet[Annotation]:
    return labels_for_image(image, image.sequence_id).select_related("taxon", "author")


def current_label(image: Image) -> Annotation | None:
    """The label in force (the first of `label_history`) as the image's columns hold it, with its
    taxon and author: a lookup by key instead of the ranking."""
    if image.current_label_id is None:
        return None
    labels = Annotation.objects.select_related("taxon", "author")
    return labels.filter(pk=image.current_label_id).first()


class UnknownTaxon(InputRefused):
    pass


def taxon_resolve(text: str) -> Taxon:
    """A taxon from its id, slug, or French, English or scientific name."""
    from annotation.services.taxa import normalise_name, taxa_by_name

    text = str(text).strip()
    if text.isdigit():
        taxon = unique_or_none(Taxon.objects.filter(pk=int(text)))
    else:  # a slug (what clients send most) first, then every name
        by_slug = unique_or_none(Taxon.objects.filter(slug=text))
        taxon = by_slug or taxa_by_name().get(normalise_name(text))
    if taxon is None:
        raise UnknownTaxon(
            f"Unknown taxon {text!r}. Use a taxon id, slug, or its French or English name "
            "(GET /api/taxa/ lists them); a coordinator can add new taxa."
        )
    return taxon


def _sequence_taxon(frames: dict[str, int]) -> int:
    return Counter(frames.values()).most_common(1)[0][0]


def _kappa(pairs: list[tuple[int, int]]) -> float | None:
    """Cohen's kappa: agreement beyond what two raters labelling at their own base rates would reach
    by chance."""
    if not pairs:
        return None
    observed = sum(a == b for a, b in pairs) / len(pairs)
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(first[k] * second[k] for k in first) / len(pairs) ** 2
    return 1.0 if chance >= 1 else round((observed - chance) / (1 - chance), 4)


def review_agreement() -> dict[str, Any]:
    """Blind double reviews: how often the two experts gave the same labels, overall, per queue and
    per expert, with Cohen's kappa on the sequence's taxon."""
    tasks = (
        ReviewTask.objects.filter(reviews_needed__gte=2)
        .select_related("queue_taxon")
        .prefetch_related("verdicts__expert")
    )
    per_queue, per_expert, taxa_pairs, agreed_total, total = (
        defaultdict(list),
        defaultdict(list),
        [],
        0,
        0,
    )
    for task in tasks:
        labels = [v for v in task.verdicts.all() if v.kind == VerdictKind.LABEL][:2]
        if len(labels) < 2:
            continue
        agreed = labels[0].agrees_with(labels[1])
        total, agreed_total = total + 1, agreed_total + agreed
        per_queue[task.queue_taxon.name_en if task.queue_taxon else "triage"].append(agreed)
        for verdict in labels:
            per_expert[verdict.expert.username if verdict.expert else "(deleted)"].append(agreed)
        taxa_pairs.append((_sequence_taxon(labels[0].frames), _sequence_taxon(labels[1].frames)))

    def rows(groups: dict[str, list[bool]]) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "double_reviews": len(values),
                "agreement": round(sum(values) / len(values), 4),
            }
            for name, values in sorted(groups.items())
        ]

    return {
        "double_reviews": total,
        "agreement": round(agreed_total / total, 4) if total else None,
        "kappa": _kappa(taxa_pairs),
        "by_queue": rows(per_queue),
        "by_expert": rows(per_expert),
        "conflicts_open": review_conflicts().count(),
    }


def review_conflicts() -> QuerySet[ReviewTask]:
    """Tasks two experts disagreed on, oldest first, with what each said."""
    return (
        ReviewTask.objects.filter(state=ReviewState.CONFLICT)
        .select_related("queue_taxon")
        .prefetch_related("verdicts__expert")
        .order_by("created_at")
    )


FRAME_ORDER = (
    "taken_at",
    "pk",
)  # the frames of a sequence as they were taken (undated ones by arrival)


def sequence_frames(sequence_id: int) -> QuerySet[Image]:
    return Image.objects.filter(sequence_id=sequence_id).order_by(*FRAME_ORDER)


def taxa_with_experts() -> frozenset[int]:
    """Taxa some active expert reviews; an expert of a higher taxon covers its descendants. Routing
    reads this once per batch of tasks."""
    experts = Membership.objects.filter(
        role=Role.EXPERT, user__is_active=True, review_taxa__isnull=False
    )
    reviewed = set(experts.values_list("review_taxa", flat=True))
    return taxa_with_descendants(reviewed) if reviewed else frozenset()


def first_label_at() -> Subquery:
    """When a task's first label verdict was given: since then a blind double review waits for the
    next expert."""
    labels = ReviewVerdict.objects.filter(task=OuterRef("pk"), kind=VerdictKind.LABEL)
    return Subquery(labels.order_by("created_at", "pk").values("created_at")[:1])


def second_opinion_cutoff(now: datetime | None = None) -> datetime:
    """A first label given before this waited long enough for an expert of its own taxon."""
    return (now or timezone.now()) - timedelta(hours=settings.FAUNE["SECOND_OPINION_WAIT_HOURS"])


def second_opinion_overdue(now: datetime | None = None) -> Q:
    """Open blind double reviews whose first label is older than the wait: offered to every expert
    and coordinator (never to the first expert again), so none waits forever for a second expert of
    its taxon."""
    old_label = ReviewVerdict.objects.filter(
        task=OuterRef("pk"), kind=VerdictKind.LABEL, created_at__lte=second_opinion_cutoff(now)
    )
    return Q(state=ReviewState.OPEN, reviews_needed__gte=2) & Q(Exists(old_label))


def second_opinions_waiting(
    *, taxon_ids: set[int] | None, now: datetime | None = None
) -> dict[str, Any]:
    """Blind double reviews holding their first label, in the queues a user works (None: every
    queue) plus those past the wait: how many, since when (the oldest first label), how many are
    past the wait."""
    waiting = (
        ReviewTask.objects.filter(state=ReviewState.OPEN, reviews_needed__gte=2)
        .annotate(waiting_since=first_label_at())
        .filter(waiting_since__isnull=False)
    )
    if taxon_ids is not None:
        queues = Q(queue_taxon__isnull=True) | Q(queue_taxon_id__in=taxon_ids)
        waiting = waiting.filter(queues | second_opinion_overdue(now))
    overdue = Q(waiting_since__lte=second_opinion_cutoff(now))
    summary = waiting.aggregate(
        count=Count("pk"), since=Min("waiting_since"), overdue=Count("pk", filter=overdue)
    )
    return {**summary, "wait_hours": settings.FAUNE["SECOND_OPINION_WAIT_HOURS"]}


# Figures of the coordinators' dashboard, over the whole pool. Each is one or two grouped
# queries: the database aggregates, Python only fills in empty periods, so they stay quick on
# millions of images.


def _labelled_at() -> Coalesce:
    """When an image got the label it carries now (its upload time if that label event is gone)."""
    return Coalesce("current_label__created_at", "created_at")


def _utc_day(expression: Combinable | str) -> Substr:
    """The UTC day of a datetime as 'YYYY-MM-DD', in native SQL on both databases (Django
    truncates dates on SQLite through a Python function called on every row: ten times slower on a
    large pool)."""
    return Substr(Cast(expression, CharField()), 1, 10)


def labelled_pool_growth() -> Timeline | None:
    """{taxon id: labelled images carrying it at the end of each period}, by the date each image got
    its current label; the unit follows the span. The database counts per day and taxon; the days
    are then gathered into weeks or months. None while nothing is labelled."""
    labelled = Image.objects.filter(current_taxon__isnull=False).annotate(at=_labelled_at())
    span = labelled.aggregate(first=Min("at"), last=Max("at"))
    if span["first"] is None:
        return None
    unit = period_unit(span["first"], span["last"])
    days = (
        labelled.annotate(day=_utc_day("at"))
        .values_list("day", "current_taxon_id")
        .annotate(n=Count("pk"))
    )
    rows = [
        (datetime.fromisoformat(day).replace(tzinfo=UTC), taxon_id, n)
        for day, taxon_id, n in days.order_by()
    ]
    return timeline(rows, periods_between(span["first"], span["last"], unit), unit, cumulative=True)


def labelled_by_source() -> dict[str, int]:
    """{label source: images whose current label came from it}."""
    rows = (
        Image.objects.exclude(current_source="")
        .values_list("current_source")
        .annotate(n=Count("pk"))
    )
    return dict(rows.order_by())


def organisation_contributions() -> list[dict[str, Any]]:
    """Every organisation with the images it contributed and how many of them carry a label, most
    images first."""
    labelled = Q(images__current_taxon__isnull=False)
    rows = Organisation.objects.annotate(
        contributed=Count("images"), labelled=Count("images", filter=labelled)
    )
    values = rows.order_by("-contributed", "name").values("pk", "name", "contributed", "labelled")
    # Plain dicts, as the dashboard reads (and extends) them; the stubs see TypedDicts.
    return list(cast(QuerySet[Organisation, dict[str, Any]], values))


def review_queue_sizes(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per queue (taxon id, None for triage): tasks waiting, how many an expert holds right now, and
    since when the oldest waits; the conflicts waiting for a coordinator come as one more row with
    `conflicts` set."""
    now = now or timezone.now()
    waiting = ReviewTask.objects.filter(state=ReviewState.OPEN).values("queue_taxon_id").order_by()
    rows = [
        {**row, "conflicts": False}
        for row in waiting.annotate(
            waiting=Count("pk"),
            claimed=Count("pk", filter=Q(claimed_until__gt=now)),
            oldest=Min("created_at"),
        )
    ]
    conflicts = ReviewTask.objects.filter(state=ReviewState.CONFLICT).aggregate(
        waiting=Count("pk"), oldest=Min("created_at")
    )
    if conflicts["waiting"]:
        rows.append({"queue_taxon_id": None, "claimed": 0, "conflicts": True, **conflicts})
    return sorted(rows, key=lambda row: -row["waiting"])


def verdicts_by_period(*, weeks: int = 12, now: datetime | None = None) -> Timeline | None:
    """{expert id: verdicts given in each period} over the last `weeks` weeks (from the first
    verdict if later), by week, or by day while that span is under two weeks. None while no verdict
    was given in that time."""
    now = now or timezone.now()
    verdicts = ReviewVerdict.objects.filter(
        created_at__gte=now - timedelta(weeks=weeks), expert__isnull=False
    )
    first = verdicts.aggregate(first=Min("created_at"))["first"]
    if first is None:
        return None
    unit = (
        "day" if (now - first).days < 14 else "week"
    )  # throughput reads best per week once there are two
    rows = (
        verdicts.annotate(period=Trunc("created_at", unit))
        .values_list("period", "expert_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return timeline(list(rows), periods_between(first, now, unit), unit)


THROUGHPUT_DAYS = 28  # the window of the per-day and per-week means and of the time per task


def expert_throughput(*, now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """{user id: verdicts in all, in the last day, 7 days and THROUGHPUT_DAYS days, and the days of
    that window on which they gave any}, for every expert and everyone who gave a verdict."""
    now = now or timezone.now()
    window = Q(reviewverdict__created_at__gte=now - timedelta(days=THROUGHPUT_DAYS))
    since = {
        name: Q(reviewverdict__created_at__gte=now - timedelta(days=days))
        for name, days in (("day", 1), ("week", 7))
    }
    reviewers = User.objects.filter(
        Q(memberships__role=Role.EXPERT) | Q(reviewverdict__isnull=False)
    )
    rows = User.objects.filter(pk__in=reviewers.values("pk")).annotate(
        total=Count("reviewverdict"),
        day=Count("reviewverdict", filter=since["day"]),
        week=Count("reviewverdict", filter=since["week"]),
        window=Count("reviewverdict", filter=window),
        active_days=Count(TruncDate("reviewverdict__created_at"), filter=window, distinct=True),
    )
    values = rows.values("pk", "username", "total", "day", "week", "window", "active_days")
    # Plain dicts, whose "pk" is popped into the key; the stubs see TypedDicts (no key removable).
    return {row.pop("pk"): row for row in cast(QuerySet[User, dict[str, Any]], values)}


PAUSE = timedelta(
    minutes=15
)  # the claim time: a longer gap between two verdicts is a pause, not work on a task


def expert_median_seconds(*, now: datetime | None = None) -> dict[int, float]:
    """{expert id: median seconds between two consecutive verdicts of theirs} over the last
    THROUGHPUT_DAYS days, gaps longer than PAUSE left out: the time a task takes, as far as the data
    tell (claims are not kept once a verdict is given). The median is taken in the database: window
    functions rank each expert's gaps; Django's ORM cannot rank over a window's result, so the
    ranking wraps the ORM's own query (vendor-neutral SQL)."""
    since = (now or timezone.now()) - timedelta(days=THROUGHPUT_DAYS)
    previous = Window(
        Lag("created_at"), partition_by=[F("expert_id")], order_by=F("created_at").asc()
    )
    gaps = (
        ReviewVerdict.objects.filter(created_at__gte=since, expert__isnull=False)
        .annotate(gap=ExpressionWrapper(F("created_at") - previous, output_field=DurationField()))
        .values("expert_id", "gap")
        .order_by()
    )
    inner, params = gaps.query.sql_with_params()
    pause = DurationField().get_db_prep_value(PAUSE, connection)
    ranks = (
        "ROW_NUMBER() OVER (PARTITION BY expert_id ORDER BY gap) AS gap_rank, "
        "COUNT(*) OVER (PARTITION BY expert_id) AS gap_count"
    )
    ranked = f"SELECT expert_id, gap, {ranks} FROM ({inner}) gaps WHERE gap <= %s"  # noqa: S608
    # The middle rank of an odd count, the two middle ones of an even count.
    middle_ranks = "2 * gap_rank >= gap_count AND 2 * gap_rank <= gap_count + 2"
    sql = f"SELECT expert_id, gap FROM ({ranked}) ranked WHERE {middle_ranks}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pause])
        middle = cursor.fetchall()
    found: dict[int, list[float]] = {}
    for expert_id, gap in middle:  # one or two rows per expert
        found.setdefault(expert_id, []).append(_seconds(gap))
    return {expert_id: sum(values) / len(values) for expert_id, values in found.items()}


def _seconds(gap: timedelta | int) -> float:
    """PostgreSQL returns an interval; SQLite, which has no duration type, microseconds."""
    return gap.total_seconds() if isinstance(gap, timedelta) else gap / 1e6


def pool_totals() -> dict[str, int]:
    """Images in the pool and how many carry a label, in one query."""
    return Image.objects.aggregate(
        images=Count("pk"), labelled=Count("pk", filter=Q(current_taxon__isnull=False))
    )


def taxon_proposals(status: str = "pending") -> QuerySet[TaxonProposal]:
    """Proposals of new taxa in a status ('all': every one), oldest pending first, else
    newest first."""
    proposals = TaxonProposal.objects.select_related(
        "proposed_by", "decided_by", "taxon"
    ).prefetch_related(Prefetch("frames", Image.objects.order_by(*FRAME_ORDER)))
    if status == "all":
        return proposals.order_by("-created_at", "-pk")
    return proposals.filter(status=status).order_by(
        "created_at" if status == "pending" else "-created_at", "pk"
    )
