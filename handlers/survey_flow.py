"""Taking a survey: the list, starting, one question at a time, /zurueck, /abbrechen, /weiter, finishing.

The unfinished response lives in `DialogueData.survey` and outlives detours (an idea, the menu, a restart), so
the citizen always resumes at the exact question. A version that is no longer active is finished as it was
started; only a version that vanished entirely ends the response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from handlers import followup_offer, onboarding, outreach
from handlers.events import (
    Button,
    CompleteResponse,
    Decision,
    DeleteAnswer,
    Effect,
    FieldScores,
    Outbound,
    SaveAnswer,
    StartResponse,
)
from handlers.questions import LABEL_LIMIT, explain, render_question
from handlers.state import Flow, SurveyProgress
from handlers.turn import Turn, clip, column
from surveys.catalog import SurveyVersion
from surveys.engine import (
    AnswerError,
    answer_label,
    choice_value,
    first_question,
    fold,
    next_question,
    parse_text_answer,
    path,
    relevant_answers,
    skip_value,
)
from surveys.schema import AnswerValue, Question, QuestionType

START = "s"
"""Payload prefix of the survey list's buttons: `s:<survey key>`."""

_DESCRIPTION_LIMIT = 300
_SUMMARY_QUESTION_LIMIT = 80
_SUMMARY_ANSWER_LIMIT = 300
_PAUSABLE_FROM = (Flow.SURVEY, Flow.MENU, Flow.SURVEY_LIST)
"""Steps in which a press on the paused question's button is taken as resuming with that answer."""


@dataclass(frozen=True)
class _Active:
    """The unfinished response with its survey version and current question, all known to exist."""

    progress: SurveyProgress
    version: SurveyVersion
    question: Question


def _ended(turn: Turn, key: str) -> bool:
    """Staff closed the survey and the time to finish it is over."""
    closed_at = turn.ctx.catalog.closed_at(key)
    return closed_at is not None and turn.ctx.now > closed_at + turn.ctx.outreach.close_grace


def _load(turn: Turn) -> _Active | None:
    progress = turn.data.survey
    if progress is None or _ended(turn, progress.key):
        return None
    version = turn.ctx.catalog.get(progress.key, progress.version)
    question = None if version is None else version.survey.question(progress.current)
    if version is None or question is None:
        return None
    return _Active(progress, version, question)


def _vanished(turn: Turn) -> Decision:
    progress = turn.data.survey
    version = None if progress is None else turn.ctx.catalog.get(progress.key, progress.version)
    if progress is not None and version is not None and _ended(turn, progress.key):
        # Closed by staff: what was answered stays stored (and counts), no further question is asked.
        lead = turn.t("survey.ended", title=version.survey.title.get(turn.lang))
        return onboarding.menu(turn, lead=lead, data=turn.data.evolve(survey=None))
    return onboarding.menu(turn, lead=turn.t("survey.vanished"), data=turn.data.evolve(survey=None))


def _initial_pending(question: Question, answers: Mapping[str, AnswerValue]) -> tuple[str, ...]:
    value = answers.get(question.id)
    return tuple(value) if question.type is QuestionType.MULTIPLE_CHOICE and isinstance(value, list) else ()


def _ask(
    turn: Turn,
    active: _Active,
    *before: Outbound,
    lead: str | None = None,
    replaces: str | None = None,
    effects: Sequence[Effect] = (),
) -> Decision:
    """Show the current question of `active` (stored as the citizen's progress)."""
    progress = active.progress
    message = render_question(
        turn, active.version.survey, active.question, progress.answers, progress.pending, lead=lead, replaces=replaces
    )
    data = turn.data.evolve(survey=progress)
    return turn.reply(*before, message, flow=Flow.SURVEY, data=data, effects=effects)


# --------------------------------------------------------------------------------------------------- list, start


def show_list(turn: Turn, lead: str | None = None) -> Decision:
    """The active surveys with title and description; finished ones are marked, the unfinished one offered."""
    lang = turn.lang
    lines: list[str] = [turn.t("survey.list_intro")]
    resume = onboarding.resume_button(turn, turn.data)
    buttons = [] if resume is None else [resume]
    paused = turn.data.survey
    for version in turn.ctx.catalog.active():
        survey = version.survey
        title = survey.title.get(lang)
        if version.key in turn.data.completed:
            lines.append(f"✓ {title} ({turn.t('survey.list_done')})")
            continue
        description = survey.description.get(lang) if survey.description else ""
        lines.append(f"• {title}" + (f"\n{clip(description, _DESCRIPTION_LIMIT)}" if description else ""))
        if resume is None or paused is None or paused.key != version.key:
            buttons.append(Button(f"{START}:{version.key}", clip(title, LABEL_LIMIT)))
    text = "\n\n".join(lines) if len(lines) > 1 else turn.t("survey.none")
    if lead is not None:
        text = f"{lead}\n\n{text}"
    if not buttons:  # nothing (left) to take part in
        return onboarding.menu(turn, lead=text)
    return turn.reply(Outbound(text=text, buttons=column(buttons)), flow=Flow.SURVEY_LIST)


def on_start(turn: Turn, key: str) -> Decision | None:
    """`s:<key>`: start the active version of a survey (or resume it when it is the unfinished one)."""
    paused = turn.data.survey
    if paused is not None and paused.key == key and _load(turn) is not None:
        return resume(turn)
    version = turn.ctx.catalog.latest(key)
    if version is None:
        return show_list(turn, lead=turn.t("survey.not_available"))
    return start_version(turn, version)


def start_version(turn: Turn, version: SurveyVersion, campaign_id: int | None = None) -> Decision:
    """Start `version` (e.g. the one an invitation pinned), unless taken already; the unfinished one resumes."""
    paused = turn.data.survey
    if paused is not None and paused.key == version.key and _load(turn) is not None:
        return resume(turn)
    if version.key in turn.data.completed:
        return onboarding.menu(turn, lead=turn.t("survey.already_done", title=version.survey.title.get(turn.lang)))
    survey = version.survey
    progress = SurveyProgress(response_id=turn.ctx.new_id, key=version.key, version=version.version, current="")
    started = StartResponse(progress.response_id, version.key, version.version, campaign_id)
    intro = [survey.title.get(turn.lang)]
    if survey.intro is not None:
        intro.append(survey.intro.get(turn.lang))
    intro.append(turn.t("survey.start"))
    first = first_question(survey)
    if first is None:  # every question hidden by its condition: nothing to ask
        return _complete(turn, progress, version, {}, [Outbound("\n\n".join(intro))], [started])
    active = _Active(replace(progress, current=first.id), version, first)
    return _ask(turn, active, Outbound(text="\n\n".join(intro)), effects=[started])


# --------------------------------------------------------------------------------------------------- questions


def show_question(turn: Turn) -> Decision:
    """The current question again (the survey step's prompt)."""
    if turn.data.survey is None:
        return onboarding.show_menu(turn)
    active = _load(turn)
    return _vanished(turn) if active is None else _ask(turn, active)


def on_text(turn: Turn, text: str) -> Decision:
    """A typed answer: a number, option text(s), ja/nein, a number or free text; or the Skip/Done label."""
    active = _load(turn)
    if active is None:
        return show_question(turn)
    question = active.question
    typed = fold(text)
    classification = None
    try:
        if typed == fold(turn.t("survey.skip")):
            value = skip_value(question)
        elif question.type is QuestionType.MULTIPLE_CHOICE and typed == fold(turn.t("survey.done")):
            value = choice_value(question, active.progress.pending)
        else:
            value = parse_text_answer(question, text)
            if question.type is QuestionType.FREE_TEXT:
                # Stored with the answer for analysis; the citizen is not asked about it.
                classification = turn.inbound.classification
    except AnswerError as error:
        return _ask(turn, active, lead=explain(turn, question, error))
    return _accept(turn, active, value, (), classification)


def _for_button(turn: Turn, question_id: str) -> _Active | Decision | None:
    """The response a button of question `question_id` may act on; None when the button is stale."""
    progress = turn.data.survey
    if progress is None or progress.current != question_id or turn.flow not in _PAUSABLE_FROM:
        return None
    active = _load(turn)
    return _vanished(turn) if active is None else active


def on_answer(turn: Turn, rest: str) -> Decision | None:
    """`a:<question>:<option>`: answer a single-choice, scale or yes/no question."""
    question_id, _, option = rest.partition(":")
    active = _for_button(turn, question_id)
    if not isinstance(active, _Active):
        return active
    question = active.question
    if question.type is QuestionType.MULTIPLE_CHOICE:
        return None
    try:
        value = choice_value(question, [option])
    except AnswerError:
        return None  # an option the question does not have (any more): a stale button
    return _accept(turn, active, value, _answered(turn, question, value))


def on_toggle(turn: Turn, rest: str) -> Decision | None:
    """`t:<question>:<option>`: tick or untick an option; the question message is edited in place."""
    question_id, _, option = rest.partition(":")
    active = _for_button(turn, question_id)
    if not isinstance(active, _Active):
        return active
    question = active.question
    if question.type is not QuestionType.MULTIPLE_CHOICE or question.option(option) is None:
        return None
    pending = active.progress.pending
    ticked = tuple(o for o in pending if o != option) if option in pending else (*pending, option)
    if question.max_choices is not None and len(ticked) > question.max_choices:
        error = AnswerError("too_many", {"max": question.max_choices})
        return turn.reply(Outbound(text=explain(turn, question, error)), flow=Flow.SURVEY)
    active = replace(active, progress=replace(active.progress, pending=ticked))
    return _ask(turn, active, replaces=turn.inbound.message_ref)


def on_done(turn: Turn, question_id: str) -> Decision | None:
    """`d:<question>`: the ticked options are the answer."""
    active = _for_button(turn, question_id)
    if not isinstance(active, _Active):
        return active
    question = active.question
    if question.type is not QuestionType.MULTIPLE_CHOICE:
        return None
    try:
        value = choice_value(question, active.progress.pending)
    except AnswerError as error:
        return _ask(turn, active, lead=explain(turn, question, error))
    return _accept(turn, active, value, _answered(turn, question, value))


def on_skip(turn: Turn, question_id: str) -> Decision | None:
    """`k:<question>`: skip an optional question."""
    active = _for_button(turn, question_id)
    if not isinstance(active, _Active):
        return active
    return _skip(turn, active)


def skip_command(turn: Turn) -> Decision:
    """/ueberspringen: skip the current question if it is optional."""
    active = _load(turn) if turn.flow is Flow.SURVEY else None
    if active is None:
        return _not_in_survey(turn)
    return _skip(turn, active)


def _skip(turn: Turn, active: _Active) -> Decision:
    try:
        value = skip_value(active.question)
    except AnswerError as error:
        return _ask(turn, active, lead=explain(turn, active.question, error))
    return _accept(turn, active, value, _answered(turn, active.question, value))


def _answered(turn: Turn, question: Question, value: AnswerValue) -> tuple[Outbound, ...]:
    return turn.edit_answered(question.text.get(turn.lang), answer_label(question, value, turn.lang))


def _accept(
    turn: Turn,
    active: _Active,
    value: AnswerValue,
    before: Sequence[Outbound],
    classification: FieldScores | None = None,
) -> Decision:
    """Store the answer, drop answers a changed branch made obsolete, then ask the next question or finish."""
    progress, survey, question = active.progress, active.version.survey, active.question
    answers = {**progress.answers, question.id: value}
    kept = relevant_answers(survey, answers)
    effects: list[Effect] = [SaveAnswer(progress.response_id, question.id, value, classification)]
    effects += [
        DeleteAnswer(progress.response_id, q.id) for q in survey.questions if q.id in answers and q.id not in kept
    ]
    following = next_question(survey, question.id, kept)
    if following is None:
        return _complete(turn, progress, active.version, kept, before, effects)
    moved = replace(progress, current=following.id, answers=kept, pending=_initial_pending(following, kept))
    return _ask(turn, _Active(moved, active.version, following), *before, effects=effects)


def _complete(
    turn: Turn,
    progress: SurveyProgress,
    version: SurveyVersion,
    answers: dict[str, AnswerValue],
    before: Sequence[Outbound],
    effects: Sequence[Effect],
) -> Decision:
    lang = turn.lang
    survey = version.survey
    closing = survey.closing.get(lang) if survey.closing else turn.t("survey.closing")
    lines = []
    for question_id in path(survey, answers):
        question = survey.question(question_id)
        if question is not None and question_id in answers:
            asked = clip(question.text.get(lang), _SUMMARY_QUESTION_LIMIT)
            lines.append(
                f"• {asked}\n   {clip(answer_label(question, answers[question_id], lang), _SUMMARY_ANSWER_LIMIT)}"
            )
    summary = closing
    if lines:
        summary = f"{closing}\n\n{turn.t('survey.summary')}\n" + "\n".join(lines)
    completed = turn.data.completed if version.key in turn.data.completed else (*turn.data.completed, version.key)
    data = outreach.want_to_ask(
        turn.data.evolve(survey=None, completed=completed), turn, outreach.SURVEYS, "after_survey"
    )
    finished = [*effects, CompleteResponse(progress.response_id)]
    return followup_offer.offer(turn, progress.response_id, version, answers, before, summary, data, finished)


# --------------------------------------------------------------------------------------------------- navigation


def _not_in_survey(turn: Turn) -> Decision:
    text = turn.t("survey.not_in_survey")
    if turn.data.survey is not None:
        text = f"{text} {turn.t('survey.paused')}"
    return turn.reply(Outbound(text=text))


def back(turn: Turn) -> Decision:
    """/zurueck: the previous question on the route, shown with the answer given so far."""
    active = _load(turn) if turn.flow is Flow.SURVEY else None
    if active is None:
        return _vanished(turn) if turn.flow is Flow.SURVEY and turn.data.survey else _not_in_survey(turn)
    progress, survey = active.progress, active.version.survey
    route = path(survey, progress.answers)
    if progress.current in route:
        earlier = route[: route.index(progress.current)]
    else:
        earlier = [q for q in route if q in progress.answers]
    previous = survey.question(earlier[-1]) if earlier else None
    if previous is None:
        return _ask(turn, active, lead=turn.t("survey.first_question"))
    moved = replace(progress, current=previous.id, pending=_initial_pending(previous, progress.answers))
    return _ask(turn, _Active(moved, active.version, previous))


def pause(turn: Turn) -> Decision:
    """/abbrechen during a survey: keep everything, back to the menu."""
    return onboarding.menu(turn, lead=turn.t("survey.paused"))


def resume(turn: Turn) -> Decision:
    """/weiter: the unfinished survey at the exact question it was left."""
    if turn.data.survey is None:
        return show_list(turn, lead=turn.t("survey.nothing_to_resume"))
    active = _load(turn)
    return _vanished(turn) if active is None else _ask(turn, active, lead=turn.t("survey.resumed"))
