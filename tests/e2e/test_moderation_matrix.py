"""Publishing an idea end to end on the test Synapse, in encrypted DMs (issue 13): a citizen agrees to publish,
staff hear that the queue grew, see the proposal REDACTED even in their encrypted room, as a poll whose heading is
a question, change the wording and approve; the author reads the public wording; everything is audited without the
citizen's text."""

from __future__ import annotations

import pytest

from tests.e2e import staff_scenarios as ss
from tests.e2e.scenarios import give_consent, say, submit_idea, tap
from tests.e2e.test_staff_matrix import Desk, actor, desk  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e

EMAIL, PHONE = "jonas.beispiel@example.org", "0202 5637 1234"
IDEA = f"Ein Trinkbrunnen am Von-der-Heydt-Platz; Rückfragen an {EMAIL} oder {PHONE}."
WORDING = "Ein Trinkbrunnen am Von-der-Heydt-Platz"


async def test_a_citizen_publishes_and_staff_moderate_from_matrix(desk: Desk) -> None:  # noqa: F811
    bot, staff = desk.bot, desk.staff
    author = await desk.citizen()
    await give_consent(author)
    await submit_idea(author, IDEA, ss.FIELD, publish="yes")
    (filed,) = ss.ideas_of(bot.runtime, bot.config.pseudonym_secret, bot.pseudonym(author))

    staff.snapshot()
    await desk.deliver()
    notice = ss.texts_of(await staff.wait_for_reply(timeout=20))
    assert "auf Freigabe zur Veröffentlichung warten: 1" in notice and "/freigabe" in notice, notice

    proposal = (await say(staff, "/freigabe"))[-1]
    assert EMAIL not in proposal.text and PHONE not in proposal.text, "redacted on every channel"
    assert proposal.text.rstrip().endswith("?"), "a poll's heading is a question"
    assert [label for _, label in proposal.buttons] == ["Freigeben", "Text ändern", "Ablehnen", "Überspringen"]
    asked = ss.texts_of(await tap(staff, "Text ändern"))
    assert "Wortlaut" in asked, asked
    done = ss.texts_of(await say(staff, WORDING, min_messages=2))
    assert "Veröffentlicht" in done and "Keine Idee wartet auf Freigabe" in done, done

    author.snapshot()
    await desk.deliver()
    news = ss.texts_of(await author.wait_for_reply(timeout=20))
    assert f"„{WORDING}“" in news and "angepasst" in news and "/meineideen" in news, news
    mine = await say(author, "/meineideen")
    assert f"„{WORDING}“" in ss.texts_of(mine) and "veröffentlicht" in ss.texts_of(mine), ss.visible(mine)
    assert mine[-1].text.endswith("?") and any(p.startswith("iw:") for p, _ in mine[-1].buttons), ss.visible(mine)

    entries = desk.audit()
    assert ss.actions_of(entries, actor(staff)) == [("moderation", None, "ok"),
                                                    ("publication_approve", filed.ref, "ok")]
    looked = next(e for e in entries if e["actor"] == actor(staff))
    assert looked["details"]["shown"] == filed.ref  # type: ignore[index]  # the reference, never the text
    assert ss.audit_problems(entries, actor(staff), "staff", "matrix") == []
    assert EMAIL not in str(entries) and WORDING not in str(entries), "citizens' texts in the audit"
