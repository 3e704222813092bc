"""The data the pure dialogue core consumes and produces.

Channels turn what a citizen did into an `Inbound`; `handlers.dialogue.handle(inbound, state, ctx)` returns a
`Decision` (new state, messages, effects); the runtime stores all of it in one transaction and then sends.
Nothing here performs I/O.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, tzinfo
from enum import Enum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from surveys.catalog import SurveyCatalog

UNDECRYPTABLE = "undecryptable"
"""`Inbound.media` of an encrypted message the channel could not decrypt (the citizen is asked to resend)."""

MAX_CALLBACK_BYTES = 64
"""Telegram's limit for callback_data; every button payload the core makes fits in it."""


class InboundKind(str, Enum):  # noqa: UP042 - StrEnum would change str(kind); kept as the contract defines it
    """What a citizen (or the scheduler) did."""

    TEXT = "text"  # typed text that is not a command
    COMMAND = "command"  # /name args
    BUTTON = "button"  # a button press / poll response: `payload` holds the button's payload
    MEDIA = "media"  # sticker, photo, voice, video, document, location, contact ...: `media` names it
    EDITED = "edited"  # an edited earlier message (not re-processed)
    GROUP = "group"  # anything in a group room (the bot only talks 1:1)
    FOLLOW_UP = "follow_up"  # a due follow_ups row fed back by the scheduler: `payload` holds its kind
    SIMILAR = "similar"  # the result of a `FindSimilar` search, fed back by the runtime: `args` holds its JSON


@dataclass(frozen=True)
class FieldScores:
    """The classifier's view of a text, computed by the runtime before the transaction (never in the core).

    `scores` has every strategy-field key (calibrated probabilities); `confident` says whether the best one is
    above the threshold calibrated on the dev set; `model_version` is recorded with whatever is stored.
    """

    scores: Mapping[str, float]
    confident: bool
    model_version: str

    @property
    def best(self) -> str:
        """The top-scoring field key."""
        return max(self.scores, key=lambda key: self.scores[key])

    def top(self, count: int) -> list[str]:
        """The `count` best field keys, best first."""
        return sorted(self.scores, key=lambda key: -self.scores[key])[:count]

    def to_dict(self) -> dict[str, Any]:
        return {"scores": dict(self.scores), "confident": self.confident, "model_version": self.model_version}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldScores:
        return cls(dict(data["scores"]), bool(data["confident"]), str(data["model_version"]))


@dataclass(frozen=True)
class Inbound:
    """One thing a citizen did on a channel, normalised.

    `event_id` is unique per channel (Telegram update_id, Matrix event id); duplicates are dropped by the
    runtime. `user_id`/`chat_id` identify the contact and are never given to storage outside the contact table.
    """

    kind: InboundKind
    channel: str
    user_id: str
    chat_id: str
    event_id: str
    received_at: datetime
    text: str = ""
    command: str = ""  # lower case, without "/" and "@botname"
    args: str = ""
    payload: str = ""
    media: str = ""
    message_ref: str | None = None  # the channel's id of the message a button sat on
    language_hint: str | None = None  # e.g. Telegram's from.language_code
    classification: FieldScores | None = None  # of `text` (or a command's `args`), when the runtime classified it
    encrypted: bool = False  # it came through an end-to-end encrypted room (Matrix); staff then see full texts

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for the inbound inbox table)."""
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["kind"] = self.kind.value
        data["received_at"] = self.received_at.isoformat()
        data["classification"] = None if self.classification is None else self.classification.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Inbound:
        """Inverse of `to_dict`; keys another version of the bot wrote that this one does not know are ignored."""
        values = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        values["kind"] = InboundKind(values["kind"])
        values["received_at"] = datetime.fromisoformat(values["received_at"])
        scores = values.get("classification")
        values["classification"] = None if scores is None else FieldScores.from_dict(scores)
        return cls(**values)


@dataclass(frozen=True)
class Button:
    """A button (Telegram inline keyboard button, Matrix poll answer, numbered terminal line)."""

    payload: str
    label: str

    def __post_init__(self) -> None:
        if len(self.payload.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"button payload longer than {MAX_CALLBACK_BYTES} bytes: {self.payload!r}")


@dataclass(frozen=True)
class Document:
    """A file to send (e.g. the /meinedaten export when it is longer than one message)."""

    filename: str
    content: bytes
    mime_type: str = "application/json"


@dataclass(frozen=True)
class Outbound:
    """One message to the citizen.

    `buttons` are rows of buttons. `question` marks a survey question with options (Matrix renders it as a
    poll). `replaces` names the channel message to edit instead of sending a new one (e.g. to remove a
    keyboard after it was answered); channels fall back to sending when editing is impossible. `farewell` marks
    the last message before everything of the citizen is deleted (/loeschen): once it is shown, a channel drops
    what it keeps of the chat itself (the terminal chat's export files).
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    document: Document | None = None
    replaces: str | None = None
    question: bool = False
    multi: bool = False
    farewell: bool = False

    def all_buttons(self) -> list[Button]:
        """The buttons in reading order."""
        return [b for row in self.buttons for b in row]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for the outbox table)."""
        return {
            "text": self.text,
            "buttons": [[{"payload": b.payload, "label": b.label} for b in row] for row in self.buttons],
            "document": None
            if self.document is None
            else {
                "filename": self.document.filename,
                "content": base64.b64encode(self.document.content).decode(),
                "mime_type": self.document.mime_type,
            },
            "replaces": self.replaces,
            "question": self.question,
            "multi": self.multi,
            "farewell": self.farewell,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outbound:
        """Inverse of `to_dict`."""
        doc = data.get("document")
        return cls(
            text=data["text"],
            buttons=tuple(tuple(Button(b["payload"], b["label"]) for b in row) for row in data.get("buttons", [])),
            document=None
            if doc is None
            else Document(doc["filename"], base64.b64decode(doc["content"]), doc.get("mime_type", "application/json")),
            replaces=data.get("replaces"),
            question=bool(data.get("question", False)),
            multi=bool(data.get("multi", False)),
            farewell=bool(data.get("farewell", False)),
        )


# --- effects: what the runtime must store or do besides saving the state -----------------------------------


@dataclass(frozen=True)
class StartResponse:
    """A citizen starts a survey version; `response_id` is the core-chosen id (from `Context.new_id`).

    `campaign_id`: the campaign whose invitation the citizen followed (None: found it themselves).
    """

    response_id: str
    survey_key: str
    survey_version: int
    campaign_id: int | None = None


@dataclass(frozen=True)
class SaveAnswer:
    """Insert or replace the answer to one question of a response."""

    response_id: str
    question_id: str
    value: Any
    classification: FieldScores | None = None  # free-text answers are classified silently


@dataclass(frozen=True)
class DeleteAnswer:
    """Remove an answer (e.g. a question that is no longer shown after going back and changing a branch)."""

    response_id: str
    question_id: str


@dataclass(frozen=True)
class CompleteResponse:
    response_id: str


@dataclass(frozen=True)
class SaveIdea:
    """Store a submitted idea with the strategy field the citizen chose (None: citizen did not choose)."""

    idea_id: str
    text: str
    field: str | None
    fields: tuple[str, ...] = ()  # every field the citizen chose ("mehrere"); `field` is the first
    classification: FieldScores | None = None  # what the classifier proposed (scores, model version)
    embedding: str | None = None  # the text's e5 embedding from the similar-idea search (`SimilarResult.vector`)
    embedding_model: str | None = None


@dataclass(frozen=True)
class FindSimilar:
    """Search the published ideas for ones proposing the same thing as this idea text (the idea-text step only).

    The runtime embeds the text outside any transaction, searches, and feeds the result back as a SIMILAR event
    (`SimilarResult`) for the draft `draft_id`; the embedding travels with it, so the idea is never embedded twice.
    """

    draft_id: str
    text: str


@dataclass(frozen=True)
class SimilarIdea:
    """A published idea that proposes the same thing, as the citizen sees it: its public text, first field,
    supporters, status, and whether this citizen already supports it."""

    id: str
    text: str
    field: str | None
    supporters: int
    status: str
    supported: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimilarIdea:
        field_key = data.get("field")
        return cls(
            id=str(data["id"]),
            text=str(data["text"]),
            field=None if field_key is None else str(field_key),
            supporters=int(data.get("supporters", 0)),
            status=str(data.get("status", "new")),
            supported=bool(data.get("supported", False)),
        )


@dataclass(frozen=True)
class SimilarResult:
    """What a `FindSimilar` search found, carried by a SIMILAR event's `args` as JSON.

    `matches`: at most three, best first, only above the matcher's threshold (often none); `vector`: the idea text's
    embedding (base64 of 384 float32, little-endian) and `model` the embedder it came from — None when embedding
    failed (the idea is then filed without one).
    """

    draft_id: str
    matches: tuple[SimilarIdea, ...] = ()
    vector: str | None = None
    model: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "draft": self.draft_id,
                "matches": [match.to_dict() for match in self.matches],
                "vector": self.vector,
                "model": self.model,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> SimilarResult | None:
        """The result in a SIMILAR event's `args`; None when it is not one."""
        try:
            data = json.loads(text or "{}")
            return cls(
                draft_id=str(data["draft"]),
                matches=tuple(SimilarIdea.from_dict(match) for match in data.get("matches") or ()),
                vector=None if data.get("vector") is None else str(data["vector"]),
                model=None if data.get("model") is None else str(data["model"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


PUBLISH_YES = "yes"
PUBLISH_KEEP = "keep"  # yes, and the public text may stay when the author deletes their data
PUBLISH_NO = "no"
PUBLISH_CONSENTS = (PUBLISH_YES, PUBLISH_KEEP, PUBLISH_NO)

PUBLICATION_NONE = "none"  # not proposed for publication
PUBLICATION_PENDING = "pending"  # waiting for moderation
PUBLICATION_APPROVED = "approved"  # other citizens see `public_text`
PUBLICATION_REJECTED = "rejected"  # staff declined (the author was told why)
PUBLICATION_WITHDRAWN = "withdrawn"  # the author took it back
PUBLICATIONS = (
    PUBLICATION_NONE, PUBLICATION_PENDING, PUBLICATION_APPROVED, PUBLICATION_REJECTED, PUBLICATION_WITHDRAWN,
)  # fmt: skip


@dataclass(frozen=True)
class SetPublication:
    """The author's answer to "may other citizens see this idea, without your name?" (`PUBLISH_CONSENTS`).

    "yes"/"keep" put the idea into the moderation queue (publication "pending"); "no" records the refusal.
    """

    idea_id: str
    consent: str


IDEA_BROWSE = "browse"  # /ideen: `target` a field key ("" = the field overview), `page` from 0
IDEA_SUPPORT = "support"  # support `target` (`source` "similar": instead of filing the same idea again)
IDEA_UNSUPPORT = "unsupport"  # withdraw one's support of `target`
IDEA_NEWS_ON = "news_on"  # a supporter wants `target`'s status news
IDEA_NEWS_OFF = "news_off"
IDEA_WITHDRAW = "withdraw"  # the author withdraws the publication of their idea `target`
IDEA_ACTIONS = (IDEA_BROWSE, IDEA_SUPPORT, IDEA_UNSUPPORT, IDEA_NEWS_ON, IDEA_NEWS_OFF, IDEA_WITHDRAW)


@dataclass(frozen=True)
class IdeaRequest:
    """A citizen browses published ideas, supports one, or manages their support or publication.

    The runtime (bot/ideaboard) checks it against the stored data (only approved ideas can be supported, only the
    author withdraws), changes what it must and renders the answer, like `StaffRequest`. `target` is an idea's
    internal id (or a field key for "browse").
    """

    action: str
    target: str = ""
    page: int = 0
    source: str = ""
    draft: str = ""  # SUPPORT from the similar list: the idea draft set aside for it (offered again if it fails)


@dataclass(frozen=True)
class ExportData:
    """Load everything stored about the citizen and send it, rendered by `handlers.my_data.render_export`."""


@dataclass(frozen=True)
class DeleteCitizen:
    """Delete every row of this citizen in every table, after the messages of this decision are queued."""


@dataclass(frozen=True)
class ScheduleFollowUp:
    """Write a follow_ups row: at `due_at` the scheduler feeds an Inbound(kind=FOLLOW_UP, payload=kind) back.

    The Inbound's `args` is JSON: `{"follow_up_id": <row id>, **payload}`. `unsolicited` rows need the matching
    opt-in and respect quiet hours, the daily cap and /pause; `response_id`/`campaign_id` link the row to what it
    is about (cancelled with it, shown to staff).
    """

    due_at: datetime
    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    response_id: str | None = None
    campaign_id: int | None = None
    unsolicited: bool = True


OPT_IN_TOPICS = ("surveys", "followups", "idea_news")
"""What a citizen may opt in to: invitations to new surveys, follow-up questions, news about their ideas."""


@dataclass(frozen=True)
class SetOptIn:
    """Switch the citizen's opt-in to `topic` on (with `fields` for surveys; () = all fields) or off.

    The runtime stores proof (time, notice version, `source`: where it was given) and keeps the history.
    """

    topic: str
    on: bool
    fields: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class PauseOutreach:
    """Hold every pending unsolicited message until `until` (None: resume now)."""

    until: datetime | None


@dataclass(frozen=True)
class StopOutreach:
    """Cancel every pending unsolicited message and withdraw all opt-ins (until the citizen opts in again)."""


FOLLOW_UP_SENT = "sent"
"""`FollowUpOutcome`: this decision's messages deliver the follow-up (counted as sent once actually sent)."""
FOLLOW_UP_HELD = "held"
"""`FollowUpOutcome`: the citizen is busy; the row waits until the flow ends (`ReleaseHeld`)."""
FOLLOW_UP_SKIPPED = "skipped"
"""`FollowUpOutcome`: nothing to send any more (no opt-in, survey closed, already answered …)."""


@dataclass(frozen=True)
class FollowUpOutcome:
    """What became of the due follow_ups row `follow_up_id` that this FOLLOW_UP event brought."""

    follow_up_id: int
    outcome: str
    reason: str = ""  # for `skipped`: why (stored as the row's outcome), e.g. "no_opt_in", "closed"


@dataclass(frozen=True)
class ReleaseHeld:
    """The citizen is idle again: their held follow-ups become due now."""


IDEA_NEW = "new"
IDEA_REVIEW = "review"
IDEA_PLANNED = "planned"
IDEA_DONE = "done"
IDEA_REJECTED = "rejected"
IDEA_STATUSES = (IDEA_NEW, IDEA_REVIEW, IDEA_PLANNED, IDEA_DONE, IDEA_REJECTED)
"""An idea's status: eingegangen → in Prüfung → wird umgesetzt → umgesetzt, or nicht umsetzbar (note mandatory)."""
NOTE_REQUIRED = frozenset({IDEA_REJECTED})
"""Statuses that may only be set with a public note saying why."""
IDEA_STATUS_KIND = "idea_news"
"""The follow_ups kind of the news to an idea's author that its status changed (needs the idea_news opt-in)."""

ROLE_STAFF = "staff"
ROLE_ANALYST = "analyst"
STAFF_VIEWS = ("campaigns", "campaign", "new_ideas", "idea", "moderation")
"""Staff requests that only read: allowed to analysts and staff."""
STAFF_CHANGES = (
    "launch_preview", "launch", "close_preview", "close", "idea_status_preview", "idea_status",
    "publication_approve", "publication_reject", "merge_preview", "merge",
)  # fmt: skip
"""Staff requests that change something (or preview a change): staff only."""


@dataclass(frozen=True)
class StaffRequest:
    """A staff member asks to see figures or ideas, or to change something (`action`: STAFF_VIEWS / STAFF_CHANGES).

    The runtime checks the sender's role again, reads or changes the data, writes the staff audit log and renders
    the answer (`handlers.staff_render`). `target`: the campaign id, idea id or field key it is about; `status`,
    `note`, `note_en`: for "idea_status".
    """

    action: str
    target: str = ""
    status: str = ""
    note: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class ShowMyIdeas:
    """Load the citizen's ideas with their status and send them (`handlers.staff_render.render_my_ideas`)."""


Effect = (
    StartResponse
    | SaveAnswer
    | DeleteAnswer
    | CompleteResponse
    | SaveIdea
    | ExportData
    | DeleteCitizen
    | ScheduleFollowUp
    | SetOptIn
    | PauseOutreach
    | StopOutreach
    | FollowUpOutcome
    | ReleaseHeld
    | StaffRequest
    | ShowMyIdeas
    | FindSimilar
    | SetPublication
    | IdeaRequest
)


# --- state and context ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenState:
    """Everything the core knows about one citizen between events.

    `language`, `consent_version`, `consent_at` and `training_consent` are stored as columns of the citizens
    table; `flow` and `data` (JSON-serialisable, owned by `handlers`) as the conversation row.
    """

    language: str = "de"
    language_chosen: bool = False
    consent_version: str | None = None
    consent_at: datetime | None = None
    training_consent: bool | None = None  # may confirmed idea texts (redacted) train the classifier? None: not asked
    flow: str = "new"
    data: Mapping[str, Any] = field(default_factory=dict)
    opt_ins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # current opt-ins: topic → fields (() = all)
    paused_until: datetime | None = None  # /pause
    last_active_at: datetime | None = None  # when the citizen last wrote (not changed by the bot's own follow-ups)

    @property
    def consented(self) -> bool:
        return self.consent_version is not None

    def evolve(self, **changes: Any) -> CitizenState:
        """A copy with `changes` applied."""
        return replace(self, **changes)


class Texts(Protocol):
    """User-facing texts by key and language (loaded from handlers/texts/*.yaml at start)."""

    def get(self, key: str, lang: str, **values: Any) -> str: ...


@dataclass(frozen=True)
class FieldInfo:
    """A strategy field as the core needs it (from nlp/fields.yaml)."""

    key: str
    name: Mapping[str, str]
    summary: Mapping[str, str] = field(default_factory=dict)  # one line: what belongs here (for the field picker)

    def label(self, lang: str) -> str:
        return self.name.get(lang) or self.name["de"]

    def hint(self, lang: str) -> str:
        """The one-line summary in `lang` (German when missing; "" when the taxonomy has none)."""
        return self.summary.get(lang) or self.summary.get("de", "")


@dataclass(frozen=True)
class OutreachSettings:
    """The city's rules for unsolicited messages, as the core needs them (from the configuration)."""

    timezone: tzinfo = field(default_factory=lambda: ZoneInfo("Europe/Berlin"))
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(9, 0)
    daily_cap: int = 1
    close_grace: timedelta = timedelta(days=2)


@dataclass(frozen=True)
class Context:
    """What the core may consult besides the state; built by the runtime for each event."""

    catalog: SurveyCatalog
    texts: Texts
    fields: Sequence[FieldInfo]
    now: datetime  # timezone-aware
    new_id: str  # a fresh unique id the core may use for a response or an idea
    consent_version: str = "1"
    idea_max_length: int = 2000
    outreach: OutreachSettings = field(default_factory=OutreachSettings)
    controller: str = ""  # who is responsible for the data (name and contact), for the privacy notice
    complaints: str = ""  # the supervisory authority citizens may complain to
    staff_role: str | None = None  # ROLE_STAFF / ROLE_ANALYST when the sender is on the staff allowlist
    similar_search: bool = False  # the runtime can search similar ideas (an embedder is loaded)


@dataclass(frozen=True)
class Decision:
    """What the core decided for one Inbound."""

    state: CitizenState
    messages: tuple[Outbound, ...] = ()
    effects: tuple[Effect, ...] = ()
