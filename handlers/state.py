"""The dialogue's own state: which step a citizen is at (`Flow`) and the typed flow data behind `CitizenState.data`.

`CitizenState.data` must stay JSON-serialisable because the runtime stores it as the conversation row; every
read and write goes through `DialogueData.from_dict` / `to_dict` so no flow pokes at raw dictionary keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from handlers.events import FieldScores, SimilarIdea
from surveys.engine import fold
from surveys.schema import AnswerValue

FLOOD_LIMIT = 20
"""Inbound events a citizen may send within `FLOOD_WINDOW_SECONDS` before the bot stops answering."""
FLOOD_WINDOW_SECONDS = 60.0


class Flow(StrEnum):
    """The step a citizen is at; stored as `CitizenState.flow`."""

    NEW = "new"  # never talked to us (or deleted everything)
    CONSENT = "consent"  # privacy notice shown, waiting for "Einverstanden" / "Nein, danke"
    DECLINED = "declined"  # said no; only the notice is shown again
    MENU = "menu"  # idle, menu offered
    SURVEY_LIST = "survey_list"  # choosing a survey
    SURVEY = "survey"  # answering the current question of `DialogueData.survey`
    IDEA_TEXT = "idea_text"  # waiting for the text of an idea
    IDEA_SEARCH = "idea_search"  # the idea's text arrived; waiting for the runtime's similar-idea search (SIMILAR)
    IDEA_SIMILAR = "idea_similar"  # similar published ideas shown: support one, or "Meine Idee ist anders"
    IDEA_FIELD = "idea_field"  # waiting for the strategy field of `DialogueData.idea` (`IdeaDraft.view` says how)
    IDEA_FIELDS = "idea_fields"  # ticking several strategy fields for `DialogueData.idea`, then "Fertig"
    IDEA_PUBLISH = "idea_publish"  # the idea is filed; asked whether other citizens may see it (`DialogueData.publish`)
    TRAINING_CONSENT = "training_consent"  # asked once whether idea texts may train the classifier
    DELETE_CONFIRM = "delete_confirm"  # asked whether to delete everything
    ABO = "abo"  # /abo: the opt-ins shown with buttons to switch them
    ABO_FIELDS = "abo_fields"  # ticking the strategy fields new surveys are announced for, then "Fertig"
    FOLLOW_UP = "follow_up"  # answering the follow-up question of `DialogueData.answering`
    STAFF_NOTE = "staff_note"  # staff: typing the public note for `DialogueData.staff` (an idea's new status)
    STAFF_CONFIRM = "staff_confirm"  # staff: the citizen's message previewed, waiting for "Speichern" / "Abbrechen"

    @classmethod
    def of(cls, value: str, consented: bool) -> Flow:
        """The stored flow, tolerating values written by another version of the bot."""
        try:
            return cls(value)
        except ValueError:
            return cls.MENU if consented else cls.NEW


@dataclass(frozen=True)
class Offered:
    """The buttons of the last message that had any, so typed numbers and labels can stand in for presses."""

    buttons: tuple[tuple[str, str], ...] = ()  # (payload, label)

    def match(self, text: str) -> str | None:
        """The payload a typed text picks: a label (case/umlaut-insensitive, "✓ " ignored) or a 1-based number."""
        typed = fold(text)
        if not typed:
            return None
        for payload, label in self.buttons:
            if fold(label.removeprefix("✓ ")) == typed:
                return payload
        number = typed.removeprefix("nr ").strip()
        if number.isdigit() and 1 <= int(number) <= len(self.buttons):
            return self.buttons[int(number) - 1][0]
        return None

    def to_list(self) -> list[list[str]]:
        return [[payload, label] for payload, label in self.buttons]

    @classmethod
    def from_list(cls, rows: Sequence[Sequence[str]]) -> Offered:
        return cls(tuple((str(row[0]), str(row[1])) for row in rows if len(row) == 2))


@dataclass(frozen=True)
class SurveyProgress:
    """An unfinished response: which survey version, the current question and the answers so far.

    `pending` holds the options ticked so far on the current multiple-choice question (not yet saved).
    """

    response_id: str
    key: str
    version: int
    current: str
    answers: Mapping[str, AnswerValue] = field(default_factory=dict)
    pending: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "response_id": self.response_id,
            "key": self.key,
            "version": self.version,
            "current": self.current,
            "answers": dict(self.answers),
            "pending": list(self.pending),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurveyProgress:
        return cls(
            response_id=str(data["response_id"]),
            key=str(data["key"]),
            version=int(data["version"]),
            current=str(data["current"]),
            answers=dict(data.get("answers", {})),
            pending=tuple(str(x) for x in data.get("pending", ())),
        )


class FieldView(StrEnum):
    """How the field question of an idea is shown (so a repeated prompt looks the same)."""

    PROPOSAL = "proposal"  # the classifier is confident: "Das klingt nach … – stimmt das?" Ja / Anderes / Mehrere
    LIKELY = "likely"  # not confident: the two or three likeliest fields, Anderes / Mehrere
    ALL = "all"  # every field and "Weiß nicht" (no classification, or "Anderes Feld")


@dataclass(frozen=True)
class IdeaDraft:
    """An idea whose text has arrived and whose strategy field(s) are still to be chosen.

    `classification` is the runtime's view of the text (kept until the idea is saved, so it is stored with the
    citizen's choice); `picked` holds the fields ticked so far under "Mehrere Felder", in the order ticked; `id`
    is carried by the draft's buttons, so a keyboard left over from an earlier idea cannot act on this one.
    """

    text: str
    classification: FieldScores | None = None
    view: FieldView = FieldView.ALL
    picked: tuple[str, ...] = ()
    id: str = ""
    searched_at: str | None = None  # ISO time the similar-idea search was asked for (None: no search)
    vector: str | None = None  # the text's embedding from the search (base64), stored with the idea
    model: str | None = None  # the embedder the vector came from
    similar: tuple[SimilarIdea, ...] = ()  # the similar published ideas shown (for the repeated prompt)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "classification": None if self.classification is None else self.classification.to_dict(),
            "view": self.view.value,
            "picked": list(self.picked),
            "id": self.id,
            "searched_at": self.searched_at,
            "vector": self.vector,
            "model": self.model,
            "similar": [idea.to_dict() for idea in self.similar],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IdeaDraft:
        scores = data.get("classification")
        try:
            view = FieldView(data.get("view", FieldView.ALL.value))
        except ValueError:
            view = FieldView.ALL  # written by another version of the bot
        return cls(
            text=str(data["text"]),
            classification=None if scores is None else FieldScores.from_dict(scores),
            view=view,
            picked=tuple(str(key) for key in data.get("picked", ())),
            id=str(data.get("id", "")),  # drafts of an older bot have none; their buttons have none either
            searched_at=_optional(data.get("searched_at")),
            vector=_optional(data.get("vector")),
            model=_optional(data.get("model")),
            similar=tuple(SimilarIdea.from_dict(idea) for idea in data.get("similar") or ()),
        )


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


IDEA_FLOWS = frozenset({Flow.IDEA_TEXT, Flow.IDEA_SEARCH, Flow.IDEA_SIMILAR, Flow.IDEA_FIELD, Flow.IDEA_FIELDS})
"""The steps of writing an idea: its draft is kept only in these (it is the citizen's unsaved text)."""


@dataclass(frozen=True)
class PublishQuestion:
    """The filed idea whose author is being asked whether other citizens may see it; `then_training`: the one-time
    training question comes next (the idea has a field the citizen chose and they were never asked)."""

    idea_id: str
    then_training: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"idea_id": self.idea_id, "then_training": self.then_training}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublishQuestion:
        return cls(str(data["idea_id"]), bool(data.get("then_training", False)))


@dataclass(frozen=True)
class FloodBucket:
    """Arrival times (epoch seconds) of the citizen's recent events and whether the slow-down notice went out."""

    times: tuple[float, ...] = ()
    noticed: bool = False

    def register(self, at: datetime) -> tuple[FloodBucket, bool]:
        """(bucket after this event, whether the event exceeds the limit).

        An event over the limit is not added: once the recorded ones age out of the window, the citizen is
        heard again, without storing anything about the ignored events.
        """
        now = at.timestamp()
        recent = tuple(t for t in self.times if now - t < FLOOD_WINDOW_SECONDS)
        if len(recent) >= FLOOD_LIMIT:
            return FloodBucket(recent, self.noticed), True
        return FloodBucket((*recent, now), False), False

    def to_dict(self) -> dict[str, Any]:
        return {"times": list(self.times), "noticed": self.noticed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FloodBucket:
        return cls(tuple(float(t) for t in data.get("times", ())), bool(data.get("noticed", False)))


IDLE_FLOWS = frozenset({Flow.MENU, Flow.SURVEY_LIST, Flow.ABO})
"""Steps in which nothing awaits the citizen's answer: an unsolicited message may arrive here."""


@dataclass(frozen=True)
class FollowUpQuestion:
    """A survey's follow-up question being answered; the answer belongs to the original response."""

    follow_up_id: int  # the follow_ups row it was delivered for
    response_id: str
    key: str
    version: int
    question_id: str  # the follow-up's id (= its question's id)
    pending: tuple[str, ...] = ()  # options ticked so far (multiple choice)

    def to_dict(self) -> dict[str, Any]:
        return {
            "follow_up_id": self.follow_up_id,
            "response_id": self.response_id,
            "key": self.key,
            "version": self.version,
            "question_id": self.question_id,
            "pending": list(self.pending),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FollowUpQuestion:
        return cls(
            follow_up_id=int(data["follow_up_id"]),
            response_id=str(data["response_id"]),
            key=str(data["key"]),
            version=int(data["version"]),
            question_id=str(data["question_id"]),
            pending=tuple(str(x) for x in data.get("pending", ())),
        )


@dataclass(frozen=True)
class FollowUpOffer:
    """At the end of a survey: the follow-ups due for its answers, offered with "Darf ich Sie … fragen?"."""

    response_id: str
    key: str
    version: int
    follow_ups: tuple[str, ...]  # follow-up ids

    def to_dict(self) -> dict[str, Any]:
        return {
            "response_id": self.response_id,
            "key": self.key,
            "version": self.version,
            "follow_ups": list(self.follow_ups),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FollowUpOffer:
        return cls(
            response_id=str(data["response_id"]),
            key=str(data["key"]),
            version=int(data["version"]),
            follow_ups=tuple(str(x) for x in data.get("follow_ups", ())),
        )


@dataclass(frozen=True)
class StaffDraft:
    """A staff member's status change in progress: the idea (internal id), the new status and the public note."""

    idea_id: str
    status: str
    note: str = ""
    note_en: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"idea_id": self.idea_id, "status": self.status, "note": self.note, "note_en": self.note_en}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StaffDraft:
        return cls(str(data["idea_id"]), str(data["status"]), str(data.get("note", "")), str(data.get("note_en", "")))


@dataclass(frozen=True)
class DialogueData:
    """Typed view of `CitizenState.data`.

    `survey` survives detours (an idea, /abbrechen, a restart) so /weiter can resume at the exact question;
    `completed` lists survey keys the citizen has finished.

    Outreach: `asked` names the opt-in topics the citizen was asked about (each once); `to_ask` holds questions
    due at the next idle moment as "topic:source" (one question per turn, never stacked); `held` says that
    follow_ups rows wait until the citizen is idle; `answering` is the follow-up question being answered;
    `offer` the follow-ups offered at the end of a survey; `abo_fields` the fields ticked in /abo so far; `staff` a
    staff member's status change in progress.
    """

    offered: Offered = Offered()
    survey: SurveyProgress | None = None
    idea: IdeaDraft | None = None
    completed: tuple[str, ...] = ()
    flood: FloodBucket = FloodBucket()
    asked: tuple[str, ...] = ()
    to_ask: tuple[str, ...] = ()
    held: bool = False
    answering: FollowUpQuestion | None = None
    offer: FollowUpOffer | None = None
    abo_fields: tuple[str, ...] = ()
    staff: StaffDraft | None = None
    staff_preview: str | None = None  # "launch:4:<when>": the last launch/close preview a staff member asked for
    publish: PublishQuestion | None = None  # the idea whose publication the citizen is being asked about
    parked: IdeaDraft | None = None  # a draft set aside for a support of a similar idea; kept for one more turn

    def evolve(self, **changes: Any) -> DialogueData:
        """A copy with `changes` applied."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "offered": self.offered.to_list(),
            "survey": None if self.survey is None else self.survey.to_dict(),
            "idea": None if self.idea is None else self.idea.to_dict(),
            "completed": list(self.completed),
            "flood": self.flood.to_dict(),
            "asked": list(self.asked),
            "to_ask": list(self.to_ask),
            "held": self.held,
            "answering": None if self.answering is None else self.answering.to_dict(),
            "offer": None if self.offer is None else self.offer.to_dict(),
            "abo_fields": list(self.abo_fields),
            "staff": None if self.staff is None else self.staff.to_dict(),
            "staff_preview": self.staff_preview,
            "publish": None if self.publish is None else self.publish.to_dict(),
            "parked": None if self.parked is None else self.parked.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DialogueData:
        survey = data.get("survey")
        idea = data.get("idea")
        answering = data.get("answering")
        offer = data.get("offer")
        staff = data.get("staff")
        publish = data.get("publish")
        parked = data.get("parked")
        return cls(
            offered=Offered.from_list(data.get("offered", ())),
            survey=None if survey is None else SurveyProgress.from_dict(survey),
            idea=None if idea is None else IdeaDraft.from_dict(idea),
            completed=tuple(str(k) for k in data.get("completed", ())),
            flood=FloodBucket.from_dict(data.get("flood", {})),
            asked=tuple(str(k) for k in data.get("asked", ())),
            to_ask=tuple(str(k) for k in data.get("to_ask", ())),
            held=bool(data.get("held", False)),
            answering=None if answering is None else FollowUpQuestion.from_dict(answering),
            offer=None if offer is None else FollowUpOffer.from_dict(offer),
            abo_fields=tuple(str(k) for k in data.get("abo_fields", ())),
            staff=None if not isinstance(staff, Mapping) else StaffDraft.from_dict(staff),
            staff_preview=None if data.get("staff_preview") is None else str(data["staff_preview"]),
            publish=PublishQuestion.from_dict(publish) if isinstance(publish, Mapping) else None,
            parked=IdeaDraft.from_dict(parked) if isinstance(parked, Mapping) else None,
        )

    @staticmethod
    def written_before_outreach(data: Mapping[str, Any]) -> bool:
        """Whether `data` was stored by a bot without opt-ins (it has no "asked" entry)."""
        return "asked" not in data
