"""Publication of ideas (issue 13): the author's consent, the moderation queue, approve/reject, withdrawal, merge.

Everything here runs inside the caller's unit of work and writes rows only: the author hears of a decision by an
`idea_publication` follow_ups row (solicited: they asked for publication), staff hear that the queue grew by one
`moderation_queue` row each (at most one unsent per staff member). Every change of `publication`, `public_text`
or `merged_into` also sets `publication_at` (the similar-idea index of every worker follows that column).

Privacy: staff see a proposal only redacted (`nlp.redact`), and the public text is the redacted text unless staff
typed their own wording; only `public_text` of an approved idea is ever shown to another citizen.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import and_, delete, func, or_, select, update

from bot.storage import models as m
from handlers.events import (
    IDEA_STATUS_KIND,
    PUBLICATION_APPROVED,
    PUBLICATION_NONE,
    PUBLICATION_PENDING,
    PUBLICATION_REJECTED,
    PUBLICATION_WITHDRAWN,
    PUBLISH_CONSENTS,
    PUBLISH_NO,
    Outbound,
    Texts,
)
from handlers.publication_render import (
    MODERATION_QUEUE_KIND,
    PUBLICATION_KIND,
    render_withdrawn,
)
from handlers.turn import clip
from nlp.redact import redact

if TYPE_CHECKING:
    from bot.storage.db import UnitOfWork

PUBLIC_TEXT_MAX: Final = 1000
"""Longest public wording staff may type (characters)."""
REASON_MAX: Final = 500
"""Longest rejection reason (it goes into a chat message to the author)."""
EXCERPT_MAX: Final = 80


class PublicationError(Exception):
    """A publication change that cannot be made. `code` is stable (for the chat's texts); str() is English for the
    CLI: unknown_idea, not_pending, not_yours, not_published, empty_text, too_long, reason_required, same_idea,
    merged, already_merged."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Proposal:
    """A pending proposal as moderators see it: the text always redacted (`proposed`), never the author."""

    idea_id: str
    proposed: str
    field: str | None
    created_at: datetime
    consent: str | None
    waiting: int  # pending proposals in all (this one included)


# --------------------------------------------------------------------------------------------- consent and queue


def set_consent(
    uow: UnitOfWork, citizen_id: str, idea_id: str, consent: str, now: datetime, staff_citizens: Collection[str]
) -> bool:
    """Store the author's answer to the publish question; "yes"/"keep" put an unpublished idea into the moderation
    queue and notify staff; "no" takes a pending or published idea back (a button of an older message). A rejected
    idea is not queued again. Returns whether the idea is now pending. Another citizen's or an unknown idea:
    nothing happens."""
    if consent not in PUBLISH_CONSENTS:
        raise ValueError(f"consent must be one of {PUBLISH_CONSENTS}, got {consent!r}")
    row = uow.session.execute(
        select(m.Idea.publication).where(m.Idea.id == idea_id, m.Idea.citizen_id == citizen_id)
    ).first()
    if row is None:
        return False
    values: dict[str, Any] = {"publish_consent": consent}
    queued = consent != PUBLISH_NO and row.publication in (PUBLICATION_NONE, PUBLICATION_WITHDRAWN)
    if queued:
        values.update(publication=PUBLICATION_PENDING, publication_at=now)
    elif consent == PUBLISH_NO and row.publication == PUBLICATION_PENDING:
        values.update(publication=PUBLICATION_NONE, publication_at=now)
    elif consent == PUBLISH_NO and row.publication == PUBLICATION_APPROVED:  # "Nein" on an older message: taken back
        values.update(publication=PUBLICATION_WITHDRAWN, public_text=None, publication_at=now)
        uow.follow_ups.cancel_supporters_news([idea_id], now)  # unsent news would quote the public text
    uow.session.execute(update(m.Idea).where(m.Idea.id == idea_id).values(**values))
    if queued:
        notify_staff(uow, staff_citizens, now)
    return queued


def pending_count(uow: UnitOfWork) -> int:
    """Proposals waiting for moderation."""
    query = select(func.count()).where(m.Idea.publication == PUBLICATION_PENDING, m.Idea.merged_into.is_(None))
    return int(uow.session.execute(query).scalar_one())


def notify_staff(uow: UnitOfWork, staff_citizens: Collection[str], now: datetime) -> int:
    """Tell every staff member who has talked to the bot how many proposals wait: one `moderation_queue` row each,
    an unsent older one replaced. Returns the rows written."""
    waiting = pending_count(uow)
    if not waiting:
        return 0
    known = set(uow.session.execute(select(m.Citizen.id).where(m.Citizen.id.in_(list(staff_citizens)))).scalars())
    for citizen in sorted(known):
        uow.follow_ups.supersede(citizen, MODERATION_QUEUE_KIND, "queue", "moderation", now)
        uow.follow_ups.add(citizen, now, MODERATION_QUEUE_KIND, {"queue": "moderation", "pending": waiting},
                           now=now, unsolicited=False)  # fmt: skip
    return len(known)


def next_proposal(uow: UnitOfWork, after: str | None = None) -> Proposal | None:
    """The oldest pending proposal (after the one `after` names, for "Überspringen"; wraps round to the oldest)."""
    order = (m.Idea.created_at, m.Idea.id)
    base = select(m.Idea.id, m.Idea.text, m.Idea.field, m.Idea.created_at, m.Idea.publish_consent).where(
        m.Idea.publication == PUBLICATION_PENDING, m.Idea.merged_into.is_(None)
    )
    row = None
    if after:
        skipped = uow.session.execute(select(m.Idea.created_at).where(m.Idea.id == after)).scalar_one_or_none()
        if skipped is not None:
            later = or_(m.Idea.created_at > skipped, and_(m.Idea.created_at == skipped, m.Idea.id > after))
            row = uow.session.execute(base.where(later).order_by(*order).limit(1)).first()
    if row is None:
        row = uow.session.execute(base.order_by(*order).limit(1)).first()
    return None if row is None else _proposal(uow, row)


def _proposal(uow: UnitOfWork, row: Any) -> Proposal:
    return Proposal(row.id, redact(row.text), row.field, row.created_at, row.publish_consent, pending_count(uow))


def pending(uow: UnitOfWork, limit: int = 100) -> list[Proposal]:
    """The oldest `limit` pending proposals (redacted), oldest first (the CLI's `--list`)."""
    waiting = pending_count(uow)
    rows = uow.session.execute(
        select(m.Idea.id, m.Idea.text, m.Idea.field, m.Idea.created_at, m.Idea.publish_consent)
        .where(m.Idea.publication == PUBLICATION_PENDING, m.Idea.merged_into.is_(None))
        .order_by(m.Idea.created_at, m.Idea.id)
        .limit(limit)
    )
    return [Proposal(r.id, redact(r.text), r.field, r.created_at, r.publish_consent, waiting) for r in rows]


# ---------------------------------------------------------------------------------------------- approve / reject


def _pending_idea(uow: UnitOfWork, idea_id: str) -> Any:
    row = uow.session.execute(
        select(m.Idea.id, m.Idea.citizen_id, m.Idea.text, m.Idea.created_at, m.Idea.publication, m.Idea.merged_into)
        .where(m.Idea.id == idea_id)
    ).first()
    if row is None:
        raise PublicationError("unknown_idea", f"no idea with the id {idea_id!r}")
    if row.publication != PUBLICATION_PENDING or row.merged_into is not None:
        raise PublicationError("not_pending", f"the idea is not waiting for moderation (it is {row.publication})")
    return row


def _tell_author(uow: UnitOfWork, row: Any, payload: Mapping[str, Any], now: datetime) -> None:
    if row.citizen_id is None:
        return
    uow.follow_ups.supersede(row.citizen_id, PUBLICATION_KIND, "idea_id", row.id, now)
    full = {"idea_id": row.id, "excerpt": clip(row.text, EXCERPT_MAX), "filed_at": row.created_at.isoformat(),
            **payload}  # fmt: skip
    uow.follow_ups.add(row.citizen_id, now, PUBLICATION_KIND, full, now=now, unsolicited=False)


def approve(uow: UnitOfWork, idea_id: str, wording: str | None, now: datetime) -> str:
    """Publish a pending idea with `wording` (staff's own) or, without it, its redacted text; the author is told
    (with the public wording, and whether it was edited). Returns the public text."""
    row = _pending_idea(uow, idea_id)
    typed = (wording or "").strip()
    if wording is not None and not typed:
        raise PublicationError("empty_text", "the public wording is empty")
    if len(typed) > PUBLIC_TEXT_MAX:
        raise PublicationError("too_long", f"the public wording has {len(typed)} characters; at most "
                                           f"{PUBLIC_TEXT_MAX} are allowed")  # fmt: skip
    redacted = redact(row.text).strip()
    public = typed or redacted
    values: dict[str, Any] = {"publication": PUBLICATION_APPROVED, "public_text": public, "publication_note": None,
                              "publication_at": now}  # fmt: skip
    if public != row.text.strip():
        # the stored vector is of the private text: other citizens' searches must not match on words only the
        # author wrote. The idea leaves the index until the background job embeds its public text.
        values.update(embedding=None, embedding_model=None)
    uow.session.execute(update(m.Idea).where(m.Idea.id == idea_id).values(**values))
    _tell_author(uow, row, {"outcome": PUBLICATION_APPROVED, "public_text": public,
                            "edited": public != row.text.strip()}, now)  # fmt: skip
    return public


def reject(uow: UnitOfWork, idea_id: str, reason: str, now: datetime) -> None:
    """Decline a pending idea; the author is told the reason (required)."""
    row = _pending_idea(uow, idea_id)
    told = reason.strip()
    if not told:
        raise PublicationError("reason_required", "a rejection needs a reason (the author is told)")
    if len(told) > REASON_MAX:
        raise PublicationError("too_long", f"the reason has {len(told)} characters; at most {REASON_MAX}")
    uow.session.execute(
        update(m.Idea).where(m.Idea.id == idea_id).values(
            publication=PUBLICATION_REJECTED, public_text=None, publication_note=told, publication_at=now
        )
    )
    uow.follow_ups.cancel_supporters_news([idea_id], now)  # supporters of an earlier publication: no news
    _tell_author(uow, row, {"outcome": PUBLICATION_REJECTED, "reason": told}, now)


# ---------------------------------------------------------------------------------------------------- withdraw


def withdraw_idea(uow: UnitOfWork, citizen_id: str, idea_id: str, now: datetime) -> str:
    """The author takes back the publication of their idea (pending or approved): it leaves the board and the
    index, its public text is dropped. Returns the publication state before. Raises PublicationError."""
    row = uow.session.execute(
        select(m.Idea.publication, m.Idea.citizen_id).where(m.Idea.id == idea_id)
    ).first()
    if row is None:
        raise PublicationError("unknown_idea", "no such idea")
    if row.citizen_id != citizen_id:
        raise PublicationError("not_yours", "only the author withdraws an idea's publication")
    if row.publication not in (PUBLICATION_PENDING, PUBLICATION_APPROVED):
        raise PublicationError("not_published", f"the idea is not published (it is {row.publication})")
    uow.session.execute(
        update(m.Idea).where(m.Idea.id == idea_id).values(
            publication=PUBLICATION_WITHDRAWN, public_text=None, publication_at=now
        )
    )
    uow.follow_ups.supersede(citizen_id, PUBLICATION_KIND, "idea_id", idea_id, now)
    uow.follow_ups.cancel_supporters_news([idea_id], now)  # unsent news would quote the public text
    return str(row.publication)


def withdraw(
    uow: UnitOfWork, citizen_id: str, idea_id: str, lang: str, texts: Texts, now: datetime
) -> tuple[Outbound, ...]:
    """`IdeaRequest(IDEA_WITHDRAW, idea_id)` from the `iw:<id>` button: withdraw and say so (H-SEARCH's IdeaBoard
    dispatches it here). Supporters keep nothing they could see: the idea leaves the board at once."""
    try:
        before = withdraw_idea(uow, citizen_id, idea_id, now)
    except PublicationError as exc:
        return (render_withdrawn(texts, lang, exc.code),)
    return (render_withdrawn(texts, lang, "ok" if before == PUBLICATION_APPROVED else "ok_pending"),)


# ------------------------------------------------------------------------------------------------------- merge


@dataclass(frozen=True)
class MergePlan:
    """What merging `source` into `target` would do (the preview) or did."""

    source: str
    target: str
    source_text: str  # redacted, for staff
    target_text: str  # redacted, for staff
    target_public: bool  # INTO is approved: authors of FROM may be shown its public text
    supporters_moved: int
    supporters_already: int
    author_becomes_supporter: bool


def _merge_rows(uow: UnitOfWork, source: str, target: str) -> tuple[Any, Any]:
    if source == target:
        raise PublicationError("same_idea", "an idea cannot be merged into itself")
    columns = (m.Idea.id, m.Idea.citizen_id, m.Idea.text, m.Idea.publication, m.Idea.public_text,
               m.Idea.merged_into, m.Idea.created_at)  # fmt: skip
    rows = {r.id: r for r in uow.session.execute(select(*columns).where(m.Idea.id.in_([source, target])))}
    if source not in rows or target not in rows:
        raise PublicationError("unknown_idea", "no such idea")
    if rows[source].merged_into is not None:
        raise PublicationError("already_merged", "the first idea is already merged into another one")
    if rows[target].merged_into is not None:
        raise PublicationError("merged", "the second idea is itself merged into another one; merge into that")
    return rows[source], rows[target]


def _supporters(uow: UnitOfWork, idea_id: str) -> dict[str, bool]:
    query = select(m.IdeaSupport.citizen_id, m.IdeaSupport.news).where(m.IdeaSupport.idea_id == idea_id)
    return {row.citizen_id: bool(row.news) for row in uow.session.execute(query)}


def _wants_news(uow: UnitOfWork, citizen_id: str) -> bool:
    return "idea_news" in uow.opt_ins.current(citizen_id)


def merge_plan(uow: UnitOfWork, source: str, target: str) -> MergePlan:
    """The dry run of a merge (nothing changes). Raises PublicationError."""
    src, dst = _merge_rows(uow, source, target)
    moving, there = _supporters(uow, source), _supporters(uow, target)
    author = src.citizen_id
    return MergePlan(
        source, target, redact(src.text), redact(dst.text), dst.publication == PUBLICATION_APPROVED,
        supporters_moved=sum(1 for c in moving if c not in there and c != dst.citizen_id),
        supporters_already=sum(1 for c in moving if c in there),
        author_becomes_supporter=author is not None and author != dst.citizen_id and author not in there,
    )  # fmt: skip


def merge(uow: UnitOfWork, source: str, target: str, now: datetime) -> MergePlan:
    """Merge idea `source` into `target`: FROM leaves the board (merged_into, publication_at), its supporters move
    to INTO (no duplicates, never INTO's own author; news wishes kept), FROM's author becomes a supporter of INTO
    (with news if they have the idea_news opt-in) and is told by an idea_news row — showing INTO's public text only
    if INTO is approved. Raises PublicationError."""
    plan = merge_plan(uow, source, target)
    src, dst = _merge_rows(uow, source, target)
    moving, there = _supporters(uow, source), _supporters(uow, target)
    for citizen, news in moving.items():
        if citizen == dst.citizen_id:
            continue
        if citizen in there:
            if news and not there[citizen]:
                uow.session.execute(update(m.IdeaSupport).where(
                    m.IdeaSupport.idea_id == target, m.IdeaSupport.citizen_id == citizen).values(news=True))
        else:
            uow.session.add(m.IdeaSupport(idea_id=target, citizen_id=citizen, created_at=now, news=news))
    uow.session.flush()
    uow.session.execute(delete(m.IdeaSupport).where(m.IdeaSupport.idea_id == source))
    author = src.citizen_id
    news_on = author is not None and _wants_news(uow, author)
    if plan.author_becomes_supporter and author is not None:
        uow.session.add(m.IdeaSupport(idea_id=target, citizen_id=author, created_at=now, news=news_on))
        uow.session.flush()
    uow.session.execute(
        update(m.Idea).where(m.Idea.id == source).values(merged_into=target, merged_at=now, publication_at=now)
    )
    if author is not None:
        uow.follow_ups.supersede(author, PUBLICATION_KIND, "idea_id", source, now)
        payload = {
            "idea_id": source,
            "merged": True,
            "excerpt": clip(src.text, EXCERPT_MAX),
            "filed_at": src.created_at.isoformat(),
            "status": None,
            "into_public_text": dst.public_text if dst.publication == PUBLICATION_APPROVED else None,
        }
        uow.follow_ups.add(author, now, IDEA_STATUS_KIND, payload, now=now, unsolicited=True)
    return plan
