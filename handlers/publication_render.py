"""Messages about publishing ideas (issue 13), pure: the author's news of a moderation decision, the staff's queue
notice, a proposal in the moderation queue, the merge preview, and the answer to withdrawing a publication.

Staff button payloads (prefix "sf", read by `handlers.staff`; ids are internal 32-hex ids, ≤ 64 bytes):
    sf:pa:<id>  Freigeben        sf:pe:<id>  Text ändern      sf:pr:<id>  Ablehnen      sf:ps:<id>  Überspringen
    sf:M:<i_ref>:<i_ref>  merge confirmed after its preview
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from handlers.events import PUBLICATION_APPROVED, ROLE_STAFF, Button, Outbound, Texts
from handlers.formats import local_day
from handlers.turn import clip, column

PREFIX = "sf"
PUBLICATION_KIND = "idea_publication"
"""follow_ups kind: the author hears of the moderation decision (solicited). Payload: idea_id, excerpt, filed_at,
outcome ("approved" / "rejected"), public_text + edited (approved), reason (rejected)."""
MODERATION_QUEUE_KIND = "moderation_queue"
"""follow_ups kind: a staff member hears the queue grew. Payload: queue ("moderation"), pending (count)."""
EXCERPT = 80
STATE_TEXTS: Mapping[str, str] = {
    "none": "publication.state_none",
    "pending": "publication.state_pending",
    "approved": "publication.state_approved",
    "rejected": "publication.state_rejected",
    "withdrawn": "publication.state_withdrawn",
}
"""The text key of each publication state (handlers.events.PUBLICATIONS)."""
CONSENT_TEXTS: Mapping[str, str] = {
    "yes": "publication.export_consent_yes",
    "keep": "publication.export_consent_keep",
    "no": "publication.export_consent_no",
}
"""The text key of each answer to the publish question (handlers.events.PUBLISH_CONSENTS)."""


def _t(texts: Texts, lang: str, key: str, **values: Any) -> str:
    return texts.get(key, lang, **values)


def state_label(texts: Texts, lang: str, state: str) -> str:
    """A publication state as citizens read it; an unknown stored value as it is."""
    key = STATE_TEXTS.get(state)
    return state if key is None else texts.get(key, lang)


def render_publication_news(payload: Mapping[str, Any], texts: Texts, lang: str, tz: tzinfo) -> Outbound:
    """The author's message: their idea was published (with the public wording, edited or not) or declined."""
    try:
        filed: datetime | None = datetime.fromisoformat(str(payload.get("filed_at") or ""))
    except ValueError:
        filed = None
    date = "–" if filed is None else local_day(filed, lang, tz)
    lines = [_t(texts, lang, "publication.news_intro", date=date),
             f"„{clip(str(payload.get('excerpt') or ''), EXCERPT)}“", ""]  # fmt: skip
    if payload.get("outcome") == PUBLICATION_APPROVED:
        key = "publication.approved_edited" if payload.get("edited") else "publication.approved"
        lines += [_t(texts, lang, key), f"„{payload.get('public_text') or ''}“", "",
                  _t(texts, lang, "publication.withdraw_hint")]  # fmt: skip
    else:
        lines += [_t(texts, lang, "publication.rejected", reason=str(payload.get("reason") or "–"))]
    return Outbound(text="\n".join(lines))


def render_merge_news(payload: Mapping[str, Any], texts: Texts, lang: str, tz: tzinfo) -> Outbound:
    """The author's message that staff merged their idea into a similar one (INTO's text only when published)."""
    lines = [_t(texts, lang, "publication.merged"), f"„{clip(str(payload.get('excerpt') or ''), EXCERPT)}“"]
    public = payload.get("into_public_text")
    if public:
        lines += ["", _t(texts, lang, "publication.merged_into"), f"„{public}“"]
    else:
        lines += ["", _t(texts, lang, "publication.merged_unpublished")]
    lines += ["", _t(texts, lang, "publication.merged_outro")]
    return Outbound(text="\n".join(lines))


def render_queue_notice(payload: Mapping[str, Any], texts: Texts, lang: str) -> Outbound:
    """A staff member's notice that proposals wait for moderation."""
    return Outbound(text=_t(texts, lang, "moderation.queue_notice", count=payload.get("pending") or 0))


def render_withdrawn(texts: Texts, lang: str, code: str) -> Outbound:
    """The answer to "Veröffentlichung zurücknehmen" (`code`: ok, ok_pending, or a PublicationError code)."""
    key = {"ok": "publication.withdrawn", "ok_pending": "publication.withdrawn_pending",
           "not_published": "publication.withdraw_not_published"}.get(code, "publication.withdraw_unknown")  # fmt: skip
    return Outbound(text=_t(texts, lang, key))


def render_proposal(
    idea_id: str | None,
    proposed: str,
    field: str,
    created_at: datetime | None,
    waiting: int,
    role: str,
    texts: Texts,
    lang: str,
    tz: tzinfo,
) -> tuple[Outbound, ...]:
    """/freigabe: the oldest proposal (already redacted) with its buttons; staff only get the buttons."""
    if idea_id is None or created_at is None:
        return (Outbound(text=_t(texts, lang, "moderation.empty")),)
    text = "\n".join([
        _t(texts, lang, "moderation.head", count=waiting, date=local_day(created_at, lang, tz), field=field),
        f"„{proposed}“",
        "",
        _t(texts, lang, "moderation.redacted_note"),
    ])  # fmt: skip
    if role != ROLE_STAFF:
        return (Outbound(text=text + "\n\n" + _t(texts, lang, "moderation.analyst_note")),)
    buttons = [
        Button(f"{PREFIX}:pa:{idea_id}", _t(texts, lang, "moderation.approve")),
        Button(f"{PREFIX}:pe:{idea_id}", _t(texts, lang, "moderation.edit")),
        Button(f"{PREFIX}:pr:{idea_id}", _t(texts, lang, "moderation.reject")),
        Button(f"{PREFIX}:ps:{idea_id}", _t(texts, lang, "moderation.skip")),
    ]
    return (Outbound(text=text + "\n\n" + _t(texts, lang, "moderation.ask"), buttons=column(buttons)),)


def render_merge_preview(
    source_ref: str, target_ref: str, source_text: str, target_text: str, target_public: bool, moved: int,
    already: int, author_joins: bool, texts: Texts, lang: str,
) -> tuple[Outbound, ...]:  # fmt: skip
    """The dry run of a merge and its confirm button (texts redacted)."""
    lines = [
        _t(texts, lang, "moderation.merge_preview", source=source_ref, target=target_ref),
        f"{source_ref}: „{clip(source_text, 200)}“",
        f"{target_ref}: „{clip(target_text, 200)}“",
        "",
        _t(texts, lang, "moderation.merge_figures", moved=moved, already=already),
        _t(texts, lang, "moderation.merge_author" if author_joins else "moderation.merge_author_no"),
        _t(texts, lang, "moderation.merge_public" if target_public else "moderation.merge_unpublished"),
        "",
        _t(texts, lang, "moderation.merge_ask"),
    ]
    buttons = [Button(f"{PREFIX}:M:{source_ref}:{target_ref}", _t(texts, lang, "moderation.merge_confirm")),
               Button(f"{PREFIX}:no", _t(texts, lang, "moderation.cancel"))]  # fmt: skip
    return (Outbound(text="\n".join(lines), buttons=column(buttons)),)
