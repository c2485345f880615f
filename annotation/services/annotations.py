"""Adding labels. Nothing is ever edited or deleted: a correction is a newer event that outranks the
old one."""

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.sql.subqueries import UpdateQuery
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from annotation.models import Annotation, Decision, Image, LabelSource, Role, Taxon
from annotation.permissions import user_access
from annotation.selectors import label_history, labels_for_image, sequence_label_stamp
from annotation.taxon_names import taxon_name
from faune_platform.boxes import Box
from faune_platform.errors import StateConflict
from faune_platform.jobs import task_enqueue_on_commit


class LabelConflict(StateConflict):
    """Someone labelled the image since the client last saw it; the client must reload
    before overriding."""


def author_role_and_source(user: User, *, image: Image) -> tuple[str, str]:
    """Experts (and coordinators reviewing) label as experts; everyone else as a partner."""
    access = user_access(user)
    if access.coordinator:
        return Role.COORDINATOR, LabelSource.EXPERT
    if access.expert and image.current_taxon_id in access.expert_taxon_ids:
        return Role.EXPERT, LabelSource.EXPERT
    return Role.PARTNER, LabelSource.PARTNER


def label_conflict_check(image: Image, *, expected_current_id: int | None, advice: str) -> None:
    """`expected_current_id` is the label the client saw as current (0: none, None: no check). If
    another label has won since, say whose instead of silently overriding a colleague's work."""
    if expected_current_id is None:
        return
    current = label_history(image).first()
    if (current.pk if current else 0) != expected_current_id:
        who = current.author.username if current and current.author else _("an import")
        raise LabelConflict(
            _("This was labelled %(taxon)s by %(who)s since you loaded it; %(advice)s")
            % {
                "taxon": taxon_name(current.taxon) if current else _("(none)"),
                "who": who,
                "advice": advice,
            }
        )


def _refuse_if_moved(image: Image, locked: dict[int, int | None]) -> None:
    """A late frame can merge the image's sequence into another between the page's read and the
    label's lock: the label would then name a sequence that is gone, or miss the frames that joined
    it. `locked`: {frame: its sequence} as the lock read them (a moved frame is not among the
    sequence's)."""
    if locked.get(image.pk, -1) != image.sequence_id:
        raise LabelConflict(
            _(
                "A later photo joined this image's sequence to another since you loaded it; "
                "reload to see the whole sequence, then label again."
            )
        )


def sequence_conflict_check(
    sequence_id: int, *, expected_stamp: int | None, advice: str | Promise
) -> None:
    """`expected_stamp` is the newest label event on the sequence the reviewer saw (0: none, None:
    no check): a verdict covers every frame, so a label on any of them since then means the reviewer
    decided on stale facts."""
    if expected_stamp is None:
        return
    newest = sequence_label_stamp(sequence_id)
    if newest != expected_stamp:
        event = Annotation.objects.select_related("taxon", "author").get(pk=newest)
        who = event.author.username if event.author else _("an import")
        if event.source == LabelSource.UNDO:
            raise LabelConflict(
                _(
                    "%(who)s undid the label %(taxon)s of this sequence since you loaded it; "
                    "%(advice)s"
                )
                % {"who": who, "taxon": taxon_name(event.taxon), "advice": advice}
            )
        raise LabelConflict(
            _("This sequence was labelled %(taxon)s by %(who)s since you loaded it; %(advice)s")
            % {"taxon": taxon_name(event.taxon), "who": who, "advice": advice}
        )


@dataclass(frozen=True)
class Details:
    """What a label says beyond its taxon (Camtrap DP observation fields): how many, and what they
    were like."""

    count: int | None = None
    life_stage: str = ""
    sex: str = ""
    behavior: str = ""

    def fields(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "life_stage": self.life_stage,
            "sex": self.sex,
            "behavior": self.behavior,
        }


def annotation_add(
    *,
    image: Image,
    taxon: Taxon,
    author: User,
    whole_sequence: bool = False,
    box: Box | None = None,
    count: int | None = None,
    details: Details | None = None,
    expected_current_id: int | None = None,
    expected_sequence_stamp: int | None = None,
    accept_prediction: bool = False,
    reviewing: bool = False,
    announce: bool = True,
    decision: Decision | None = None,
    savepoint: bool = True,
) -> Annotation:
    """Record one label event on an image or its whole sequence.

    `details` (count, life stage, sex, behaviour) replace `count` when given. `expected_current_id`:
    see `label_conflict_check`. `decision`: the person's decision this event belongs to (what an
    undo takes back). A partner's label is announced to the apps that check corrections, unless the
    caller announces in bulk. `savepoint=False`: for a caller whose labels stand or fall together
    (a verdict's), saving the savepoint's two round trips.
    """
    with transaction.atomic(savepoint=savepoint):
        # Lock what this label changes (PostgreSQL; SQLite already holds the write lock), so a
        # concurrent label on a frame cannot interleave with this one's current-label update.
        changed = {"sequence_id": image.sequence_id} if whole_sequence else {"pk": image.pk}
        locked = Image.objects.select_for_update().filter(**changed)
        _refuse_if_moved(image, dict(locked.values_list("pk", "sequence_id")))
        label_conflict_check(
            image,
            expected_current_id=expected_current_id,
            advice=_("reload to see the change, then label again."),
        )
        if whole_sequence:  # it changes every frame: a label on any of them since is a conflict
            sequence_conflict_check(
                image.sequence_id,
                expected_stamp=expected_sequence_stamp,
                advice=_("reload to see the change, then label again."),
            )
        role, source = author_role_and_source(author, image=image)
        # an expert working a review queue labels as an expert
        if reviewing and role == Role.PARTNER:
            role, source = Role.EXPERT, LabelSource.EXPERT
        if accept_prediction:
            source = LabelSource.MODEL_ACCEPTED if source == LabelSource.PARTNER else source
        target = {"sequence_id": image.sequence_id} if whole_sequence else {"image": image}
        box_fields = box.columns() if box else {}
        detail_fields = (details or Details(count=count)).fields()
        annotation = Annotation.objects.create(
            taxon=taxon,
            author=author,
            role=role,
            source=source,
            decision=decision,
            **target,
            **box_fields,
            **detail_fields,
        )
        current_labels_refresh(
            images=Image.objects.filter(
                **({"sequence_id": image.sequence_id} if whole_sequence else {"pk": image.pk})
            )
        )
        if announce and source == LabelSource.PARTNER:
            partner_labels_announce([annotation.pk])
        return annotation


def current_labels_refresh(*, images: QuerySet[Image]) -> int:
    """Write each image's winning label (the rule of `labels_for_image`) into its current-label
    columns. Called in the transaction of every label event and sequence merge, so the columns never
    disagree with the events."""
    connection = connections[images.db]
    quote = connection.ops.quote_name
    update, update_params = _current_label_update(images.db)
    try:
        which, which_params = images.values("pk").query.get_compiler(images.db).as_sql()
    except EmptyResultSet:  # no image to refresh (an empty id list)
        return 0
    column = f"{quote(Image._meta.db_table)}.{quote(str(Image._meta.pk.column))}"
    with connection.cursor() as cursor:
        cursor.execute(f"{update} WHERE {column} IN ({which})", (*update_params, *which_params))
        return int(cursor.rowcount)


@functools.cache
def _current_label_update(database: str) -> tuple[str, tuple[Any, ...]]:
    """The UPDATE of every image's current-label columns, built by the ORM once per database:
    its three correlated subqueries take the ORM about 3 ms to build, a quarter of a verdict's
    time, and never change (their parameters are the ranking's constants)."""
    winner = labels_for_image(OuterRef("pk"), OuterRef("sequence_id"))
    query = UpdateQuery(Image)
    query.add_update_values(
        {
            "current_label_id": Subquery(winner.values("pk")[:1]),
            "current_taxon_id": Subquery(winner.values("taxon_id")[:1]),
            "current_source": Coalesce(Subquery(winner.values("source")[:1]), Value("")),
        }
    )
    sql, params = query.get_compiler(database).as_sql()
    return sql, tuple(params)


def partner_labels_announce(annotation_ids: list[int]) -> None:
    """Queue the jobs that check partner labels (routing doubtful corrections to experts), by dotted
    path, once the labels are committed: the labelled pool names those jobs in settings and imports
    nothing from them."""
    for task in settings.FAUNE["AFTER_PARTNER_LABEL_TASKS"]:
        task_enqueue_on_commit(task, list(annotation_ids))
