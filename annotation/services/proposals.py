"""'A species not in the list'. An expert holding a review task names the taxon they see (and its
scientific name when they know it): the task's frames go with the proposal to the coordinators, and
the task waits (state `proposed`). A coordinator accepts it, creating the taxon or naming the
existing one meant, which labels the frames as the expert's identification; or declines it, which
puts the task back in its queue with the word why."""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from annotation.models import (
    Annotation,
    Decision,
    DecisionKind,
    Image,
    ProposalStatus,
    ReviewState,
    Taxon,
    TaxonProposal,
)
from annotation.selectors import sequence_frames, sequence_label_stamp
from annotation.services.annotations import annotation_add
from annotation.services.reasons import reason_fields, task_reason
from annotation.services.review import review_task_held, review_task_release
from annotation.services.taxa import normalise_name, taxa_by_name, taxon_create
from annotation.services.undo import decision_close, decision_open
from annotation.taxon_names import taxon_name
from faune_platform.errors import InputRefused, StateConflict, Worded, gettext_noop


class ProposalError(InputRefused):
    pass


class ProposalClosed(StateConflict):
    pass


@dataclass
class ProposalOutcome:
    proposal: TaxonProposal
    labelled: list[int] = field(default_factory=list)  # frames labelled with the accepted taxon
    left_alone: dict[int, str] = field(
        default_factory=dict
    )  # {frame: who labelled it since the proposal}


def _known_as(name: str, scientific_name: str) -> Taxon | None:
    lookup = taxa_by_name()
    return lookup.get(normalise_name(name)) or (
        lookup.get(normalise_name(scientific_name)) if scientific_name else None
    )


def taxon_proposal_create(
    *, task_id: int, user: User, name: str, scientific_name: str = ""
) -> TaxonProposal:
    """The proposal of the user holding the task, with every frame of its sequence. It comes back
    with `decision` (what an undo takes back while no coordinator has decided)."""
    name, scientific_name = name.strip(), scientific_name.strip()
    if not name:
        raise ProposalError(_("Give the name of the taxon you see."))
    known = _known_as(name, scientific_name)
    if known is not None:
        raise ProposalError(
            _("“%(name)s” is already in the list as %(taxon)s (%(fr)s): choose it instead.")
            % {"name": name, "taxon": known.name_en, "fr": known.name_fr}
        )
    with transaction.atomic():
        task = review_task_held(task_id, user=user)
        decision = decision_open(author=user, kind=DecisionKind.PROPOSAL, task=task)
        frames = list(sequence_frames(task.sequence_id))
        proposal = TaxonProposal.objects.create(
            name=name,
            scientific_name=scientific_name,
            proposed_by=user,
            task=task,
            labels_stamp=sequence_label_stamp(task.sequence_id),
        )
        proposal.frames.set(frames)
        review_task_release(task, state=ReviewState.PROPOSED)
        summary = ngettext(
            "Proposed the new taxon “%(name)s” for %(n)d frame; a coordinator will decide.",
            "Proposed the new taxon “%(name)s” for %(n)d frames; a coordinator will decide.",
            len(frames),
        ) % {"name": name, "n": len(frames)}
        proposal.decision = decision_close(decision, summary=summary, task=task)
    return proposal


def _pending(proposal_id: int) -> TaxonProposal:
    proposal = (
        TaxonProposal.objects.select_for_update(of=("self",))
        .filter(pk=proposal_id)
        .select_related("task", "proposed_by")
        .first()
    )
    if proposal is None:
        raise ProposalClosed(_("There is no proposal #%(id)s.") % {"id": proposal_id})
    if proposal.status != ProposalStatus.PENDING:
        raise ProposalClosed(
            _("This proposal was already %(status)s.") % {"status": proposal.get_status_display()}
        )
    return proposal


def taxon_proposal_accept(
    *,
    proposal_id: int,
    user: User,
    taxon: Taxon | None = None,
    new_taxon: dict[str, Any] | None = None,
    note: str = "",
) -> ProposalOutcome:
    """Accept as `taxon` (an existing one), or as a taxon created from `new_taxon` (taxon_create's
    fields; the proposed names where left out). Each frame gets the taxon, except frames labelled
    since the proposal: left alone and reported."""
    with transaction.atomic():
        proposal = _pending(proposal_id)
        if taxon is None:  # the proposed names unless the coordinator wrote others
            fields = {**(new_taxon or {})}
            fields["name_en"] = fields.get("name_en") or proposal.name
            fields["scientific_name"] = fields.get("scientific_name") or proposal.scientific_name
            taxon = taxon_create(**fields, created_by=user)
        decision = decision_open(author=user, kind=DecisionKind.PROPOSAL_ACCEPT, task=proposal.task)
        outcome = ProposalOutcome(proposal)
        _label_frames(outcome, taxon, user, decision)
        if proposal.task is not None and proposal.task.state == ReviewState.PROPOSED:
            review_task_release(proposal.task, state=ReviewState.DONE, resolved_by=user)
        _decide(proposal, user, ProposalStatus.ACCEPTED, note, taxon=taxon)
        decision_close(
            decision,
            task=proposal.task,
            summary=_("Accepted “%(name)s” as %(taxon)s.")
            % {"name": proposal.name, "taxon": taxon_name(taxon)},
        )
    return outcome


def _label_frames(outcome: ProposalOutcome, taxon: Taxon, user: User, decision: Decision) -> None:
    """The proposer's identification, as theirs (they saw the animal; the coordinator named
    the taxon)."""
    proposal = outcome.proposal
    author = proposal.proposed_by or user
    frames = (
        Image.objects.select_for_update().filter(pk__in=proposal.frames.values("pk")).order_by("pk")
    )
    for frame in frames:
        newer = (
            Annotation.objects.filter(
                Q(image=frame) | Q(sequence_id=frame.sequence_id), pk__gt=proposal.labels_stamp
            )
            .select_related("author", "taxon")
            .order_by("-pk")
            .first()
        )
        if newer is not None:
            who = newer.author.username if newer.author else _("an import")
            outcome.left_alone[frame.pk] = _("labelled %(taxon)s by %(who)s since the proposal") % {
                "taxon": taxon_name(newer.taxon),
                "who": who,
            }
            continue
        annotation_add(image=frame, taxon=taxon, author=author, reviewing=True, decision=decision)
        outcome.labelled.append(frame.pk)


def taxon_proposal_decline(*, proposal_id: int, user: User, note: str = "") -> TaxonProposal:
    """Decline: the task goes back to its queue, unclaimed, its reason saying why, for an
    existing taxon."""
    with transaction.atomic():
        proposal = _pending(proposal_id)
        _decide(proposal, user, ProposalStatus.DECLINED, note)
        task = proposal.task
        if task is not None and task.state == ReviewState.PROPOSED:
            why = _declined(proposal.name, user.username, note)
            reason = reason_fields([why, *task_reason(task)])
            review_task_release(task, state=ReviewState.OPEN, **reason)
    return proposal


def _declined(name: str, who: str, note: str) -> Worded:
    if note:
        template = gettext_noop("proposal “%(name)s” declined by %(who)s: %(note)s")
        return Worded(template, {"name": name, "who": who, "note": note})
    template = gettext_noop("proposal “%(name)s” declined by %(who)s")
    return Worded(template, {"name": name, "who": who})


def _decide(
    proposal: TaxonProposal, user: User, status: str, note: str, taxon: Taxon | None = None
) -> None:
    proposal.status, proposal.taxon, proposal.note = status, taxon, note.strip()[:500]
    proposal.decided_by, proposal.decided_at = user, timezone.now()
    proposal.save(update_fields=["status", "taxon", "note", "decided_by", "decided_at"])
