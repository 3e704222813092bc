"""The survey file format: pydantic models a survey YAML file is validated against.

A survey file is staff-editable data (see docs/surveys.md). Ids are what is stored and exported; texts may
change between versions.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,23}$"
"""Question, option and survey ids: short (they travel in Telegram callback_data, ≤ 64 bytes), stable."""

SURVEY_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"

Language = Literal["de", "en"]
LANGUAGES: tuple[Language, ...] = ("de", "en")

AnswerValue = str | list[str] | int | float | bool | None
"""What an answer is stored as: option id, option ids, scale value, number, yes/no, free text, or None (skipped)."""


class LocalText(BaseModel):
    """A text in German (required) and English (optional; German is shown when missing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    de: Annotated[str, Field(min_length=1, max_length=3000)]
    en: Annotated[str | None, Field(default=None, min_length=1, max_length=3000)] = None

    @model_validator(mode="before")
    @classmethod
    def _plain_string_is_german(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"de": value}
        return value

    def get(self, lang: str) -> str:
        """The text in `lang`, falling back to German."""
        if lang == "en" and self.en:
            return self.en
        return self.de


class QuestionType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    SCALE = "scale"
    YES_NO = "yes_no"
    FREE_TEXT = "free_text"
    NUMBER = "number"


class Option(BaseModel):
    """One answer option of a choice question."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    text: LocalText
    code: Annotated[int, Field(strict=True, ge=1)] | None = None
    """The option's number in analyst exports (SPSS value labels); assigned automatically when not given, and
    kept across versions (see `surveys.codes`)."""

    @model_serializer(mode="wrap")
    def _leave_out_absent_code(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Without a code an option serialises as before codes existed: the survey's content hash (and so its
        # version) does not change just because the format learned an optional key.
        data = handler(self)
        if self.code is None and isinstance(data, dict):
            data.pop("code", None)
        return data


class Condition(BaseModel):
    """A test on an earlier answer. Exactly one of `equals`, `any_of`, `answered` is given.

    For a multiple-choice question `equals` means "this option was among the chosen ones".
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: Annotated[str, Field(pattern=ID_PATTERN)]
    equals: str | int | float | bool | None = None
    any_of: list[str | int | float | bool] | None = None
    answered: bool | None = None

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Condition:
        given = [x for x in (self.equals, self.any_of, self.answered) if x is not None]
        if len(given) != 1:
            raise ValueError("a condition needs exactly one of 'equals', 'any_of', 'answered'")
        return self


class Jump(BaseModel):
    """After answering the question it belongs to: if `when` holds, continue at `to` (a later id or 'end')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: Condition
    to: Annotated[str, Field(pattern=ID_PATTERN)]


class ScaleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: Annotated[int, Field(ge=0, le=10)] = 1
    max: Annotated[int, Field(ge=1, le=10)] = 5
    labels: dict[int, LocalText] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _range(self) -> ScaleSpec:
        if self.max <= self.min:
            raise ValueError("scale 'max' must be greater than 'min'")
        for value in self.labels:
            if not self.min <= value <= self.max:
                raise ValueError(f"scale label {value} is outside {self.min}..{self.max}")
        return self


class Question(BaseModel):
    """One question. Which fields apply depends on `type`; the validator rejects the ones that do not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    type: QuestionType
    text: LocalText
    help: LocalText | None = None
    required: bool = True
    options: list[Option] = Field(default_factory=list)
    min_choices: Annotated[int, Field(ge=0)] | None = None
    max_choices: Annotated[int, Field(ge=1)] | None = None
    scale: ScaleSpec | None = None
    max_length: Annotated[int, Field(ge=1, le=4000)] | None = None
    min: float | None = None
    max: float | None = None
    integer: bool = False
    unit: LocalText | None = None
    show_if: Condition | None = None
    jumps: list[Jump] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fields_fit_type(self) -> Question:
        choice = self.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE)
        if choice:
            if len(self.options) < 2:
                raise ValueError("a choice question needs at least 2 options")
            if len(self.options) > 12:
                raise ValueError("a choice question has at most 12 options")
            ids = [o.id for o in self.options]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"option ids must be unique, repeated: {', '.join(dupes)}")
        elif self.options:
            raise ValueError(f"'options' only apply to choice questions, not {self.type.value}")
        if self.type is not QuestionType.MULTIPLE_CHOICE and (self.min_choices or self.max_choices):
            raise ValueError("'min_choices'/'max_choices' only apply to multiple_choice")
        if self.type is QuestionType.MULTIPLE_CHOICE:
            low = self.min_choices or 0
            high = self.max_choices or len(self.options)
            if high > len(self.options) or low > high:
                raise ValueError("need min_choices <= max_choices <= number of options")
        if self.type is not QuestionType.SCALE and self.scale is not None:
            raise ValueError("'scale' only applies to scale questions")
        if self.type is not QuestionType.FREE_TEXT and self.max_length is not None:
            raise ValueError("'max_length' only applies to free_text")
        if self.type is not QuestionType.NUMBER and (
            self.min is not None or self.max is not None or self.integer or self.unit
        ):
            raise ValueError("'min'/'max'/'integer'/'unit' only apply to number questions")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' must not be greater than 'max'")
        return self

    @property
    def scale_spec(self) -> ScaleSpec:
        """The scale of a scale question (1–5 without labels when the file gives none)."""
        return self.scale or ScaleSpec()

    @property
    def text_limit(self) -> int:
        """Maximum length of a free-text answer."""
        return self.max_length or 1000

    def option(self, option_id: str) -> Option | None:
        """The option with this id, if any."""
        return next((o for o in self.options if o.id == option_id), None)


class FollowUpQuestion(Question):
    """The question of a follow-up: any question type with the same rules, but no branching of its own —
    it is asked alone, days after the survey (the follow-up's `show_if` decides whom it is asked)."""

    @field_validator("show_if")
    @classmethod
    def _no_show_if(cls, value: Condition | None) -> Condition | None:
        if value is not None:
            raise ValueError("a follow-up question has no 'show_if' of its own; put 'show_if' on the follow-up")
        return value

    @field_validator("jumps")
    @classmethod
    def _no_jumps(cls, value: list[Jump]) -> list[Jump]:
        if value:
            raise ValueError("a follow-up question cannot jump: it is asked on its own, days after the survey")
        return value


TOPIC_MAX_LENGTH = 200


class FollowUp(BaseModel):
    """A question asked `after_days` days after the survey was completed, to citizens who agreed at its end.

    The answer is stored with the original response, under `id`. The file leaves `question.id` out: the
    question takes the follow-up's id (given anyway, it must be the same).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    after_days: Annotated[int, Field(strict=True, ge=1, le=365)]
    show_if: Condition | None = None
    topic: LocalText
    """What will be asked, as the end of the opt-in question: "ob sich … verbessert hat" / "whether …"."""
    intro: LocalText | None = None
    question: FollowUpQuestion

    @model_validator(mode="before")
    @classmethod
    def _question_takes_the_follow_up_id(cls, value: Any) -> Any:
        if not isinstance(value, dict) or not isinstance(value.get("question"), dict) or "id" in value["question"]:
            return value
        own = value.get("id")
        # A bad follow-up id is reported on `id`; a stand-in keeps the same mistake from being reported twice.
        derived = own if isinstance(own, str) and re.fullmatch(ID_PATTERN, own) else "follow-up"
        return {**value, "question": {**value["question"], "id": derived}}

    @field_validator("topic")
    @classmethod
    def _topic_fits_the_opt_in_question(cls, value: LocalText) -> LocalText:
        for text in (value.de, value.en):
            if text is None:
                continue
            if len(text) > TOPIC_MAX_LENGTH:
                raise ValueError(f"a topic is a short phrase of at most {TOPIC_MAX_LENGTH} characters")
            if text.rstrip()[-1:] in ("?", ".", "!"):
                raise ValueError("the topic ends the bot's question, which adds the '?': leave out the final mark")
        return value

    @field_validator("question")
    @classmethod
    def _question_id_is_the_follow_up_id(cls, value: FollowUpQuestion, info: ValidationInfo) -> FollowUpQuestion:
        own = info.data.get("id")  # absent when the follow-up's own id is invalid (reported there)
        if own is not None and value.id != own:
            raise ValueError(f"the question takes the follow-up's id '{own}'; leave out 'id: {value.id}' here")
        return value


class Survey(BaseModel):
    """A validated survey. `id` is the stable slug; versions are assigned by storage at import."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=SURVEY_ID_PATTERN)]
    title: LocalText
    description: LocalText | None = None
    field: str | None = None
    intro: LocalText | None = None
    closing: LocalText | None = None
    questions: Annotated[list[Question], Field(min_length=1, max_length=60)]
    follow_ups: Annotated[list[FollowUp], Field(max_length=10)] = Field(default_factory=list)

    @field_validator("field")
    @classmethod
    def _field_key(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z_]+", value):
            raise ValueError("'field' is a strategy-field key such as 'mobilitaet'")
        return value

    @model_validator(mode="after")
    def _references(self) -> Survey:
        positions: dict[str, int] = {}
        for index, question in enumerate(self.questions):
            if question.id == "end":
                raise ValueError("question id 'end' is reserved for jumps")
            if question.id in positions:
                raise ValueError(f"question id '{question.id}' is used twice")
            positions[question.id] = index
        for index, question in enumerate(self.questions):
            conditions = [question.show_if] if question.show_if else []
            conditions += [jump.when for jump in question.jumps]
            for condition in conditions:
                ref = positions.get(condition.question)
                if ref is None:
                    raise ValueError(f"question '{question.id}' refers to unknown question '{condition.question}'")
                if ref > index or (ref == index and condition in ([question.show_if] if question.show_if else [])):
                    raise ValueError(
                        f"question '{question.id}' can only depend on an earlier answer, not '{condition.question}'"
                    )
            for jump in question.jumps:
                if jump.to == "end":
                    continue
                target = positions.get(jump.to)
                if target is None:
                    raise ValueError(f"question '{question.id}' jumps to unknown question '{jump.to}'")
                if target <= index:
                    raise ValueError(f"question '{question.id}' may only jump forward, not to '{jump.to}'")
        taken = set(positions)
        for follow_up in self.follow_ups:
            # Its answer is stored in the same response, under its id: it must not collide with any other.
            if follow_up.id == "end":
                raise ValueError("follow-up id 'end' is reserved for jumps")
            if follow_up.id in taken:
                raise ValueError(f"follow-up id '{follow_up.id}' is already used by a question or follow-up")
            taken.add(follow_up.id)
            if follow_up.show_if is not None and follow_up.show_if.question not in positions:
                raise ValueError(
                    f"follow-up '{follow_up.id}' refers to unknown question '{follow_up.show_if.question}'"
                )
        return self

    def question(self, question_id: str) -> Question | None:
        """The question with this id, if any."""
        return next((q for q in self.questions if q.id == question_id), None)

    def follow_up(self, follow_up_id: str) -> FollowUp | None:
        """The follow-up with this id, if any."""
        return next((f for f in self.follow_ups if f.id == follow_up_id), None)
