"""Ideas that grow together, as citizens and staff meet it on a channel (issue 13) — one scenario, driven on the
Telegram Bot API emulator and on a real Synapse by tests/e2e/test_ideas_telegram.py and test_ideas_matrix.py:

an author files an idea and agrees to publish it "dauerhaft"; staff approve it in the chat; a second citizen writes
the same idea in other words, is shown the published one instead of filing a duplicate, supports it and asks for
its news; a third citizen's different idea shows no list; the third finds the idea in /ideen and supports it too;
staff change its status and only the supporter who asked hears of it, with the public text; the author deletes
their data and, as agreed, the public text stays for its supporters.
"""

from __future__ import annotations

from typing import Protocol

from bot.runtime import Runtime
from tests.e2e import staff_scenarios as ss
from tests.e2e.scenarios import ChatDriver, give_consent, newest_with, say, submit_idea, tap

FIELD = "leben"
AUTHOR_IDEA = "Mehr Sitzbänke an der Nordbahntrasse"
SAME_IDEA = "Bitte mehr Bänke entlang der Nordbahntrasse aufstellen"
OTHER_IDEA = "Ein Radweg zum Bahnhof Vohwinkel"
STATUS_NOTE = "Die ersten zehn Bänke kommen im Frühjahr."



class Channel(Protocol):
    """What the scenario needs of a channel's test harness."""

    runtime: Runtime
    secret: bytes
    staff: ChatDriver

    async def new_citizen(self) -> ChatDriver: ...

    async def deliver(self) -> None:
        """What the scheduler does every few seconds: due follow_ups rows to their chats."""

    async def deliver_to(self, chat: ChatDriver) -> str:
        """Deliver due rows and return what `chat` received from that."""

    def sent(self, chat: ChatDriver) -> int:
        """How many messages the bot has sent to `chat` so far."""

    def pseudonym(self, chat: ChatDriver) -> str: ...


async def ideas_grow_together(channel: Channel) -> None:
    """The whole scenario (see the module docstring)."""
    runtime, secret, staff, pseudonym = channel.runtime, channel.secret, channel.staff, channel.pseudonym
    await say(staff, "/team")  # staff who have written to the bot hear when the moderation queue grows
    author = await channel.new_citizen()
    await give_consent(author)
    await submit_idea(author, AUTHOR_IDEA, FIELD, publish="keep")
    (filed,) = ss.ideas_of(runtime, secret, pseudonym(author))

    # Staff approve the proposal in the chat; the author is told.
    assert "auf Freigabe zur Veröffentlichung warten: 1" in await channel.deliver_to(staff)
    proposal = ss.with_buttons(await say(staff, "/freigabe"), f"sf:pa:{filed.idea_id}")
    assert AUTHOR_IDEA in proposal.text, ss.visible([proposal])
    await tap(staff, f"sf:pa:{filed.idea_id}")
    told = await channel.deliver_to(author)
    assert "sichtbar" in told and f"„{AUTHOR_IDEA}“" in told, told

    # A second citizen writes the same idea in other words: the published one is shown instead of a duplicate.
    supporter = await channel.new_citizen()
    await give_consent(supporter)
    await say(supporter, "/idee")
    shown = await say(supporter, SAME_IDEA)
    listed = ss.texts_of(shown)
    assert "Ähnliche Ideen gibt es schon" in listed and f"„{AUTHOR_IDEA}“" in listed, ss.visible(shown)
    assert "noch keine Unterstützung" in listed and "Smartes Leben" in listed, listed
    assert shown[-1].text.rstrip().endswith("Meint eine davon dasselbe wie Ihre Idee?"), shown[-1].text
    assert [label for _, label in shown[-1].buttons] == ["Unterstützen: 1", "Meine Idee ist anders"]
    thanks = await tap(supporter, "Unterstützen: 1")
    said = ss.texts_of(thanks)
    assert "1 Person unterstützt sie" in said and "nicht noch einmal eingereicht" in said, said
    asked = newest_with(thanks, f"in:{filed.idea_id}:1")
    assert asked is not None and asked.text.rstrip().endswith("?"), ss.visible(thanks)
    await tap(supporter, f"in:{filed.idea_id}:1")
    assert ss.ideas_of(runtime, secret, pseudonym(supporter)) == [], "the same idea is not filed twice"

    # A different idea on a related topic: no list, straight on to the field question.
    other = await channel.new_citizen()
    await give_consent(other)
    await say(other, "/idee")
    fields = await say(other, OTHER_IDEA)
    assert "Ähnliche Ideen" not in ss.texts_of(fields), ss.visible(fields)
    assert any(payload.startswith(("f:", "fc:")) for message in fields for payload, _ in message.buttons)
    await say(other, "/abbrechen")

    # /ideen: the field overview, the field's page, a second support.
    overview = await say(other, "/ideen")
    assert newest_with(overview, f"ib:{FIELD}:0") is not None and overview[-1].text.endswith("?"), overview
    page = await tap(other, f"ib:{FIELD}:0")
    assert f"„{AUTHOR_IDEA}“" in ss.texts_of(page) and "1 Person unterstützt sie" in ss.texts_of(page)
    second = await tap(other, f"iu:{filed.idea_id}")
    assert "2 Personen unterstützen sie" in ss.texts_of(second), ss.visible(second)
    await tap(other, f"in:{filed.idea_id}:0")

    # Staff change the status: the supporter who asked for news hears of it (the public text), the other does not.
    before_other = channel.sent(other)
    await ss.set_status(staff, filed, "planned", "wird umgesetzt", STATUS_NOTE)
    news = await channel.deliver_to(supporter)
    assert "Neuigkeiten zu einer Idee, die Sie unterstützen" in news and STATUS_NOTE in news, news
    assert f"„{AUTHOR_IDEA}“" in news, news
    await channel.deliver()
    assert channel.sent(other) == before_other, "no news without asking for it"

    # The author deletes everything; they agreed that the public text may stay: it does, without them.
    await say(author, "/loeschen")
    await tap(author, "Ja, alles löschen")
    assert ss.ideas_of(runtime, secret, pseudonym(author)) == []
    page = await say(other, f"/ideen {FIELD}")
    assert f"„{AUTHOR_IDEA}“" in ss.texts_of(page) and "2 Personen unterstützen sie" in ss.texts_of(page), page
