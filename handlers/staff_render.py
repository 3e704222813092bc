"""Messages made from what the runtime loaded for staff (`handlers.staff_views`) and for /meineideen, and the
news an idea's author receives when its status changes. Pure: data and texts in, `Outbound` messages out.

The status news is rendered by one function, `render_idea_news`, used both for the message the author receives
(a due follow_ups row) and for the preview staff confirm before saving — so staff see exactly what goes out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from handlers.events import (
    IDEA_STATUSES,
    PUBLICATION_APPROVED,
    PUBLICATION_NONE,
    PUBLICATION_PENDING,
    ROLE_STAFF,
    Button,
    FieldInfo,
    Outbound,
    Texts,
)
from handlers.formats import local_day, local_minute
from handlers.publication_render import state_label
from handlers.staff_views import (
    CampaignFigures,
    CampaignLine,
    CampaignPreview,
    IdeaItem,
    MyIdea,
    NewIdeas,
    SupportedIdea,
)
from handlers.turn import clip, column

PREFIX = "sf"
"""Payload prefix of every staff button (`handlers.staff` reads them)."""
NO_FIELD_TOKEN = "-"
"""`sf:n:-`: more of the ideas filed without a field."""
PERCENT_FROM = 20
"""Below this many invitations a percentage would mislead: only counts are shown (the CLI uses it too)."""
EXCERPT = 80
"""Characters of an idea's text quoted in the status news (the author's own words)."""
LIST_TEXT = 160
"""Characters of an idea's text in staff lists (Telegram texts are redacted and shortened before this)."""
MAX_CAMPAIGN_BUTTONS = 10
MAX_MY_BUTTONS = 10
"""/meineideen: at most this many withdraw buttons and this many unsupport buttons (the newest)."""


STATUS_TEXTS: Mapping[str, str] = {
    "new": "idea_status.new",
    "review": "idea_status.review",
    "planned": "idea_status.planned",
    "done": "idea_status.done",
    "rejected": "idea_status.rejected",
}
"""The text key of each idea status (handlers.events.IDEA_STATUSES)."""
CAMPAIGN_STATUS_TEXTS: Mapping[str, str] = {
    "draft": "campaign_status.draft",
    "scheduled": "campaign_status.scheduled",
    "running": "campaign_status.running",
    "closed": "campaign_status.closed",
    "cancelled": "campaign_status.cancelled",
}
AUDIENCE_TEXTS: Mapping[str, str] = {
    "channels": "staff.audience_channels",
    "languages": "staff.audience_languages",
    "fields": "staff.audience_fields",
}
"""The names of a campaign's audience filters (`CampaignFigures.audience` keys) → text key."""
PROBLEM_TEXTS: Mapping[str, str] = {
    "not_draft": "staff.problem_not_draft",
    "not_running": "staff.problem_not_running",
    "scheduled": "staff.problem_scheduled",
    "ended": "staff.problem_ended",
    "survey_closed": "staff.problem_survey_closed",
    "survey_gone": "staff.problem_survey_gone",
}
"""Why a campaign cannot be launched or closed now (`CampaignPreview.problem`) → text key."""


def status_label(texts: Texts, lang: str, status: str) -> str:
    """An idea status as readers see it ("in Prüfung"); an unknown stored value as it is."""
    key = STATUS_TEXTS.get(status)
    return status if key is None else texts.get(key, lang)


class _Writer:
    """Texts, language, time zone and field names for one answer."""

    def __init__(self, texts: Texts, lang: str, tz: tzinfo, fields: Sequence[FieldInfo] = ()) -> None:
        self.texts, self.lang, self.tz = texts, lang, tz
        self.field_names = {info.key: info.label(lang) for info in fields}

    def t(self, key: str, **values: Any) -> str:
        return self.texts.get(key, self.lang, **values)

    def day(self, moment: datetime | None) -> str:
        return "–" if moment is None else local_day(moment, self.lang, self.tz)

    def minute(self, moment: datetime | None) -> str:
        return "–" if moment is None else local_minute(moment, self.lang, self.tz)

    def status(self, status: str) -> str:
        return status_label(self.texts, self.lang, status)

    def campaign_status(self, status: str) -> str:
        key = CAMPAIGN_STATUS_TEXTS.get(status)
        return status if key is None else self.t(key)

    def field(self, key: str | None) -> str:
        if not key:
            return self.t("staff.no_field")
        return self.field_names.get(key, key)

    def fields(self, keys: Sequence[str]) -> str:
        return ", ".join(self.field(key) for key in keys) if keys else self.t("staff.no_field")

    def note(self, note: str | None, note_en: str | None) -> str | None:
        """The note in the reader's language: English when there is one and they read English, else German."""
        if self.lang == "en" and note_en:
            return note_en
        return note or None

    def percent(self, part: int, whole: int) -> str:
        if whole < PERCENT_FROM:
            return self.t("staff.share_small", part=part, whole=whole)
        return self.t("staff.share", part=part, whole=whole, percent=round(100 * part / whole))


# ---------------------------------------------------------------------------------------------- the author's news


def render_idea_news(payload: Mapping[str, Any], texts: Texts, lang: str, tz: tzinfo) -> Outbound:
    """The message to an idea's author that its status changed (payload of the `idea_news` follow_ups row:
    status, note, note_en, excerpt, filed_at), or to a supporter who asked for its news (`supporter: true`)."""
    w = _Writer(texts, lang, tz)
    supporter = bool(payload.get("supporter"))  # a supporter's news: the excerpt is of the public text
    try:
        filed = datetime.fromisoformat(str(payload.get("filed_at") or ""))
    except ValueError:
        filed = None
    if supporter:
        intro = w.t("board.news_intro")
    else:
        intro = w.t("idea_news.intro", date=w.day(filed)) if filed is not None else w.t("idea_news.intro_undated")
    lines = [
        intro,
        f"„{clip(str(payload.get('excerpt') or ''), EXCERPT)}“",
        "",
        w.t("idea_news.status", status=w.status(str(payload.get("status") or ""))),
    ]
    note = w.note(_text(payload.get("note")), _text(payload.get("note_en")))
    if note:
        lines.append(w.t("idea_news.note", note=note))
    lines += ["", w.t("board.news_outro" if supporter else "idea_news.outro")]
    return Outbound(text="\n".join(lines))


def _text(value: object) -> str | None:
    return str(value) if value else None


# ------------------------------------------------------------------------------------------------- /meineideen


def render_my_ideas(
    ideas: Sequence[MyIdea], texts: Texts, lang: str, tz: tzinfo, fields: Sequence[FieldInfo],
    supported: Sequence[SupportedIdea] = (),
) -> tuple[Outbound, ...]:  # fmt: skip
    """/meineideen: every own idea with its status, the city's note, the date of the last change and where its
    publication stands; then the ideas the citizen supports. Buttons withdraw a publication (`iw:<id>`) or a
    support (`ix:<id>`); with buttons the message ends with a question (the Matrix poll's heading)."""
    w = _Writer(texts, lang, tz, fields)
    if not ideas and not supported:
        return (Outbound(text=w.t("my_ideas.none")),)
    blocks = [w.t("my_ideas.intro", count=len(ideas))] if ideas else [w.t("my_ideas.none")]
    buttons: list[Button] = []
    for number, idea in enumerate(ideas, start=1):
        lines = [
            w.t(
                "my_ideas.idea",
                number=number,
                date=w.day(idea.created_at),
                text=clip(idea.text, 300),
                fields=w.fields(idea.fields),
            ),
            w.t("my_ideas.status", status=w.status(idea.status), date=w.day(idea.status_at or idea.created_at)),
        ]
        note = w.note(idea.status_note, idea.status_note_en)
        if note:
            lines.append(w.t("my_ideas.note", note=note))
        lines += _publication_lines(w, idea)
        if idea.publication in (PUBLICATION_PENDING, PUBLICATION_APPROVED) and idea.idea_id and not idea.merged:
            label = w.t("publication.my_withdraw_button", text=clip(idea.public_text or idea.text, BUTTON_EXCERPT))
            buttons.append(Button(f"iw:{idea.idea_id}", label))
        blocks.append("\n".join(lines))
    if supported:
        entries = [w.t("publication.my_supported", number=number, text=clip(item.public_text, 200),
                       count=item.supporters) for number, item in enumerate(supported, start=1)]  # fmt: skip
        blocks.append("\n".join([w.t("publication.my_supported_head", count=len(supported)), *entries]))
        # Labels name the idea, not a list number: a typed number counts the buttons, not the list.
        buttons += [Button(f"ix:{item.idea_id}", w.t("publication.my_unsupport_button",
                                                      text=clip(item.public_text, BUTTON_EXCERPT)))
                    for item in supported]  # fmt: skip
    blocks.append(w.t("my_ideas.outro"))
    withdraw = [b for b in buttons if b.payload.startswith("iw:")][:MAX_MY_BUTTONS]
    unsupport = [b for b in buttons if b.payload.startswith("ix:")][:MAX_MY_BUTTONS]
    if withdraw or unsupport:
        blocks.append(w.t("publication.my_ask"))
    return (Outbound(text="\n\n".join(blocks), buttons=column([*withdraw, *unsupport])),)


BUTTON_EXCERPT = 32
"""Characters of an idea's text in a button label (Telegram shows about 35 on a phone)."""


def _publication_lines(w: _Writer, idea: MyIdea) -> list[str]:
    """Where the idea's publication stands (nothing for an idea never proposed, as before issue 13)."""
    if idea.merged:
        return [w.t("publication.my_merged")]
    if idea.publication == PUBLICATION_NONE:
        return []
    lines = [w.t("publication.my_publication", state=state_label(w.texts, w.lang, idea.publication))]
    if idea.publication == PUBLICATION_APPROVED and idea.public_text:
        lines.append(w.t("publication.my_public_text", text=clip(idea.public_text, 300)))
        lines.append(w.t("publication.my_supporters", count=idea.supporters))
    if idea.publication_note:
        lines.append(w.t("publication.my_reason", reason=clip(idea.publication_note, 300)))
    return lines


# --------------------------------------------------------------------------------------------------- campaigns


def render_campaigns(lines: Sequence[CampaignLine], texts: Texts, lang: str, tz: tzinfo) -> tuple[Outbound, ...]:
    """/kampagnen: one line per campaign with its main figures, a button per campaign for the details."""
    w = _Writer(texts, lang, tz)
    if not lines:
        return (Outbound(text=w.t("staff.no_campaigns")),)
    entries = [w.t("staff.campaigns_intro", count=len(lines))]
    for line in lines:
        entries.append(
            w.t(
                "staff.campaign_line",
                id=line.id,
                name=line.name,
                status=w.campaign_status(line.status),
                start=w.day(line.starts_at),
                end=w.day(line.ends_at),
                invited=line.invited,
                delivered=line.delivered,
                started=line.started,
                completed=line.completed,
            )
        )
    buttons = [Button(f"{PREFIX}:c:{line.id}", clip(f"#{line.id} {line.name}", 60)) for line in lines]
    entries.append(w.t("staff.ask_campaign"))  # a question last: Matrix shows it as the poll's heading
    return (Outbound(text="\n\n".join(entries), buttons=column(buttons[:MAX_CAMPAIGN_BUTTONS])),)


def render_campaign(
    figures: CampaignFigures,
    role: str,
    texts: Texts,
    lang: str,
    tz: tzinfo,
    fields: Sequence[FieldInfo],
    now: datetime,
) -> tuple[Outbound, ...]:
    """/kampagne N: the live figures; staff get the launch or close button that fits its status."""
    w = _Writer(texts, lang, tz, fields)
    line = figures.line
    version = "" if line.survey_version is None else f" v{line.survey_version}"
    filters = "; ".join(
        f"{w.t(AUDIENCE_TEXTS.get(name, 'staff.audience_other'), name=name)}: "
        + ", ".join(w.field(value) if name == "fields" else value for value in values)
        for name, values in figures.audience.items()
        if values
    )
    parts = [
        w.t(
            "staff.campaign_head",
            id=line.id,
            name=line.name,
            status=w.campaign_status(line.status),
            survey=f"{line.survey_key}{version}",
            start=w.minute(line.starts_at),
            end=w.minute(line.ends_at),
            audience=filters or w.t("staff.audience_all"),
        ),
        w.t(
            "staff.campaign_figures",
            invited=line.invited,
            delivered=w.percent(line.delivered, line.invited),
            waiting=figures.waiting,
            started=w.percent(line.started, line.invited),
            completed=w.percent(line.completed, line.invited),
            unreachable=figures.unreachable,
            skipped=figures.skipped,
            cancelled=figures.cancelled,
            reminders=figures.reminders_sent,
        ),
    ]
    rate = "–" if figures.completion_rate is None else f"{round(100 * figures.completion_rate)} %"
    median = "–" if figures.median_minutes is None else _minutes(w, figures.median_minutes)
    parts.append(w.t("staff.campaign_rates", rate=rate, median=median))
    if figures.drop_off:
        rows = [
            w.t(
                "staff.drop_off_line",
                number=number,
                question=clip(step.text.get(lang) or step.text.get("de") or step.question_id, 50),
                reached=step.reached,
                stopped=step.stopped_here,
            )
            for number, step in enumerate(figures.drop_off, start=1)
        ]
        parts.append("\n".join([w.t("staff.drop_off_head"), *rows]))
    ideas = [f"• {w.field(key)}: {count}" for key, count in figures.ideas_per_field.items()]
    parts.append("\n".join([w.t("staff.ideas_head"), *(ideas or [w.t("staff.ideas_none")])]))
    buttons = []
    if role == ROLE_STAFF and line.status == "draft":
        buttons.append(Button(f"{PREFIX}:lp:{line.id}", w.t("staff.launch_button")))
    if role == ROLE_STAFF and line.status == "running":
        buttons.append(Button(f"{PREFIX}:cp:{line.id}", w.t("staff.close_button")))
    buttons.append(Button(f"{PREFIX}:c:{line.id}", w.t("staff.refresh")))
    parts.append(w.t("staff.as_of", time=w.minute(now)))
    parts.append(w.t("staff.ask_next"))
    return (Outbound(text="\n\n".join(parts), buttons=column(buttons)),)


def _minutes(w: _Writer, minutes: float) -> str:
    if minutes < 90:
        return w.t("staff.minutes", count=max(1, round(minutes)))
    return w.t("staff.hours", count=round(minutes / 60, 1))


def render_preview(preview: CampaignPreview, texts: Texts, lang: str, tz: tzinfo) -> tuple[Outbound, ...]:
    """The dry run before launching or closing: what would happen, and the one button that does it."""
    w = _Writer(texts, lang, tz)
    line = preview.line
    if preview.problem is not None:
        key = PROBLEM_TEXTS.get(preview.problem, "staff.problem_unknown")
        text = w.t(key, id=line.id, status=w.campaign_status(line.status))
        return (Outbound(text=text),)
    if preview.action == "launch":
        channels = ", ".join(f"{name} {count}" for name, count in sorted(preview.by_channel.items())) or "–"
        languages = ", ".join(f"{name} {count}" for name, count in sorted(preview.by_language.items())) or "–"
        text = w.t("staff.launch_preview", id=line.id, name=line.name, survey=line.survey_key,
                   start=w.minute(line.starts_at), end=w.minute(line.ends_at), audience=preview.audience,
                   channels=channels, languages=languages)  # fmt: skip
        confirm = Button(f"{PREFIX}:L:{line.id}", w.t("staff.launch_confirm"))
    else:
        text = w.t("staff.close_preview", id=line.id, name=line.name, pending=preview.pending,
                   completed=line.completed, started=line.started)  # fmt: skip
        confirm = Button(f"{PREFIX}:C:{line.id}", w.t("staff.close_confirm"))
    return (Outbound(text=text, buttons=column([confirm, Button(f"{PREFIX}:no", w.t("staff.cancel"))])),)


# ------------------------------------------------------------------------------------------------------- ideas


def _idea_lines(w: _Writer, item: IdeaItem) -> list[str]:
    lines = [
        w.t("staff.idea_line", ref=item.ref, date=w.day(item.created_at), status=w.status(item.status)),
        f"„{clip(item.text, LIST_TEXT)}“",
    ]
    return lines


def render_new_ideas(
    new: NewIdeas, texts: Texts, lang: str, tz: tzinfo, fields: Sequence[FieldInfo], only_field: str | None = None
) -> tuple[Outbound, ...]:
    """/ideen_neu: the latest ideas per field; buttons open a field (or, for one field, each idea)."""
    w = _Writer(texts, lang, tz, fields)
    blocks = [w.t("staff.new_ideas_intro_field", field=w.field(only_field)) if only_field is not None
              else w.t("staff.new_ideas_intro")]  # fmt: skip
    buttons: list[Button] = []
    for group in new.fields:
        head = w.t("staff.field_head", field=w.field(group.field), total=group.total)
        entries = ["\n".join(_idea_lines(w, item)) for item in group.latest] or [w.t("staff.ideas_none")]
        blocks.append("\n".join([head, *entries]))
        if only_field is None and group.total > len(group.latest):
            token = group.field or NO_FIELD_TOKEN
            buttons.append(Button(f"{PREFIX}:n:{token}", w.t("staff.more_of", field=w.field(group.field))))
        if only_field is not None:
            buttons += [Button(f"{PREFIX}:i:{item.idea_id}", w.t("staff.open_idea", ref=item.ref))
                        for item in group.latest]  # fmt: skip
    if new.redacted:
        blocks.append(w.t("staff.redacted_note"))
    blocks.append(w.t("staff.status_hint"))
    if buttons:
        blocks.append(w.t("staff.ask_open"))
    return (Outbound(text="\n\n".join(blocks), buttons=column(buttons)),)


def render_idea(item: IdeaItem, role: str, texts: Texts, lang: str, tz: tzinfo,
                fields: Sequence[FieldInfo]) -> tuple[Outbound, ...]:  # fmt: skip
    """One idea with its status and note; staff get one button per status they can set."""
    w = _Writer(texts, lang, tz, fields)
    lines = [
        w.t("staff.idea_head", ref=item.ref, date=w.minute(item.created_at), fields=w.fields(item.fields)),
        f"„{item.text}“",
        "",
        w.t("staff.idea_status", status=w.status(item.status), date=w.day(item.status_at or item.created_at)),
    ]
    note = w.note(item.status_note, item.status_note_en)
    if note:
        lines.append(w.t("my_ideas.note", note=note))
    if item.redacted:
        lines += ["", w.t("staff.redacted_note")]
    buttons: list[Button] = []
    if role == ROLE_STAFF:
        lines += ["", w.t("staff.choose_status")]
        buttons = [  # the current status too: a new note on it is news for the author as well
            Button(f"{PREFIX}:s:{item.idea_id}:{status}", ("✓ " if status == item.status else "") + w.status(status))
            for status in IDEA_STATUSES
        ]
    return (Outbound(text="\n".join(lines), buttons=column(buttons)),)


def render_status_preview(
    item: IdeaItem,
    status: str,
    note: str,
    note_en: str,
    payload: Mapping[str, Any],
    texts: Texts,
    lang: str,
    tz: tzinfo,
) -> tuple[Outbound, ...]:
    """Before a status change is saved: exactly the message the author would receive (in their language — shown
    here in the staff member's), and the buttons that save or drop it."""
    w = _Writer(texts, lang, tz)
    news = render_idea_news(payload, texts, lang, tz)
    text = "\n\n".join([
        w.t("staff.status_preview", ref=item.ref, old=w.status(item.status), new=w.status(status)),
        news.text,
        w.t("staff.status_preview_outro"),
    ])  # fmt: skip
    save = Button(f"{PREFIX}:S:{item.idea_id}:{status}", w.t("staff.save"))
    buttons = column([save, Button(f"{PREFIX}:no", w.t("staff.cancel"))])
    return (Outbound(text=text, buttons=buttons),)
