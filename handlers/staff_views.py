"""What the runtime loads for staff and for /meineideen, as plain data the pure renderer (`handlers.staff_render`)
turns into messages. `bot/staffdesk` fills these from storage; nothing here performs I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CampaignLine:
    """One campaign in the /kampagnen list (staff's own responses never counted)."""

    id: int
    name: str
    status: str  # draft / scheduled / running / closed / cancelled
    survey_key: str
    survey_version: int | None
    starts_at: datetime
    ends_at: datetime
    invited: int
    delivered: int
    started: int
    completed: int


@dataclass(frozen=True)
class QuestionDropOff:
    """How far unfinished responses got: `reached` responses answered the question, `stopped_here` of the
    unfinished ones answered it last."""

    question_id: str
    text: Mapping[str, str]  # language → question text
    reached: int
    stopped_here: int


@dataclass(frozen=True)
class CampaignFigures:
    """A campaign's live figures for /kampagne N."""

    line: CampaignLine
    audience: Mapping[str, tuple[str, ...]]  # the filters: channels / languages / fields (() = any)
    reminder_after_days: int | None
    waiting: int
    unreachable: int
    skipped: int
    cancelled: int
    reminders_sent: int
    completion_rate: float | None  # completed / started (None: nobody started)
    median_minutes: float | None  # median time from start to completion (None: nobody completed)
    drop_off: tuple[QuestionDropOff, ...]  # in the survey's question order
    ideas_per_field: Mapping[str, int]  # ideas filed while the campaign ran, by field key ("" = no field)


@dataclass(frozen=True)
class CampaignPreview:
    """The dry run before launching or closing a campaign from the chat.

    `problem`: why it cannot be done now (None: it can) — "not_draft", "not_running", "scheduled", "ended",
    "survey_closed", "survey_gone". `audience`/`by_channel`/`by_language`: who a launch would invite now;
    `pending`: invitations and reminders a close would cancel.
    """

    action: str  # "launch" or "close"
    line: CampaignLine
    problem: str | None = None
    audience: int = 0
    by_channel: Mapping[str, int] = field(default_factory=dict)
    by_language: Mapping[str, int] = field(default_factory=dict)
    pending: int = 0


@dataclass(frozen=True)
class IdeaItem:
    """An idea as staff see it. `text` is already redacted and shortened where the channel requires it
    (`redacted`); `ref` is the idea's pseudonym (i_…), the same in exports, the CLI and the chat."""

    ref: str
    idea_id: str  # internal id: only for button payloads, never shown
    text: str
    fields: tuple[str, ...]  # the fields the citizen chose (() = none)
    created_at: datetime
    status: str
    status_note: str | None
    status_note_en: str | None
    status_at: datetime | None
    redacted: bool


@dataclass(frozen=True)
class FieldIdeas:
    """The latest ideas of one field (`field` "" = filed without a field) and how many the field has in all."""

    field: str
    latest: tuple[IdeaItem, ...]
    total: int


@dataclass(frozen=True)
class NewIdeas:
    """/ideen_neu: the latest ideas per field, every field of the taxonomy listed (empty ones too)."""

    fields: tuple[FieldIdeas, ...]
    redacted: bool


@dataclass(frozen=True)
class MyIdea:
    """One of the citizen's own ideas for /meineideen (their own full text, shortened for the list)."""

    text: str
    fields: tuple[str, ...]
    created_at: datetime
    status: str
    status_note: str | None
    status_note_en: str | None
    status_at: datetime | None
    idea_id: str = ""  # internal id: only for the `iw:` button payload, never shown
    publication: str = "none"  # handlers.events.PUBLICATIONS
    public_text: str | None = None  # shown only while approved
    supporters: int = 0
    merged: bool = False
    publication_note: str | None = None  # staff's reason when they declined to publish it


@dataclass(frozen=True)
class SupportedIdea:
    """An idea the citizen supports, for /meineideen: its PUBLIC text only (never the author's own words)."""

    idea_id: str
    public_text: str
    supporters: int
