"""At the end of a survey: may its follow-up questions come later? ("Darf ich Sie in 3 Tagen noch einmal kurz
fragen, ob …?")

Only the follow-ups due for the citizen's answers (`surveys.engine.due_follow_ups`) are offered, saying when and
what. "Ja, gern" switches the `followups` opt-in on (source `survey_end`) and schedules one row per follow-up;
a citizen who already opted in gets them scheduled right away and one line saying so (and how to decline).

Button payloads: `fa:yes:<token>`, `fa:no:<token>` — the token is the end of the response id, so an old question
still on screen is answered as outdated instead of scheduling the wrong survey's questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from handlers import onboarding, outreach
from handlers.events import Button, Decision, Effect, Outbound, ScheduleFollowUp
from handlers.state import DialogueData, Flow, FollowUpOffer
from handlers.turn import Turn
from surveys.catalog import SurveyVersion
from surveys.engine import due_follow_ups
from surveys.schema import AnswerValue, FollowUp

OFFER = "fa"
_TOKEN = 16


def _token(response_id: str) -> str:
    return response_id[-_TOKEN:]


def _when(turn: Turn, days: int) -> str:
    return turn.t("ask.when_tomorrow") if days == 1 else turn.t("ask.when_days", days=days)


def _plan(turn: Turn, follow_ups: Sequence[FollowUp], one: str, many: str) -> str:
    if len(follow_ups) == 1:
        follow_up = follow_ups[0]
        return turn.t(one, when=_when(turn, follow_up.after_days), topic=follow_up.topic.get(turn.lang))
    lines = [turn.t(many)]
    lines += [
        turn.t("ask.followups_line", when=_when(turn, f.after_days), topic=f.topic.get(turn.lang)) for f in follow_ups
    ]
    return "\n".join(lines)


def _schedule(turn: Turn, response_id: str, version: SurveyVersion, follow_ups: Sequence[FollowUp]) -> list[Effect]:
    return [
        ScheduleFollowUp(
            due_at=turn.ctx.now + timedelta(days=f.after_days),
            kind=outreach.SURVEY_FOLLOWUP,
            payload={
                "response_id": response_id,
                "survey_key": version.key,
                "survey_version": version.version,
                "followup_id": f.id,
            },
            response_id=response_id,
            unsolicited=True,
        )
        for f in follow_ups
    ]


def offer(
    turn: Turn,
    response_id: str,
    version: SurveyVersion,
    answers: dict[str, AnswerValue],
    before: Sequence[Outbound],
    summary: str,
    data: DialogueData,
    effects: Sequence[Effect],
) -> Decision:
    """The end of a survey: the summary with the menu, then the follow-up question when one is due."""
    due = due_follow_ups(version.survey, answers)
    if not due:
        return onboarding.menu(turn, *before, lead=summary, data=data, effects=effects)
    if outreach.opted_in(turn, outreach.FOLLOWUPS):
        line = _plan(turn, due, "followup.scheduled_one", "followup.scheduled_many")
        planned = _schedule(turn, response_id, version, due)
        return onboarding.menu(turn, *before, lead=f"{summary}\n\n{line}", data=data, effects=[*effects, *planned])
    question = _plan(turn, due, "ask.followups_one", "ask.followups_many")
    token = _token(response_id)
    buttons = ((Button(f"{OFFER}:yes:{token}", turn.t("ask.yes")), Button(f"{OFFER}:no:{token}", turn.t("ask.no"))),)
    offered = FollowUpOffer(response_id, version.key, version.version, tuple(f.id for f in due))
    # The menu as after every survey, then the question as the newest message (typed "1" answers it).
    menu = onboarding.menu_message(turn, data, summary)
    ask = Outbound(text=question, buttons=buttons)
    return turn.reply(*before, menu, ask, flow=Flow.MENU, data=data.evolve(offer=offered), effects=effects)


def on_offer(turn: Turn, rest: str) -> Decision | None:
    """`fa:yes:<token>` / `fa:no:<token>`: the answer to the follow-up question at the end of a survey."""
    answer, _, token = rest.partition(":")
    if answer not in ("yes", "no"):
        return None
    current = turn.data.offer
    if current is None or not token or _token(current.response_id) != token:
        return _after(turn, turn.t("ask.outdated"))
    data = turn.data.evolve(offer=None)
    if answer == "no":
        return _after(turn, turn.t("ask.followups_no"), data)
    version = turn.ctx.catalog.get(current.key, current.version)
    follow_ups = [] if version is None else [version.survey.follow_up(i) for i in current.follow_ups]
    due = [f for f in follow_ups if f is not None]
    if version is None or not due:
        return _after(turn, turn.t("ask.outdated"), data)
    effects = _schedule(turn, current.response_id, version, due)
    if not outreach.opted_in(turn, outreach.FOLLOWUPS):
        opt_in, turn = outreach.set_opt_in(turn, outreach.FOLLOWUPS, True, "survey_end")
        effects.insert(0, opt_in)
    return _after(turn, turn.t("ask.followups_yes"), data, effects)


def _after(turn: Turn, line: str, data: DialogueData | None = None, effects: Sequence[Effect] = ()) -> Decision:
    if turn.flow in (Flow.MENU, Flow.SURVEY_LIST, Flow.ABO):
        return onboarding.menu(turn, lead=line, data=data, effects=effects)
    return turn.reply(Outbound(text=line), data=data, effects=effects)  # never pulled out of what they do now
