"""What may reach a citizen unasked: the opt-ins (/abo), /pause and /stop, and when the bot asks for an opt-in.

Three opt-ins, each stored with proof by the runtime (`SetOptIn`): `surveys` (invitations to new surveys, for all
strategy fields or only chosen ones), `followups` (follow-up questions to surveys the citizen took), `idea_news`
(news about their ideas). The core asks for them at calm moments only: never on top of the consent notice, the
training question or another question, never inside a running survey or idea — a question that falls due then
waits in `DialogueData.to_ask` for the next idle turn (`ask_if_due`), and each topic is asked once.

Button payloads (≤ 64 bytes):
    ab:<topic>:on|off    /abo: switch an opt-in        ab:fields   choose fields     ab:resume   end the pause
    ab:done              /abo: back to the menu
    af:<field>           tick/untick a field           af:*        all fields        af:.        "Fertig"
    pz:<days>            /pause for that many days (pz:1m: one calendar month)
    oi:<topic>:yes|no|fields:<source>   the answer to an opt-in question
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from handlers import onboarding
from handlers.events import (
    IDEA_STATUS_KIND,
    Button,
    Decision,
    Effect,
    Outbound,
    PauseOutreach,
    SetOptIn,
    StopOutreach,
)
from handlers.formats import local_day
from handlers.state import IDLE_FLOWS, DialogueData, Flow
from handlers.turn import Turn, column
from surveys.engine import fold

SURVEYS = "surveys"
FOLLOWUPS = "followups"
IDEA_NEWS = "idea_news"
TOPICS = (SURVEYS, FOLLOWUPS, IDEA_NEWS)

SURVEY_REMINDER = "survey_reminder"
"""FOLLOW_UP kind that re-offers an unfinished survey (payload: response_id, survey_key, survey_version)."""
SURVEY_FOLLOWUP = "survey_followup"
"""FOLLOW_UP kind asking a survey's follow-up question (payload: response_id, survey_key, survey_version,
followup_id)."""
INVITATION = "invitation"
"""FOLLOW_UP kind inviting to a campaign's survey (payload: campaign_id, survey_key, survey_version)."""
CAMPAIGN_REMINDER = "campaign_reminder"
"""FOLLOW_UP kind reminding of a campaign's survey (same payload as `INVITATION`)."""

OPT_IN_OF_KIND: Mapping[str, str] = {
    INVITATION: SURVEYS,
    CAMPAIGN_REMINDER: SURVEYS,
    SURVEY_FOLLOWUP: FOLLOWUPS,
    SURVEY_REMINDER: FOLLOWUPS,
    IDEA_STATUS_KIND: IDEA_NEWS,
}

ABO = "ab"
ABO_FIELD = "af"
PAUSE = "pz"
ASK = "oi"

_ALL = "*"
_DONE = "."
MAX_PAUSE_DAYS = 365
_MONTH = "1m"
BUSY_WINDOW = timedelta(hours=1)
"""How long after their last message a citizen in the middle of a step counts as busy (see `is_busy`)."""
_UNITS = {
    "tag": 1, "tage": 1, "tagen": 1, "t": 1, "d": 1, "day": 1, "days": 1,
    "woche": 7, "wochen": 7, "w": 7, "week": 7, "weeks": 7,
    "monat": 30, "monate": 30, "monaten": 30, "m": 30, "month": 30, "months": 30,
}  # fmt: skip
_OFF_WORDS = {"aus", "ende", "beenden", "stop", "off", "end", "resume", "0"}
_NUMBER_WORDS = {"ein": 1, "eine": 1, "einen": 1, "einem": 1, "one": 1, "a": 1, "zwei": 2, "two": 2, "drei": 3}


# --------------------------------------------------------------------------------------------------- state


def opted_in(turn: Turn, topic: str) -> bool:
    return topic in turn.state.opt_ins


def is_busy(turn: Turn) -> bool:
    """In the middle of something (a survey, an idea, a question of the bot) and active within `BUSY_WINDOW`.

    Someone who walked away from a survey an hour ago is not busy: an unsolicited message may reach them (their
    survey stays resumable with /weiter); someone answering right now gets it once they are done."""
    if turn.flow in IDLE_FLOWS:
        return False
    last = turn.state.last_active_at
    return last is None or turn.ctx.now - last < BUSY_WINDOW


def is_paused(turn: Turn) -> bool:
    until = turn.state.paused_until
    return until is not None and until > turn.ctx.now


def local_date(turn: Turn, moment: datetime) -> str:
    """`moment` as the date a citizen reads, in the city's time zone."""
    return local_day(moment, turn.lang, turn.ctx.outreach.timezone)


def _field_names(turn: Turn, keys: tuple[str, ...]) -> str:
    labels = {f.key: f.label(turn.lang) for f in turn.ctx.fields}
    return ", ".join(labels.get(key, key) for key in keys)


def set_opt_in(turn: Turn, topic: str, on: bool, source: str, fields: tuple[str, ...] = ()) -> tuple[Effect, Turn]:
    """The effect that switches `topic`, and the turn with the citizen's opt-ins as they are afterwards."""
    current = dict(turn.state.opt_ins)
    if on:
        current[topic] = fields if topic == SURVEYS else ()
    else:
        current.pop(topic, None)
    effect = SetOptIn(topic, on, fields if on and topic == SURVEYS else (), source)
    return effect, turn.with_state(turn.state.evolve(opt_ins=current))


def changed_line(turn: Turn, topic: str, on: bool) -> str:
    """One line saying what an opt-in is now."""
    if topic == SURVEYS:
        if not on:
            return turn.t("abo.changed_surveys_off")
        fields = turn.state.opt_ins.get(SURVEYS, ())
        if fields:
            return turn.t("abo.changed_surveys_fields", fields=_field_names(turn, fields))
        return turn.t("abo.changed_surveys_on")
    if topic == FOLLOWUPS:
        return turn.t("abo.changed_followups_on" if on else "abo.changed_followups_off")
    return turn.t("abo.changed_idea_news_on" if on else "abo.changed_idea_news_off")


# --------------------------------------------------------------------------------------------------- /abo


def _overview(turn: Turn) -> str:
    opt_ins = turn.state.opt_ins
    if SURVEYS not in opt_ins:
        surveys = turn.t("abo.surveys_off")
    elif opt_ins[SURVEYS]:
        surveys = turn.t("abo.surveys_some", fields=_field_names(turn, opt_ins[SURVEYS]))
    else:
        surveys = turn.t("abo.surveys_all")
    lines = [
        turn.t("abo.intro"),
        surveys,
        turn.t("abo.followups_on" if FOLLOWUPS in opt_ins else "abo.followups_off"),
        turn.t("abo.idea_news_on" if IDEA_NEWS in opt_ins else "abo.idea_news_off"),
    ]
    paragraphs = ["\n".join(lines)]
    if is_paused(turn) and turn.state.paused_until is not None:
        paragraphs.append(turn.t("abo.paused", date=local_date(turn, turn.state.paused_until)))
    paragraphs.append(turn.t("abo.hint"))
    return "\n\n".join(paragraphs)


def _abo_buttons(turn: Turn) -> list[Button]:
    opt_ins = turn.state.opt_ins
    buttons = [
        Button(f"{ABO}:{SURVEYS}:off", turn.t("abo.surveys_turn_off"))
        if SURVEYS in opt_ins
        else Button(f"{ABO}:{SURVEYS}:on", turn.t("abo.surveys_turn_on")),
        Button(f"{ABO}:fields", turn.t("abo.choose_fields")),
        Button(f"{ABO}:{FOLLOWUPS}:off", turn.t("abo.followups_turn_off"))
        if FOLLOWUPS in opt_ins
        else Button(f"{ABO}:{FOLLOWUPS}:on", turn.t("abo.followups_turn_on")),
        Button(f"{ABO}:{IDEA_NEWS}:off", turn.t("abo.idea_news_turn_off"))
        if IDEA_NEWS in opt_ins
        else Button(f"{ABO}:{IDEA_NEWS}:on", turn.t("abo.idea_news_turn_on")),
    ]
    if is_paused(turn):
        buttons.append(Button(f"{ABO}:resume", turn.t("abo.resume")))
    buttons.append(Button(f"{ABO}:done", turn.t("abo.done")))
    return buttons


def show_abo(turn: Turn, lead: str | None = None, effects: tuple[Effect, ...] = ()) -> Decision:
    """/abo: every opt-in with its state and a button to change it; a pressed button's message is edited."""
    text = _overview(turn) if lead is None else f"{lead}\n\n{_overview(turn)}"
    replaces = turn.inbound.message_ref if turn.flow in (Flow.ABO, Flow.ABO_FIELDS) and lead is not None else None
    message = Outbound(text=text, buttons=column(_abo_buttons(turn)), replaces=replaces)
    return turn.reply(message, flow=Flow.ABO, data=turn.data.evolve(abo_fields=()), effects=effects)


def on_abo(turn: Turn, rest: str) -> Decision | None:
    """`ab:<topic>:on|off`, `ab:fields`, `ab:resume`, `ab:done`."""
    if rest == "done":
        return onboarding.menu(turn)
    if rest == "fields":
        return _ask_fields(turn, turn.state.opt_ins.get(SURVEYS, ()))
    if rest == "resume":
        if not is_paused(turn):
            return show_abo(turn, lead=turn.t("pause.not_paused"))
        resumed = turn.with_state(turn.state.evolve(paused_until=None))
        return show_abo(resumed, lead=turn.t("pause.ended"), effects=(PauseOutreach(None),))
    topic, _, switch = rest.partition(":")
    if topic not in TOPICS or switch not in ("on", "off"):
        return None
    on = switch == "on"
    if opted_in(turn, topic) == on and not (on and topic == SURVEYS and turn.state.opt_ins.get(SURVEYS)):
        return show_abo(turn, lead=turn.t("abo.unchanged"))
    effect, changed = set_opt_in(turn, topic, on, "abo")
    return show_abo(changed, lead=changed_line(changed, topic, on), effects=(effect,))


def _ask_fields(turn: Turn, ticked: tuple[str, ...], lead: str | None = None) -> Decision:
    buttons = [
        Button(f"{ABO_FIELD}:{f.key}", ("✓ " if f.key in ticked else "") + f.label(turn.lang)) for f in turn.ctx.fields
    ]
    buttons += [
        Button(f"{ABO_FIELD}:{_ALL}", turn.t("abo.fields_all")),
        Button(f"{ABO_FIELD}:{_DONE}", turn.t("survey.done")),
    ]
    text = turn.t("abo.fields_prompt") if lead is None else f"{lead}\n\n{turn.t('abo.fields_prompt')}"
    replaces = turn.inbound.message_ref if turn.flow is Flow.ABO_FIELDS and lead is None else None
    message = Outbound(text=text, buttons=column(buttons), replaces=replaces, multi=True)
    return turn.reply(message, flow=Flow.ABO_FIELDS, data=turn.data.evolve(abo_fields=ticked))


def show_fields(turn: Turn) -> Decision:
    """The field chooser again (the step's prompt)."""
    return _ask_fields(turn, turn.data.abo_fields)


def on_field(turn: Turn, key: str) -> Decision | None:
    """`af:<field>` ticks or unticks; `af:*` = all fields; `af:.` = "Fertig" (at least one field)."""
    if key == _ALL:
        return _save_fields(turn, ())
    if key == _DONE:
        if not turn.data.abo_fields:
            return _ask_fields(turn, (), lead=turn.t("abo.fields_none"))
        return _save_fields(turn, turn.data.abo_fields)
    known = [f.key for f in turn.ctx.fields]
    if key not in known:
        return None
    ticked = turn.data.abo_fields
    ticked = tuple(k for k in ticked if k != key) if key in ticked else (*ticked, key)
    return _ask_fields(turn, tuple(k for k in known if k in ticked))


def _save_fields(turn: Turn, fields: tuple[str, ...]) -> Decision:
    if opted_in(turn, SURVEYS) and turn.state.opt_ins[SURVEYS] == fields:
        return show_abo(turn, lead=turn.t("abo.unchanged"))
    effect, changed = set_opt_in(turn, SURVEYS, True, "abo", fields)
    return show_abo(changed, lead=changed_line(changed, SURVEYS, True), effects=(effect,))


def cancel_abo(turn: Turn) -> Decision:
    """/abbrechen in /abo: nothing more changes; back to the menu."""
    return onboarding.menu(turn, data=turn.data.evolve(abo_fields=()))


# --------------------------------------------------------------------------------------------------- /pause, /stop


def parse_pause(text: str) -> int | str | None:
    """Days of a "/pause 2 Wochen" argument, `"1m"` for a calendar month, `"off"` to end, None if not understood."""
    words = fold(text).replace(",", " ").split()
    if not words:
        return None
    if len(words) == 1 and words[0] in _OFF_WORDS:
        return "off"
    match = re.fullmatch(r"(\d+)\s*([a-z]+)", " ".join(words))
    if match is not None:
        number, unit = int(match.group(1)), match.group(2)
    elif len(words) == 2 and words[0] in _NUMBER_WORDS:
        number, unit = _NUMBER_WORDS[words[0]], words[1]
    elif len(words) == 1 and words[0].isdigit():
        number, unit = int(words[0]), "tage"
    else:
        return None
    if unit not in _UNITS or number < 1:
        return None
    if _UNITS[unit] == 30 and number == 1:
        return _MONTH
    days = number * _UNITS[unit]
    return days if days <= MAX_PAUSE_DAYS else None


def _until(turn: Turn, length: int | str) -> datetime:
    now = turn.ctx.now
    if length != _MONTH:
        return now + timedelta(days=int(length))
    local = now.astimezone(turn.ctx.outreach.timezone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    for day in (local.day, 30, 29, 28):  # 31 January + one month = the last day of February
        try:
            return local.replace(year=year, month=month, day=day).astimezone(now.tzinfo)
        except ValueError:
            continue
    return now + timedelta(days=30)


def pause_command(turn: Turn) -> Decision:
    """/pause [2 Wochen | 14 Tage | 1 Monat | aus]: hold every invitation and follow-up until then."""
    argument = turn.inbound.args.strip()
    if not argument:
        lines = [turn.t("pause.prompt")]
        if is_paused(turn) and turn.state.paused_until is not None:
            lines.insert(0, turn.t("pause.current", date=local_date(turn, turn.state.paused_until)))
        buttons = [
            Button(f"{PAUSE}:7", turn.t("pause.one_week")),
            Button(f"{PAUSE}:14", turn.t("pause.two_weeks")),
            Button(f"{PAUSE}:{_MONTH}", turn.t("pause.one_month")),
        ]
        if is_paused(turn):
            buttons.append(Button(f"{PAUSE}:off", turn.t("abo.resume")))
        return turn.reply(Outbound(text="\n\n".join(lines), buttons=(tuple(buttons[:3]), *column(buttons[3:]))))
    length = parse_pause(argument)
    if length is None:
        return turn.reply(Outbound(text=turn.t("pause.invalid", max=MAX_PAUSE_DAYS)))
    return _pause(turn, length)


def on_pause(turn: Turn, rest: str) -> Decision | None:
    """`pz:<days>`, `pz:1m`, `pz:off`."""
    if rest in ("off", _MONTH):
        return _pause(turn, rest)
    if rest.isdigit() and 1 <= int(rest) <= MAX_PAUSE_DAYS:
        return _pause(turn, int(rest))
    return None


def _pause(turn: Turn, length: int | str) -> Decision:
    if length == "off":
        if not is_paused(turn):
            return turn.reply(Outbound(text=turn.t("pause.not_paused")))
        return turn.reply(Outbound(text=turn.t("pause.ended")), effects=[PauseOutreach(None)], paused_until=None)
    until = _until(turn, length)
    text = turn.t("pause.done", date=local_date(turn, until))
    return turn.reply(Outbound(text=text), effects=[PauseOutreach(until)], paused_until=until)


def stop_command(turn: Turn) -> Decision:
    """/stop: every opt-in off, every planned invitation and follow-up cancelled; the data stays."""
    data = turn.data.evolve(to_ask=(), offer=None)
    if turn.flow in (Flow.ABO, Flow.ABO_FIELDS):
        return onboarding.menu(turn, lead=turn.t("stop.done"), data=data, effects=[StopOutreach()],
                               opt_ins={}, paused_until=None)  # fmt: skip
    return turn.reply(Outbound(text=turn.t("stop.done")), data=data, effects=[StopOutreach()],
                      opt_ins={}, paused_until=None)  # fmt: skip


# --------------------------------------------------------------------------------------------------- asking


def want_to_ask(data: DialogueData, turn: Turn, topic: str, source: str) -> DialogueData:
    """`data` with an opt-in question for `topic` queued for the next calm moment (unless asked or opted in)."""
    if topic in data.asked or opted_in(turn, topic) or any(e.split(":")[0] == topic for e in data.to_ask):
        return data
    return data.evolve(to_ask=(*data.to_ask, f"{topic}:{source}"))


def _ask_message(turn: Turn, topic: str, source: str) -> Outbound:
    if topic == SURVEYS:
        text = turn.t("ask.surveys")
        buttons = [
            Button(f"{ASK}:{SURVEYS}:yes:{source}", turn.t("ask.surveys_all")),
            Button(f"{ASK}:{SURVEYS}:fields:{source}", turn.t("ask.surveys_fields")),
            Button(f"{ASK}:{SURVEYS}:no:{source}", turn.t("ask.no")),
        ]
        return Outbound(text=text, buttons=column(buttons))
    text = turn.t("ask.idea_news")
    buttons = [
        Button(f"{ASK}:{IDEA_NEWS}:yes:{source}", turn.t("ask.yes")),
        Button(f"{ASK}:{IDEA_NEWS}:no:{source}", turn.t("ask.no")),
    ]
    return Outbound(text=text, buttons=(tuple(buttons),))


def _only_menu(decision: Decision) -> bool:
    """Whether the decision asks nothing but "what would you like to do?" (so one more question fits)."""
    with_buttons = [m for m in decision.messages if m.buttons]
    if not with_buttons:
        return False
    return all(b.payload.startswith(f"{onboarding.MENU}:") for b in with_buttons[-1].all_buttons())


def ask_if_due(turn: Turn, decision: Decision) -> Decision:
    """Add the next queued opt-in question to `decision` when the citizen ends up idle at the menu with
    nothing else asked (never on the consent notice, the training question, a survey or an idea)."""
    if not turn.consented or decision.state.flow != Flow.MENU.value or not _only_menu(decision):
        return decision
    data = DialogueData.from_dict(decision.state.data)
    queue = list(data.to_ask)
    while queue:
        topic, _, source = queue.pop(0).partition(":")
        if topic in (SURVEYS, IDEA_NEWS) and topic not in data.asked and topic not in decision.state.opt_ins:
            asked = data.evolve(to_ask=tuple(queue), asked=(*data.asked, topic))
            after = turn.with_state(decision.state).reply(
                *decision.messages, _ask_message(turn, topic, source or "invite_prompt"), data=asked
            )
            return replace(decision, state=after.state, messages=after.messages)
    if data.to_ask:  # everything queued was answered meanwhile (e.g. switched on in /abo)
        return replace(decision, state=decision.state.evolve(data=data.evolve(to_ask=()).to_dict()))
    return decision


def on_ask(turn: Turn, rest: str) -> Decision | None:
    """`oi:<topic>:yes|no|fields:<source>`: the answer to an opt-in question."""
    topic, _, rest = rest.partition(":")
    answer, _, source = rest.partition(":")
    if topic not in (SURVEYS, IDEA_NEWS) or answer not in ("yes", "no", "fields"):
        return None
    if answer == "fields" and topic == SURVEYS:
        return _ask_fields(turn, turn.state.opt_ins.get(SURVEYS, ()))
    if answer == "no":
        return _after_ask(turn, turn.t("ask.declined"))
    if opted_in(turn, topic):
        return _after_ask(turn, changed_line(turn, topic, True))
    effect, changed = set_opt_in(turn, topic, True, source or "invite_prompt")
    return _after_ask(changed, changed_line(changed, topic, True), effect)


def _after_ask(turn: Turn, line: str, *effects: Effect) -> Decision:
    if turn.flow in (Flow.MENU, Flow.SURVEY_LIST, Flow.ABO):
        return onboarding.menu(turn, lead=line, effects=effects)
    return turn.reply(Outbound(text=line), effects=effects)  # never pulled out of a running survey
