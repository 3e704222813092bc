"""The staff desk's side of moderation and merging in the chat (issue 13): /freigabe, approve, reject, skip, and
/zusammenfuehren with its preview. Called by `bot.staffdesk.desk._Act.run`; every answer goes through `act.done`,
which writes the audit row (references and codes only — never a citizen's text or the public wording)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.analytics.pseudonyms import idea_pseudonym
from bot.ideaboard import publication
from bot.ideaboard.publication import PublicationError
from bot.staffdesk import audit, idea_status
from bot.staffdesk.idea_status import IdeaStatusError
from handlers.events import Outbound
from handlers.publication_render import render_merge_preview, render_proposal

if TYPE_CHECKING:
    from bot.staffdesk.desk import _Act

ACTIONS = frozenset({"moderation", "publication_approve", "publication_reject", "merge_preview", "merge"})


def run(act: _Act) -> tuple[Outbound, ...]:
    """Answer one moderation or merge request."""
    action = act.request.action
    if action == "moderation":
        return _show(act, act.request.target or None, ())
    if action in ("publication_approve", "publication_reject"):
        return _decide(act)
    return _merge(act)


def _field_name(act: _Act, key: str | None) -> str:
    names = {info.key: info.label(act.sender.lang) for info in act.desk.fields}
    return act.desk.texts.get("staff.no_field", act.sender.lang) if not key else names.get(key, key)


def _show(act: _Act, after: str | None, lead: tuple[Outbound, ...], **details: object) -> tuple[Outbound, ...]:
    proposal = publication.next_proposal(act.uow, after)
    texts, lang, tz = act.render_args()
    if proposal is None:
        shown = render_proposal(None, "", "", None, 0, act.role, texts, lang, tz)
        return act.done(audit.OUTCOME_OK, (*lead, *shown), waiting=0, **details)
    shown = render_proposal(proposal.idea_id, proposal.proposed, _field_name(act, proposal.field),
                            proposal.created_at, proposal.waiting, act.role, texts, lang, tz)  # fmt: skip
    ref = idea_pseudonym(act.config.pseudonym_secret, proposal.idea_id)
    return act.done(audit.OUTCOME_OK, (*lead, *shown), shown=ref, waiting=proposal.waiting, **details)


def _decide(act: _Act) -> tuple[Outbound, ...]:
    request = act.request
    idea_id = request.target
    ref = idea_pseudonym(act.config.pseudonym_secret, idea_id)
    try:
        if request.action == "publication_approve":
            public = publication.approve(act.uow, idea_id, request.note or None, act.now)
            said = act.say("moderation.approved", ref=ref, text=public)
            details: dict[str, object] = {"edited": bool(request.note)}
        else:
            publication.reject(act.uow, idea_id, request.note, act.now)
            said = act.say("moderation.rejected", ref=ref)
            details = {"reason_length": len(request.note.strip())}  # the audit log holds no free text about ideas
    except PublicationError as exc:
        key = "moderation.not_pending" if exc.code in ("not_pending", "unknown_idea") else "moderation.failed"
        outcome = audit.OUTCOME_NOT_FOUND if exc.code == "unknown_idea" else audit.OUTCOME_ERROR
        return act.done(outcome, (act.say(key, reason=str(exc)),), reason=exc.code)
    return _show(act, None, (said,), **details)


def _merge(act: _Act) -> tuple[Outbound, ...]:
    request = act.request
    secret = act.config.pseudonym_secret
    separator = ":" if request.action == "merge" else " "
    typed = request.target.split(separator)
    if len(typed) != 2:
        return act.done(audit.OUTCOME_REFUSED, (act.say("moderation.usage_merge"),), reason="usage")
    try:
        source, target = (idea_status.resolve_idea(act.uow, ref, secret) for ref in typed)
    except IdeaStatusError as exc:
        key = "staff.ambiguous_idea" if exc.code == "ambiguous" else "staff.not_found_idea"
        return act.done(audit.OUTCOME_NOT_FOUND, (act.say(key, ref=request.target[:40]),), reason=exc.code)
    source_ref, target_ref = idea_pseudonym(secret, source), idea_pseudonym(secret, target)
    act.target = f"{source_ref}:{target_ref}"
    try:
        if request.action == "merge_preview":
            plan = publication.merge_plan(act.uow, source, target)
            shown = render_merge_preview(source_ref, target_ref, plan.source_text, plan.target_text,
                                         plan.target_public, plan.supporters_moved, plan.supporters_already,
                                         plan.author_becomes_supporter, act.desk.texts, act.sender.lang)  # fmt: skip
            return act.done(audit.OUTCOME_OK, shown)
        plan = publication.merge(act.uow, source, target, act.now)
    except PublicationError as exc:
        return act.done(audit.OUTCOME_ERROR, (act.say("moderation.failed", reason=str(exc)),), reason=exc.code)
    said = act.say("moderation.merged", source=source_ref, target=target_ref, moved=plan.supporters_moved)
    return act.done(audit.OUTCOME_OK, (said,), moved=plan.supporters_moved)
