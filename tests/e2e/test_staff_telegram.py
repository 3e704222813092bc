"""Staff in the chat end to end on the test Bot API server: a staff member launches a campaign from Telegram and
watches its figures change, an analyst cannot launch, anyone not on the allowlist gets the unknown-command reply
for every staff command in every state, a status change reaches only the opted-in author (outside quiet hours),
idea texts shown to staff on Telegram are redacted — and every staff action is in `stadtdialog audit`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.runtime import Runtime
from tests.e2e import staff_scenarios as ss
from tests.e2e.export_checks import Clock
from tests.e2e.scenarios import (
    BUS_RIDER,
    MOBILITY,
    TelegramBot,
    TelegramChat,
    answer_survey,
    give_consent,
    open_survey,
    say,
    tap,
)
from tests.e2e.telegram_api import TelegramApiServer
from tests.e2e.test_campaign_telegram import deliver_due, opt_in_to_surveys

pytestmark = pytest.mark.e2e

CHUNK = 10
"""Staff commands tried per non-staff chat: with the steps that reach a state, a chat stays under the flood limit
(20 events a minute, handlers/state.py), which would otherwise answer instead of the unknown-command reply."""


class Desk:
    """The bot with one staff member and one analyst on its allowlist (their Telegram chats are ready)."""

    def __init__(self, bot: TelegramBot, staff: TelegramChat, analyst: TelegramChat) -> None:
        self.bot, self.staff, self.analyst = bot, staff, analyst

    @property
    def runtime(self) -> Runtime:
        assert self.bot.runtime is not None
        return self.bot.runtime

    def sent(self, chat: TelegramChat) -> int:
        """How many messages the bot has sent to this chat so far."""
        return len(self.bot.server.messages_to(chat.user))

    def received(self, chat: TelegramChat) -> str:
        return "\n".join(m.caption or m.text or "" for m in self.bot.server.messages_to(chat.user))

    def audit(self) -> list[dict[str, object]]:
        return ss.audit_log(self.bot.env)


def actor(chat: TelegramChat) -> str:
    return f"telegram:{chat.user.id}"


StartDesk = Callable[..., Awaitable[Desk]]


@pytest.fixture
async def start_desk(telegram_api: TelegramApiServer, tmp_path: Path) -> AsyncIterator[StartDesk]:
    """Starts the bot with `STADTDIALOG_STAFF` naming a staff member and an analyst (extra settings as keywords);
    stopped afterwards."""
    started: list[TelegramBot] = []

    async def start(**settings: str) -> Desk:
        staff = telegram_api.add_user(first_name="Sabine")
        analyst = telegram_api.add_user(first_name="Anton")
        bot = TelegramBot(telegram_api, tmp_path)
        bot.env |= {
            "STADTDIALOG_STAFF": f"telegram:{staff.id}=staff,telegram:{analyst.id}=analyst",
            "STADTDIALOG_TELEGRAM_CHAT_RATE": "0",  # pacing is not under test: no 1 message/s per chat
            **settings,
        }
        bot.config = load_config(bot.env, cwd=tmp_path)
        started.append(bot)
        await bot.start()
        return Desk(bot, bot.chat(user=staff), bot.chat(user=analyst))

    try:
        yield start
    finally:
        for bot in started:
            await bot.stop()


def forge_press(chat: TelegramChat, data: str) -> None:
    """A modified client sends callback data that no button of the bot carries, on the bot's newest message."""
    server, user = chat.server, chat.user
    message = server.messages_to(user)[-1]
    chat.act(lambda: server.press_forged(user, message.message_id, data))


async def forged(chat: TelegramChat, data: str) -> list[ss.BotMessage]:
    forge_press(chat, data)
    return await chat.wait_for_reply()


# --- 1 + 4: a staff member launches a campaign and watches it ------------------------------------------------------


async def test_staff_launch_a_campaign_from_the_chat_and_see_its_figures_change(start_desk: StartDesk) -> None:
    desk = await start_desk()
    bot, staff = desk.bot, desk.staff
    answering, silent, not_asked = bot.chat(), bot.chat(), bot.chat()
    for chat in (answering, silent, not_asked, desk.analyst):
        await give_consent(chat)
    for chat in (answering, silent, desk.analyst):  # the analyst opted in too: staff never count in an audience
        await opt_in_to_surveys(chat)
    campaign_id = ss.create_draft(desk.runtime, ["telegram"], datetime.now(UTC))
    before = {id(chat): desk.sent(chat) for chat in (not_asked, desk.analyst)}

    await ss.launch_from_chat(staff, desk.runtime, campaign_id, audience=2)
    assert ss.campaign_status(desk.runtime, campaign_id) in ("scheduled", "running")
    double = await forged(staff, f"sf:L:{campaign_id}")  # the confirmation tapped twice
    assert "ist gestartet" not in ss.texts_of(double), ss.visible(double)

    await deliver_due(bot)
    assert ss.invitations(desk.runtime, campaign_id) == 2
    for chat in (answering, silent):
        assert "Mobilität in Ihrem Quartier" in chat.last_messages(1)[0].text
    assert {id(chat): desk.sent(chat) for chat in (not_asked, desk.analyst)} == before
    view = await ss.campaign_view(staff, campaign_id)
    assert ss.figures(view.text) == {"invited": 2, "delivered": 2, "started": 0, "completed": 0}, view.text
    assert "läuft" in view.text and view.button("Beenden …") == f"sf:cp:{campaign_id}", view

    await tap(answering, "Jetzt teilnehmen")
    assert await answer_survey(answering, MOBILITY, BUS_RIDER, stop_before="mehr_rad")
    view = await ss.campaign_view(staff, campaign_id)
    assert ss.figures(view.text) == {"invited": 2, "delivered": 2, "started": 1, "completed": 0}, view.text
    assert await answer_survey(answering, MOBILITY, BUS_RIDER)
    view = await ss.campaign_view(staff, campaign_id)
    assert ss.figures(view.text) == {"invited": 2, "delivered": 2, "started": 1, "completed": 1}, view.text
    assert "Abschlussquote (abgeschlossen von begonnen): 100 %" in view.text, view.text

    entries = desk.audit()
    target = str(campaign_id)
    done = ss.actions_of(entries, actor(staff))
    assert [(a, t) for a, t, _ in done] == [
        ("campaigns", None), ("campaign", target), ("launch_preview", target), ("launch", target),
        ("campaign", target), ("campaign", target), ("campaign", target),
    ], done  # the second tap on "Ja, starten" never reached the desk: its preview was spent
    assert [o for _, _, o in done[:4]] == ["ok"] * 4
    assert ss.audit_problems(entries, actor(staff), "staff", "telegram") == []
    assert ss.actions_of(entries, actor(desk.analyst)) == [], "citizen commands of an analyst are no staff actions"


# --- 3 + 4: an analyst sees, but cannot launch ---------------------------------------------------------------------


async def test_an_analyst_sees_the_campaigns_but_cannot_launch_one(start_desk: StartDesk) -> None:
    desk = await start_desk()
    analyst = desk.analyst
    campaign_id = ss.create_draft(desk.runtime, ["telegram"], datetime.now(UTC))

    listing = await say(analyst, "/kampagnen")
    assert ss.CAMPAIGN_NAME in ss.texts_of(listing), ss.visible(listing)
    view = await ss.campaign_view(analyst, campaign_id)
    assert ss.figures(view.text)["invited"] == 0 and view.payloads == [f"sf:c:{campaign_id}"], view
    help_text = ss.texts_of(await say(analyst, "/team"))
    assert "/kampagnen" in help_text and "/starten" not in help_text, help_text

    for attempt in (say(analyst, f"/starten {campaign_id}"), forged(analyst, f"sf:lp:{campaign_id}"),
                    forged(analyst, f"sf:L:{campaign_id}")):  # fmt: skip
        refused = await attempt
        assert ss.NEEDS_STAFF in ss.texts_of(refused) and not any(m.buttons for m in refused), ss.visible(refused)
    assert ss.campaign_status(desk.runtime, campaign_id) == "draft"
    assert ss.invitations(desk.runtime, campaign_id) == 0

    entries = desk.audit()
    target = str(campaign_id)
    assert ss.actions_of(entries, actor(analyst)) == [
        ("campaigns", None, "ok"), ("campaign", target, "ok"), ("launch_preview", target, "refused"),
        ("launch_preview", target, "refused"), ("launch", target, "refused"),
    ], "the refused attempts are missing from the audit log (chat_section.md: 'logged as refused')"
    assert ss.audit_problems(entries, actor(analyst), "analyst", "telegram") == []


# --- 2 + 4: not on the allowlist: every staff command is an unknown command ---------------------------------------


async def _consent_pending(chat: TelegramChat) -> None:
    await say(chat, "/start")


async def _menu(chat: TelegramChat) -> None:
    await give_consent(chat)


async def _mid_survey(chat: TelegramChat) -> None:
    await give_consent(chat)
    await open_survey(chat, MOBILITY)
    await tap(chat, "a:bezirk:barmen")  # the second question (multiple choice) is on screen


async def _idea_text(chat: TelegramChat) -> None:
    await give_consent(chat)
    await say(chat, "/idee")


async def _idea_field(chat: TelegramChat) -> None:
    await _idea_text(chat)
    await say(chat, "Mehr Trinkbrunnen in der Innenstadt")  # the field question is on screen


STATES: dict[str, Callable[[TelegramChat], Awaitable[None]]] = {
    "before consent": _consent_pending, "menu": _menu, "mid-survey": _mid_survey, "idea text": _idea_text,
    "idea field": _idea_field,
}


async def test_non_staff_get_the_unknown_command_reply_for_every_staff_command_in_every_state(
    start_desk: StartDesk,
) -> None:
    desk = await start_desk()
    bot = desk.bot
    author = bot.chat()
    await give_consent(author)
    idea_text = "Ein Sonnensegel über dem Spielplatz am Ostersbaum"
    await ss.file_idea(author, idea_text, idea_news=None)
    (idea,) = ss.ideas_of(desk.runtime, bot.config.pseudonym_secret, bot.pseudonym(author))
    campaign_id = ss.create_draft(desk.runtime, ["telegram"], datetime.now(UTC))
    calls = ss.staff_command_calls(campaign_id, idea.ref)
    assert len(calls) >= 2 * 7, calls

    outsiders: list[TelegramChat] = []
    problems: list[str] = []
    first_unknown, first_staff = bot.chat(), bot.chat()  # the very first message of a chat
    outsiders += [first_unknown, first_staff]
    if ss.visible(await say(first_staff, "/kampagnen")) != ss.visible(await say(first_unknown, ss.UNKNOWN)):
        problems.append("first message /kampagnen differs from a first /gibtsnicht")
    for state, reach in STATES.items():
        for start in range(0, len(calls), CHUNK):
            chat = bot.chat()
            outsiders.append(chat)
            await reach(chat)
            problems += [f"{state}: {p}" for p in await ss.same_as_unknown(chat, calls[start:start + CHUNK])]

    presser = bot.chat()  # forged staff buttons at the menu get what any unknown button gets
    outsiders.append(presser)
    await give_consent(presser)
    reference = ss.visible(await forged(presser, "zz:1"))
    for data in (f"sf:c:{campaign_id}", f"sf:lp:{campaign_id}", f"sf:L:{campaign_id}", f"sf:i:{idea.idea_id}",
                 f"sf:s:{idea.idea_id}:done", f"sf:n:{ss.FIELD}", "sf:S", "sf:no"):  # fmt: skip
        if (got := ss.visible(await forged(presser, data))) != reference:
            problems.append(f"forged {data}: {got!r}, but an unknown button: {reference!r}")

    assert problems == []
    received = "\n".join(desk.received(chat) for chat in outsiders)
    assert ss.leaks(received, [ss.CAMPAIGN_NAME, idea_text, idea.ref]) == []
    assert ss.campaign_status(desk.runtime, campaign_id) == "draft"
    assert ss.ideas_of(desk.runtime, bot.config.pseudonym_secret, bot.pseudonym(author))[0].status == "new"
    assert desk.audit() == [], "nobody on the allowlist did anything"


# --- 5 + 4: a status change reaches only the opted-in author, outside quiet hours ---------------------------------

NOTE = "Die Bänke werden im Frühjahr aufgestellt."
NOTE_EN = "The benches will be put up in spring."


def quiet_window(now: datetime) -> str:
    """Quiet hours from one to three hours after `now` (city time): `now` is outside, now + 90 minutes inside."""
    local = now.astimezone(ZoneInfo("Europe/Berlin"))
    start, end = local + timedelta(hours=1), local + timedelta(hours=3)
    return f"{start:%H:%M}-{end:%H:%M}"


async def test_a_status_change_reaches_the_opted_in_author_outside_quiet_hours_and_nobody_else(
    start_desk: StartDesk,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    desk = await start_desk(STADTDIALOG_QUIET_HOURS=quiet_window(now))
    bot, staff = desk.bot, desk.staff
    clock = Clock(now)
    desk.runtime.clock = clock
    secret = bot.config.pseudonym_secret
    wants_news, no_news = bot.chat(), bot.chat()
    for chat in (wants_news, no_news):
        await give_consent(chat)
    await ss.file_idea(wants_news, "Mehr Sitzbänke am Laurentiusplatz für Ältere", idea_news=True)
    await ss.file_idea(no_news, "Sitzbänke an der Nordbahntrasse bei Mirke", idea_news=False)
    (wanted,) = ss.ideas_of(desk.runtime, secret, bot.pseudonym(wants_news))
    (unwanted,) = ss.ideas_of(desk.runtime, secret, bot.pseudonym(no_news))

    listing = ss.texts_of(await say(staff, "/ideen_neu"))
    assert wanted.ref in listing and unwanted.ref in listing, listing
    preview = await ss.set_status(staff, wanted, "planned", "wird umgesetzt", f"{NOTE}\nEN: {NOTE_EN}")
    await ss.set_status(staff, unwanted, "planned", "wird umgesetzt", NOTE)
    before = {id(chat): desk.sent(chat) for chat in (wants_news, no_news)}
    await deliver_due(bot)

    assert desk.sent(wants_news) == before[id(wants_news)] + 1
    news = wants_news.last_messages(1)[0].text
    assert "Stand jetzt: wird umgesetzt" in news and f"Die Stadt schreibt dazu: {NOTE}" in news, news
    assert NOTE_EN not in news and news in preview, "staff confirmed exactly what the author reads"
    assert desk.sent(no_news) == before[id(no_news)], "no idea news without the opt-in"
    mine = ss.texts_of(await say(wants_news, "/meineideen"))
    assert "Stand: wird umgesetzt" in mine and NOTE in mine and "Laurentiusplatz" in mine, mine

    clock.now = now + timedelta(days=1, minutes=90)  # the next day (daily cap), inside the quiet hours
    await ss.set_status(staff, wanted, "done", "umgesetzt", None)
    held = desk.sent(wants_news)
    await deliver_due(bot)
    assert desk.sent(wants_news) == held, "news arrived in the quiet hours"
    clock.now = now + timedelta(days=1, hours=3, minutes=10)
    await deliver_due(bot)
    assert desk.sent(wants_news) == held + 1 and "Stand jetzt: umgesetzt" in wants_news.last_messages(1)[0].text
    assert desk.sent(no_news) == before[id(no_news)]

    entries = desk.audit()
    steps = ["idea", "idea_status_preview", "idea_status"]
    assert ss.actions_of(entries, actor(staff)) == [
        ("new_ideas", None, "ok"),
        *((step, wanted.ref, "ok") for step in steps), *((step, unwanted.ref, "ok") for step in steps),
        *((step, wanted.ref, "ok") for step in steps),
    ]
    assert ss.audit_problems(entries, actor(staff), "staff", "telegram") == []
    assert wanted.text not in str(entries) and unwanted.text not in str(entries), "citizens' texts in the audit"


# --- 6: idea texts shown to staff on Telegram are redacted and short ---------------------------------------------

EMAIL, PHONE = "lena.muster@example.org", "0202 5637 1234"
LONG_IDEA = f"Fahrradbügel am Döppersberg, bitte melden Sie sich bei {EMAIL} oder unter {PHONE}." + (
    " Vor dem Hauptbahnhof stehen die Räder kreuz und quer, weil es viel zu wenige Bügel gibt." * 3)


async def test_telegram_staff_see_idea_texts_redacted_and_shortened(start_desk: StartDesk) -> None:
    desk = await start_desk()
    bot = desk.bot
    author = bot.chat()
    await give_consent(author)
    await ss.file_idea(author, LONG_IDEA, idea_news=None)
    (idea,) = ss.ideas_of(desk.runtime, bot.config.pseudonym_secret, bot.pseudonym(author))
    assert idea.text == LONG_IDEA and len(LONG_IDEA) > 200

    for viewer in (desk.staff, desk.analyst):
        shown = ss.texts_of(await say(viewer, f"/status {idea.ref[:10]}"))  # a unique prefix is enough
        text = ss.quoted_idea(shown)
        assert "[EMAIL]" in text and "[TELEFON]" in text and len(text) <= 200, text
        assert "Telegram ist nicht Ende-zu-Ende-verschlüsselt" in shown, shown
        listing = ss.texts_of(await say(viewer, "/ideen_neu"))
        assert idea.ref in listing, listing
        for seen in (shown, listing):
            assert EMAIL not in seen and not re.search(r"5637\s*1234", seen), seen

    entries = desk.audit()
    assert ss.actions_of(entries, actor(desk.staff)) == [("idea", idea.ref, "ok"), ("new_ideas", None, "ok")]
    assert ss.actions_of(entries, actor(desk.analyst)) == [("idea", idea.ref, "ok"), ("new_ideas", None, "ok")]
