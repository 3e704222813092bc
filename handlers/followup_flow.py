"""Messages the city sends unasked, as the citizen receives them: survey follow-up questions, invitations to a
campaign's survey and their reminders, and the reminder of an unfinished survey.

A due follow_ups row arrives as `Inbound(kind=FOLLOW_UP, payload=<kind>, args=<JSON row payload + follow_up_id>)`.
Every such event ends in one `FollowUpOutcome`: `skipped` (no consent to the notice in force, no opt-in for the
kind, paused, survey closed or already taken, nothing to ask), `held` (the citizen is in the middle of something:
the row waits until they are idle, see `handlers.dialogue.handle`), or `sent` (the decision's messages are it).

The answer to a follow-up question is parsed like any survey answer and stored with the ORIGINAL response.

Button payloads (≤ 64 bytes; survey keys ≤ 40 characters):
    i:g:<campaign>:<version>:<key>   "Jetzt teilnehmen": the pinned survey version of the invitation
    i:l:<campaign>                   "Später"
    i:n:<campaign>                   "Keine Einladungen mehr"
The follow-up question uses the survey question buttons (`handlers.questions`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers import onboarding, outreach, survey_flow
from handlers.events import (
    FOLLOW_UP_HELD,
    FOLLOW_UP_SENT,
    FOLLOW_UP_SKIPPED,
    IDEA_STATUS_KIND,
    Button,
    Decision,
    Effect,
    FollowUpOutcome,
    Outbound,
    SaveAnswer,
)
from handlers.publication_render import (
    MODERATION_QUEUE_KIND,
    PUBLICATION_KIND,
    render_merge_news,
    render_publication_news,
    render_queue_notice,
)
from handlers.questions import explain, render_question
from handlers.staff_render import render_idea_news
from handlers.state import IDLE_FLOWS, Flow, FollowUpQuestion
from handlers.turn import Turn, column
from surveys.catalog import SurveyVersion
from surveys.engine import AnswerError, answer_label, choice_value, fold, parse_text_answer, skip_value
from surveys.schema import AnswerValue, FollowUp, QuestionType, Survey

INVITE = "i"

NO_OPT_IN = "no_opt_in"
PAUSED = "paused"
CLOSED = "closed"
NOT_NEEDED = "not_needed"
"""Why a row was skipped (`FollowUpOutcome.reason`, stored as the row's outcome)."""
_TAKE_PART = "g"
_LATER = "l"
_NO_MORE = "n"

_SECONDS_PER_ANSWER = {QuestionType.FREE_TEXT: 60}
_SECONDS_PER_CHOICE = 20


@dataclass(frozen=True)
class _Row:
    """The follow_ups row an event was fed back for."""

    id: int | None
    kind: str
    payload: Mapping[str, Any]

    def text(self, key: str) -> str:
        return str(self.payload.get(key) or "")

    def number(self, key: str) -> int | None:
        value = self.payload.get(key)
        try:
            return None if value is None or isinstance(value, bool) else int(value)
        except (TypeError, ValueError):
            return None


def _row(turn: Turn) -> _Row:
    try:
        payload = json.loads(turn.inbound.args) if turn.inbound.args else {}
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    row = _Row(None, turn.inbound.payload, payload)
    return _Row(row.number("follow_up_id"), row.kind, payload)


def _outcome(turn: Turn, row: _Row, outcome: str, decision: Decision | None = None, reason: str = "") -> Decision:
    base = Decision(state=turn.state) if decision is None else decision
    if row.id is None:  # a row written by an older bot carries no id: nothing to report
        return base
    data = turn.data.evolve(held=True) if outcome == FOLLOW_UP_HELD else None
    state = base.state if data is None else base.state.evolve(data=data.to_dict())
    effect = FollowUpOutcome(row.id, outcome, reason)
    return Decision(state=state, messages=base.messages, effects=(*base.effects, effect))


def _version(turn: Turn, row: _Row) -> SurveyVersion | None:
    version = row.number("survey_version")
    return None if version is None else turn.ctx.catalog.get(row.text("survey_key"), version)


def _closed(turn: Turn, key: str, grace: bool) -> bool:
    """Closed by staff (`grace`: and the time to finish is over)."""
    closed_at = turn.ctx.catalog.closed_at(key)
    if closed_at is None:
        return False
    return not grace or turn.ctx.now > closed_at + turn.ctx.outreach.close_grace


def _ended(turn: Turn, row: _Row) -> bool:
    """The campaign the row belongs to ended (its `ends_at` travels in the payload; rows claimed just before the
    campaign closed are not sent after its end)."""
    try:
        ends_at = datetime.fromisoformat(row.text("ends_at")) if row.text("ends_at") else None
    except ValueError:
        return False
    return ends_at is not None and ends_at.tzinfo is not None and turn.ctx.now >= ends_at


def _unwanted(turn: Turn, row: _Row, version: SurveyVersion | None) -> str | None:
    """Why the citizen does not want this message now (None: they asked for it): no consent to the notice in
    force or no opt-in for the kind (or, for invitations, not for this survey's field), or a pause."""
    topic = outreach.OPT_IN_OF_KIND.get(row.kind)
    if topic is None or not turn.consented or not outreach.opted_in(turn, topic):
        return NO_OPT_IN
    if outreach.is_paused(turn):
        return PAUSED
    fields = turn.state.opt_ins.get(topic, ())
    field = None if version is None else version.survey.field
    if topic == outreach.SURVEYS and fields and field is not None and field not in fields:
        return NO_OPT_IN
    return None


def on_follow_up(turn: Turn) -> Decision:
    """A due follow_ups row: send it, hold it while the citizen is busy, or skip it."""
    row = _row(turn)
    if row.kind == IDEA_STATUS_KIND:
        return _idea_news(turn, row)
    if row.kind in (PUBLICATION_KIND, MODERATION_QUEUE_KIND):
        return _publication(turn, row)
    version = _version(turn, row)
    progress = turn.data.survey
    if version is None and row.kind == outreach.SURVEY_REMINDER and progress is not None:
        version = turn.ctx.catalog.get(progress.key, progress.version)  # a reminder row without the survey named
    send = _SENDERS.get(row.kind)
    reason = _unwanted(turn, row, version)
    if send is None or version is None or reason is not None:
        return _outcome(turn, row, FOLLOW_UP_SKIPPED, reason=reason or NOT_NEEDED)
    decision = send(turn, row, version)  # pure: made even when it then waits, so a skip is known now
    if isinstance(decision, str):
        return _outcome(turn, row, FOLLOW_UP_SKIPPED, reason=decision)
    if outreach.is_busy(turn):
        return _outcome(turn, row, FOLLOW_UP_HELD)
    return _outcome(turn, row, FOLLOW_UP_SENT, decision)


def _idea_news(turn: Turn, row: _Row) -> Decision:
    """News about one of the citizen's ideas (staff changed its status): only with the idea_news opt-in."""
    reason = _unwanted(turn, row, None)
    if reason is not None:
        return _outcome(turn, row, FOLLOW_UP_SKIPPED, reason=reason)
    if outreach.is_busy(turn):
        return _outcome(turn, row, FOLLOW_UP_HELD)
    tz = turn.ctx.outreach.timezone
    if row.payload.get("merged"):  # staff merged the idea into a similar one (bot.ideaboard.publication.merge)
        message = render_merge_news(row.payload, turn.ctx.texts, turn.lang, tz)
    else:
        message = render_idea_news(row.payload, turn.ctx.texts, turn.lang, tz)
    return _outcome(turn, row, FOLLOW_UP_SENT, turn.reply(message))


def _publication(turn: Turn, row: _Row) -> Decision:
    """Solicited news about publishing: the author hears of the moderation decision, staff of a grown queue.
    No opt-in needed (the author asked for publication; staff asked to be told); a pause and a busy citizen wait."""
    if not turn.consented and row.kind == PUBLICATION_KIND:
        return _outcome(turn, row, FOLLOW_UP_SKIPPED, reason=NO_OPT_IN)
    if outreach.is_paused(turn):
        return _outcome(turn, row, FOLLOW_UP_SKIPPED, reason=PAUSED)
    # staff need not have agreed to anything as citizens: only their own staff steps make them busy
    busy = outreach.is_busy(turn) if turn.consented else turn.flow in (Flow.STAFF_NOTE, Flow.STAFF_CONFIRM)
    if busy:
        return _outcome(turn, row, FOLLOW_UP_HELD)
    if row.kind == MODERATION_QUEUE_KIND:
        message = render_queue_notice(row.payload, turn.ctx.texts, turn.lang)
    else:
        message = render_publication_news(row.payload, turn.ctx.texts, turn.lang, turn.ctx.outreach.timezone)
    return _outcome(turn, row, FOLLOW_UP_SENT, turn.reply(message))


# --------------------------------------------------------------------------------------------------- follow-ups


def _follow_up(turn: Turn, row: _Row, version: SurveyVersion) -> Decision | str:
    follow_up = version.survey.follow_up(row.text("followup_id"))
    response_id = row.text("response_id")
    if follow_up is None or not response_id:
        return NOT_NEEDED
    if _closed(turn, version.key, grace=True):
        return CLOSED
    survey = version.survey
    if follow_up.intro is not None:
        intro = follow_up.intro.get(turn.lang)
    else:
        intro = turn.t("followup.intro", days=follow_up.after_days, title=survey.title.get(turn.lang))
    asking = FollowUpQuestion(row.id or 0, response_id, version.key, version.version, follow_up.id)
    return _ask(turn, survey, follow_up, asking, lead=intro)


def _ask(turn: Turn, survey: Survey, follow_up: FollowUp, asking: FollowUpQuestion, lead: str | None = None,
         replaces: str | None = None) -> Decision:  # fmt: skip
    hint = turn.t("followup.hint")
    lead = hint if lead is None else f"{lead}\n{hint}"
    message = render_question(turn, survey, follow_up.question, {}, asking.pending, lead=lead, replaces=replaces,
                              numbered=False)  # fmt: skip
    return turn.reply(message, flow=Flow.FOLLOW_UP, data=turn.data.evolve(answering=asking))


@dataclass(frozen=True)
class _Open:
    asking: FollowUpQuestion
    survey: Survey
    follow_up: FollowUp


def _open(turn: Turn) -> _Open | None:
    asking = turn.data.answering
    if asking is None or turn.flow is not Flow.FOLLOW_UP:
        return None
    version = turn.ctx.catalog.get(asking.key, asking.version)
    follow_up = None if version is None else version.survey.follow_up(asking.question_id)
    return None if version is None or follow_up is None else _Open(asking, version.survey, follow_up)


def show_question(turn: Turn) -> Decision:
    """The follow-up question again (the step's prompt)."""
    current = _open(turn)
    if current is None:
        return onboarding.menu(turn, data=turn.data.evolve(answering=None))
    return _ask(turn, current.survey, current.follow_up, current.asking)


def on_text(turn: Turn, text: str) -> Decision:
    """A typed answer, parsed exactly like a survey answer; the skip and done labels work too."""
    current = _open(turn)
    if current is None:
        return show_question(turn)
    question = current.follow_up.question
    typed = fold(text)
    try:
        if typed == fold(turn.t("survey.skip")):
            skip_value(question)
            return _finish(turn, current, None)
        if question.type is QuestionType.MULTIPLE_CHOICE and typed == fold(turn.t("survey.done")):
            value = choice_value(question, current.asking.pending)
        else:
            value = parse_text_answer(question, text)
    except AnswerError as error:
        return _ask(turn, current.survey, current.follow_up, current.asking, lead=explain(turn, question, error))
    return _finish(turn, current, value)


def _for_button(turn: Turn, question_id: str) -> _Open | None:
    current = _open(turn)
    return current if current is not None and current.asking.question_id == question_id else None


def on_answer(turn: Turn, rest: str) -> Decision | None:
    """`a:<question>:<option>` on the follow-up question."""
    question_id, _, option = rest.partition(":")
    current = _for_button(turn, question_id)
    if current is None or current.follow_up.question.type is QuestionType.MULTIPLE_CHOICE:
        return None
    try:
        value = choice_value(current.follow_up.question, [option])
    except AnswerError:
        return None
    return _finish(turn, current, value)


def on_toggle(turn: Turn, rest: str) -> Decision | None:
    """`t:<question>:<option>`: tick or untick an option of a multiple-choice follow-up question."""
    question_id, _, option = rest.partition(":")
    current = _for_button(turn, question_id)
    question = None if current is None else current.follow_up.question
    if current is None or question is None or question.type is not QuestionType.MULTIPLE_CHOICE:
        return None
    if question.option(option) is None:
        return None
    pending = current.asking.pending
    ticked = tuple(o for o in pending if o != option) if option in pending else (*pending, option)
    if question.max_choices is not None and len(ticked) > question.max_choices:
        error = AnswerError("too_many", {"max": question.max_choices})
        return turn.reply(Outbound(text=explain(turn, question, error)))
    asking = FollowUpQuestion(**{**current.asking.__dict__, "pending": ticked})
    return _ask(turn, current.survey, current.follow_up, asking, replaces=turn.inbound.message_ref)


def on_done(turn: Turn, question_id: str) -> Decision | None:
    """`d:<question>`: the ticked options are the answer."""
    current = _for_button(turn, question_id)
    if current is None or current.follow_up.question.type is not QuestionType.MULTIPLE_CHOICE:
        return None
    try:
        value = choice_value(current.follow_up.question, current.asking.pending)
    except AnswerError as error:
        question = current.follow_up.question
        return _ask(turn, current.survey, current.follow_up, current.asking, lead=explain(turn, question, error))
    return _finish(turn, current, value)


def on_skip(turn: Turn, question_id: str) -> Decision | None:
    """`k:<question>`: no answer; nothing is stored."""
    current = _for_button(turn, question_id)
    return None if current is None else _finish(turn, current, None)


def cancel(turn: Turn) -> Decision:
    """/abbrechen on the follow-up question: thanks, nothing stored."""
    return onboarding.menu(turn, lead=turn.t("followup.skipped"), data=turn.data.evolve(answering=None))


def _finish(turn: Turn, current: _Open, value: AnswerValue) -> Decision:
    data = turn.data.evolve(answering=None)
    if value is None:
        return onboarding.menu(turn, lead=turn.t("followup.skipped"), data=data)
    question = current.follow_up.question
    edit = turn.edit_answered(question.text.get(turn.lang), answer_label(question, value, turn.lang))
    classification = turn.inbound.classification if question.type is QuestionType.FREE_TEXT else None
    effect = SaveAnswer(current.asking.response_id, current.asking.question_id, value, classification)
    thanks = turn.t("followup.thanks", title=current.survey.title.get(turn.lang))
    return onboarding.menu(turn, *edit, lead=thanks, data=data, effects=[effect])


# --------------------------------------------------------------------------------------------------- invitations


def _minutes(survey: Survey) -> int:
    seconds = sum(_SECONDS_PER_ANSWER.get(q.type, _SECONDS_PER_CHOICE) for q in survey.questions)
    return max(1, math.ceil(seconds / 60))


def _invite_buttons(turn: Turn, row: _Row, version: SurveyVersion) -> list[Button]:
    campaign = row.number("campaign_id") or 0
    return [
        Button(f"{INVITE}:{_TAKE_PART}:{campaign}:{version.version}:{version.key}", turn.t("invite.take_part")),
        Button(f"{INVITE}:{_LATER}:{campaign}", turn.t("invite.later")),
        Button(f"{INVITE}:{_NO_MORE}:{campaign}", turn.t("invite.no_more")),
    ]


def _invitation(turn: Turn, row: _Row, version: SurveyVersion) -> Decision | str:
    if _closed(turn, version.key, grace=False) or _ended(turn, row):
        return CLOSED
    if version.key in turn.data.completed:
        return NOT_NEEDED
    survey = version.survey
    values = {"title": survey.title.get(turn.lang), "questions": len(survey.questions), "minutes": _minutes(survey)}
    paused = turn.data.survey
    buttons = _invite_buttons(turn, row, version)
    if row.kind == outreach.CAMPAIGN_REMINDER and paused is not None and paused.key == version.key:
        text = turn.t("invite.reminder_started", **values)
        buttons[0] = Button(f"{onboarding.MENU}:resume", turn.t("invite.resume"))
    elif row.kind == outreach.CAMPAIGN_REMINDER:
        text = turn.t("invite.reminder", **values)
    else:
        text = turn.t("invite.text", **values)
        if survey.description is not None:
            text = f"{text}\n\n{survey.description.get(turn.lang)}"
    return turn.reply(Outbound(text=text, buttons=column(buttons)), flow=Flow.MENU)


def on_invite(turn: Turn, rest: str) -> Decision | None:
    """`i:g:…` take part in the pinned version; `i:l:…` later; `i:n:…` no more invitations."""
    action, _, rest = rest.partition(":")
    if action == _TAKE_PART:
        campaign, _, rest = rest.partition(":")
        number, _, key = rest.partition(":")
        if not (campaign.isdigit() and number.isdigit() and key):
            return None
        version = turn.ctx.catalog.get(key, int(number))
        if version is None or _closed(turn, key, grace=False):
            return _line(turn, turn.t("survey.not_available"))
        return survey_flow.start_version(turn, version, campaign_id=int(campaign) or None)
    if action == _LATER:
        return _line(turn, turn.t("invite.later_reply"))
    if action == _NO_MORE:
        if not outreach.opted_in(turn, outreach.SURVEYS):
            return _line(turn, turn.t("invite.no_more_reply"))
        effect, changed = outreach.set_opt_in(turn, outreach.SURVEYS, False, "invitation")
        return _line(changed, changed.t("invite.no_more_reply"), effect)
    return None


def _line(turn: Turn, text: str, *effects: Effect) -> Decision:
    """A one-line answer: with the menu when the citizen is idle, alone when they are in the middle of something."""
    if turn.flow in IDLE_FLOWS:
        return onboarding.menu(turn, lead=text, effects=effects)
    return turn.reply(Outbound(text=text), effects=effects)


# --------------------------------------------------------------------------------------------------- reminder


def _survey_reminder(turn: Turn, row: _Row, version: SurveyVersion) -> Decision | str:
    progress = turn.data.survey
    response_id = row.text("response_id")
    if progress is None or progress.key != version.key or (response_id and progress.response_id != response_id):
        return NOT_NEEDED  # finished (or started afresh) meanwhile
    if turn.flow is Flow.SURVEY and outreach.is_busy(turn):
        return NOT_NEEDED  # answering it right now
    if _closed(turn, version.key, grace=True):
        return CLOSED
    return onboarding.menu(turn, lead=turn.t("survey.reminder", title=version.survey.title.get(turn.lang)))


_SENDERS: Mapping[str, Callable[[Turn, _Row, SurveyVersion], Decision | str]] = {
    outreach.SURVEY_FOLLOWUP: _follow_up,
    outreach.INVITATION: _invitation,
    outreach.CAMPAIGN_REMINDER: _invitation,
    outreach.SURVEY_REMINDER: _survey_reminder,
}
