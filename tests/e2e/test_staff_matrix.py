"""Staff in the chat end to end on the test Synapse, in encrypted DMs: a staff member launches a campaign from Matrix
and watches its figures change, an analyst cannot launch, a citizen's staff commands and forged staff votes get
what an unknown command or answer gets, a status change reaches only the opted-in author — and Matrix staff read
the idea's full text. Every staff action is in `stadtdialog audit`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import load_config
from tests.e2e import staff_scenarios as ss
from tests.e2e.matrix_driver import MatrixBot, MatrixCitizen, bot_environment
from tests.e2e.scenarios import BUS_RIDER, MOBILITY, BotMessage, answer_survey, give_consent, say, tap
from tests.e2e.synapse import Synapse

pytestmark = pytest.mark.e2e


@dataclass
class Desk:
    """The bot with a staff member and an analyst on its allowlist, each in an encrypted DM with it."""

    bot: MatrixBot
    staff: MatrixCitizen
    analyst: MatrixCitizen
    env: dict[str, str]
    people: Path

    async def citizen(self) -> MatrixCitizen:
        return await self.bot.citizen(self.people)

    def sent(self, chat: MatrixCitizen) -> int:
        """How many events the bot has sent into this chat so far."""
        return len(self.bot.sent.get(chat.room_id, []))

    async def deliver(self) -> None:
        """What the scheduler does every few seconds: the campaign tick, then due rows to the citizens."""
        await self.bot.runtime.campaign_tick()
        await self.bot.runtime.feed_due_follow_ups()
        await self.bot.runtime.wait_idle(timeout=15)

    def audit(self) -> list[dict[str, object]]:
        return ss.audit_log(self.env)


@pytest.fixture
async def desk(synapse_server: Synapse, tmp_path: Path) -> AsyncIterator[Desk]:
    """The bot started with `STADTDIALOG_STAFF` naming two accounts registered first; their DMs opened."""
    harness = MatrixBot.register(synapse_server, tmp_path / "bot")
    people = tmp_path / "people"
    staff = await harness.citizen(people, greet=False)
    analyst = await harness.citizen(people, greet=False)
    env = bot_environment(synapse_server, harness.account, harness.config.data_dir)
    env["STADTDIALOG_STAFF"] = f"matrix:{staff.user_id}=staff,matrix:{analyst.user_id}=analyst"
    harness.config = load_config(env, cwd=harness.directory)
    await harness.start()
    everyone = [staff, analyst]
    try:
        for person in (staff, analyst):
            person.snapshot()
            await person.open_dm()
            await person.wait_for_reply(min_messages=2, timeout=20)  # the privacy notice and the consent poll
        yield Desk(harness, staff, analyst, env, people)
    finally:
        for person in everyone:
            await person.close()
        await harness.stop()


def actor(chat: MatrixCitizen) -> str:
    return f"matrix:{chat.user_id}"


async def forged_vote(desk: Desk, chat: MatrixCitizen, answer: str) -> list[BotMessage]:
    """A vote for an answer the poll does not offer (any client can send one) on the bot's newest open poll."""
    poll = next(m for m in reversed(list(chat.messages.values())) if m.buttons)
    chat.snapshot()
    await desk.bot.settle(await chat.vote(poll.ref, answer))
    return await chat.wait_for_reply()


async def test_a_campaign_launched_from_matrix_an_analyst_who_cannot_and_a_citizen_who_sees_nothing(
    desk: Desk,
) -> None:
    bot, staff, analyst = desk.bot, desk.staff, desk.analyst
    answering, outsider = await desk.citizen(), await desk.citizen()
    campaign_id = ss.create_draft(bot.runtime, ["matrix"], datetime.now(UTC))

    # not on the allowlist: before consent, at the menu, and with forged staff votes
    before_consent = ss.visible(await say(outsider, ss.UNKNOWN))
    assert ss.visible(await say(outsider, "/kampagnen")) == before_consent
    await tap(outsider, "consent:yes")
    calls = ["/kampagnen", f"/kampagne {campaign_id}", f"/starten {campaign_id}", "/team", "/ideen_neu",
             f"/launch {campaign_id}"]  # fmt: skip
    assert await ss.same_as_unknown(outsider, calls) == []
    unknown_vote = ss.visible(await forged_vote(desk, outsider, "zz:1"))
    assert ss.visible(await forged_vote(desk, outsider, f"sf:L:{campaign_id}")) == unknown_vote
    assert ss.leaks("\n".join(m.text for m in outsider.messages.values()), [ss.CAMPAIGN_NAME]) == []

    # the analyst sees the campaign but cannot launch it
    assert ss.CAMPAIGN_NAME in ss.texts_of(await say(analyst, "/kampagnen"))
    view = await ss.campaign_view(analyst, campaign_id)
    assert view.payloads == [f"sf:c:{campaign_id}"], view
    assert ss.NEEDS_STAFF in ss.texts_of(await say(analyst, f"/starten {campaign_id}"))
    assert ss.NEEDS_STAFF in ss.texts_of(await forged_vote(desk, analyst, f"sf:L:{campaign_id}"))
    assert ss.campaign_status(bot.runtime, campaign_id) == "draft"

    # staff launch it from the chat and watch a citizen answer
    await give_consent(answering)
    await say(answering, "/abo")
    await tap(answering, "ab:surveys:on")
    await ss.launch_from_chat(staff, bot.runtime, campaign_id, audience=1)
    answering.snapshot()
    await desk.deliver()
    invitation = await answering.wait_for_reply(timeout=20)
    assert any("Mobilität in Ihrem Quartier" in m.text for m in invitation), ss.visible(invitation)
    view = await ss.campaign_view(staff, campaign_id)
    assert ss.figures(view.text) == {"invited": 1, "delivered": 1, "started": 0, "completed": 0}, view.text
    await tap(answering, "Jetzt teilnehmen")
    assert await answer_survey(answering, MOBILITY, BUS_RIDER)
    view = await ss.campaign_view(staff, campaign_id)
    assert ss.figures(view.text) == {"invited": 1, "delivered": 1, "started": 1, "completed": 1}, view.text

    entries = desk.audit()
    target = str(campaign_id)
    assert ss.actions_of(entries, actor(staff)) == [
        ("campaigns", None, "ok"), ("campaign", target, "ok"), ("launch_preview", target, "ok"),
        ("launch", target, "ok"), ("campaign", target, "ok"), ("campaign", target, "ok"),
    ]
    assert ss.audit_problems(entries, actor(staff), "staff", "matrix") == []
    assert ss.actions_of(entries, actor(outsider)) == [] and ss.actions_of(entries, actor(answering)) == []
    assert ss.actions_of(entries, actor(analyst)) == [
        ("campaigns", None, "ok"), ("campaign", target, "ok"), ("launch_preview", target, "refused"),
        ("launch", target, "refused"),
    ], "the refused attempts are missing from the audit log (chat_section.md: 'logged as refused')"
    assert ss.audit_problems(entries, actor(analyst), "analyst", "matrix") == []


NOTE = "Die Stadtwerke prüfen den Standort im Frühjahr."
EMAIL, PHONE = "jonas.beispiel@example.org", "0202 5637 1234"
IDEA = (f"Ein Trinkbrunnen am Von-der-Heydt-Platz; Rückfragen an {EMAIL} oder {PHONE}. Im Sommer ist es dort"
        " heiß und es gibt weit und breit kein Wasser, gerade für Kinder und ältere Menschen wäre das eine große"
        " Hilfe, und die Brunnen in Barmen zeigen, dass es funktioniert.")


async def test_a_status_change_from_matrix_reaches_only_the_opted_in_author_and_staff_read_full_texts(
    desk: Desk,
) -> None:
    bot, staff = desk.bot, desk.staff
    secret = bot.config.pseudonym_secret
    wants_news, no_news = await desk.citizen(), await desk.citizen()
    for chat in (wants_news, no_news):
        await give_consent(chat)
    await say(wants_news, "/abo")
    await tap(wants_news, "ab:idea_news:on")
    await ss.file_idea(wants_news, IDEA, idea_news=None)
    await ss.file_idea(no_news, "Mehr Schatten auf dem Schulhof in Oberbarmen", idea_news=False)
    (wanted,) = ss.ideas_of(bot.runtime, secret, bot.pseudonym(wants_news))
    (unwanted,) = ss.ideas_of(bot.runtime, secret, bot.pseudonym(no_news))
    assert len(IDEA) > 200 and wanted.text == IDEA

    shown = ss.texts_of(await say(staff, f"/status {wanted.ref}"))
    assert ss.quoted_idea(shown) == IDEA, "Matrix DMs are encrypted: staff read the full text"
    await ss.set_status(staff, wanted, "planned", "wird umgesetzt", NOTE)
    await ss.set_status(staff, unwanted, "planned", "wird umgesetzt", NOTE)
    silent_before = desk.sent(no_news)
    wants_news.snapshot()
    await desk.deliver()
    news = ss.texts_of(await wants_news.wait_for_reply(timeout=20))
    assert "Stand jetzt: wird umgesetzt" in news and f"Die Stadt schreibt dazu: {NOTE}" in news, news
    await desk.deliver()
    assert desk.sent(no_news) == silent_before, "no idea news without the opt-in"
    mine = ss.texts_of(await say(wants_news, "/meineideen"))
    assert "Stand: wird umgesetzt" in mine and NOTE in mine, mine

    entries = desk.audit()
    steps = ["idea", "idea_status_preview", "idea_status"]
    assert ss.actions_of(entries, actor(staff)) == [
        ("idea", wanted.ref, "ok"), *((step, wanted.ref, "ok") for step in steps),
        *((step, unwanted.ref, "ok") for step in steps),
    ]
    assert ss.audit_problems(entries, actor(staff), "staff", "matrix") == []
    assert EMAIL not in str(entries), "citizens' texts in the audit"
