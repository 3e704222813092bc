"""Publishing an idea end to end against the Telegram Bot API emulator (issue 13): a citizen agrees to publish (and
to keep it), staff get the queue notice, reject the redacted proposal with a reason from the inline keyboard, the
author reads the reason; an analyst may look but not decide. Audited without the citizen's text."""

from __future__ import annotations

import pytest

from tests.e2e import staff_scenarios as ss
from tests.e2e.scenarios import give_consent, say, submit_idea, tap
from tests.e2e.test_campaign_telegram import deliver_due
from tests.e2e.test_staff_telegram import StartDesk, actor, start_desk  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e

EMAIL = "jonas.beispiel@example.org"
IDEA = f"Mehr Schatten auf dem Schulhof in Oberbarmen, bitte melden bei {EMAIL}"
REASON = "Der Schulhof wird 2027 ohnehin umgebaut; wir nehmen die Idee dort auf."


async def test_staff_reject_a_proposal_from_telegram_and_the_author_reads_why(
    start_desk: StartDesk,  # noqa: F811
) -> None:
    desk = await start_desk()
    bot, staff, analyst = desk.bot, desk.staff, desk.analyst
    await say(staff, "/team")  # staff who have written to the bot hear of the queue
    author = bot.chat()
    await give_consent(author)
    await submit_idea(author, IDEA, ss.FIELD, publish="keep")
    (filed,) = ss.ideas_of(desk.runtime, bot.config.pseudonym_secret, bot.pseudonym(author))

    await deliver_due(bot)
    assert "auf Freigabe zur Veröffentlichung warten: 1" in desk.received(staff)

    looked = (await say(analyst, "/freigabe"))[-1]
    assert EMAIL not in looked.text and not looked.buttons, ss.visible([looked])
    proposal = (await say(staff, "/freigabe"))[-1]
    assert EMAIL not in proposal.text and proposal.text.rstrip().endswith("?"), proposal.text
    asked = ss.texts_of(await tap(staff, f"sf:pr:{filed.idea_id}"))
    assert "Grund" in asked, asked
    done = ss.texts_of(await say(staff, REASON, min_messages=2))
    assert "Abgelehnt" in done, done

    await deliver_due(bot)
    news = bot.server.messages_to(author.user)[-1].text or ""
    assert REASON in news and "nicht veröffentlicht" in news, news

    entries = desk.audit()
    assert ss.actions_of(entries, actor(staff)) == [("moderation", None, "ok"),
                                                    ("publication_reject", filed.ref, "ok")]
    assert ss.actions_of(entries, actor(analyst)) == [("moderation", None, "ok")]
    assert EMAIL not in str(entries)
