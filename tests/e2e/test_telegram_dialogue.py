"""What a citizen experiences on Telegram: consent, surveys (buttons and typed), ideas, privacy rights, odd input.

The whole bot runs (runtime, SQLite, dialogue core, Telegram channel) against the emulated Bot API; the
scenarios are the channel-neutral ones from `tests/e2e/scenarios.py`.
"""

from __future__ import annotations

import pytest

from tests.e2e.scenarios import (
    BUS_RIDER,
    MOBILITY,
    Answer,
    TelegramBot,
    delete_everything,
    give_consent,
    my_data_is_a_summary_with_the_complete_file,
    newest_with,
    say,
    submit_idea,
    take_survey,
    tap,
    telegram_bot_fixture,  # noqa: F401  (the "bot" fixture)
)

pytestmark = pytest.mark.e2e

CYCLIST_WHO_WOULD_NOT: dict[str, Answer] = {
    "bezirk": "ronsdorf",
    "unterwegs": ["rad", "fuss"],
    "haltestelle_minuten": None,
    "mehr_rad": False,
    "verbesserung": "Breitere Gehwege",
}


def answers_in_db(bot: TelegramBot, citizen: str) -> dict[str, object]:
    assert bot.runtime is not None
    with bot.runtime.db.unit_of_work() as uow:
        export = uow.citizens.export(citizen)
    return {a["question_id"]: a["value"] for r in export["responses"] for a in r["answers"]}


async def test_citizen_gives_consent_and_completes_a_survey_by_buttons(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    asked = await take_survey(chat, MOBILITY, BUS_RIDER)
    assert asked == ["bezirk", "unterwegs", "oepnv_zufrieden", "haltestelle_minuten", "mehr_rad", "rad_hindernis",
                     "verbesserung"]
    closing = "\n".join(m.text for m in chat.last_messages(2))
    assert "Vielen Dank" in closing and "Barmen" in closing
    assert answers_in_db(bot, bot.pseudonym(chat)) == BUS_RIDER
    assert not bot.server.unanswered_callbacks()


async def test_citizen_without_buttons_completes_a_survey_by_typing_and_the_branches_follow(
    bot: TelegramBot,
) -> None:
    chat = bot.chat()
    await give_consent(chat, typed=True)
    asked = await take_survey(chat, MOBILITY, CYCLIST_WHO_WOULD_NOT, typed=True)
    # no bus or Schwebebahn: no satisfaction question; would not cycle more: no question about obstacles
    assert asked == ["bezirk", "unterwegs", "haltestelle_minuten", "mehr_rad", "verbesserung"]
    assert answers_in_db(bot, bot.pseudonym(chat)) == {**CYCLIST_WHO_WOULD_NOT, "unterwegs": ["fuss", "rad"]}


async def test_english_speaking_citizen_is_answered_in_english(bot: TelegramBot) -> None:
    chat = bot.chat(language_code="en")
    menu = await give_consent(chat)
    assert "What would you like to do?" in menu.text


async def test_citizen_submits_an_idea_with_its_strategy_field(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    thanks = await submit_idea(chat, "Sitzbänke entlang der Nordbahntrasse", "leben")
    assert any("Vielen Dank für Ihre Idee" in m.text for m in thanks)
    assert bot.runtime is not None
    with bot.runtime.db.unit_of_work() as uow:
        ideas = uow.citizens.export(bot.pseudonym(chat))["ideas"]
    assert [(i["text"], i["field"]) for i in ideas] == [("Sitzbänke entlang der Nordbahntrasse", "leben")]


async def test_citizen_confirms_the_field_the_classifier_proposes(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    await say(chat, "/idee")
    text = "Der Bus fährt morgens viel zu selten, an der Haltestelle ist es immer brechend voll"
    proposal = await say(chat, text)
    assert any("Das klingt nach „Smarte Mobilität“" in m.text for m in proposal), proposal
    thanks = await tap(chat, "fc:yes")
    assert newest_with(thanks, "pb:no") is not None, "asked whether other citizens may see it"
    thanks = await tap(chat, "pb:no")
    assert newest_with(thanks, "tc:yes") is not None, "asked once whether the text may train the classifier"
    await tap(chat, "tc:yes")
    assert bot.runtime is not None
    with bot.runtime.db.unit_of_work() as uow:
        export = uow.citizens.export(bot.pseudonym(chat))
    (idea,) = export["ideas"]
    assert (idea["field"], idea["fields"], idea["proposed_field"]) == ("mobilitaet", ["mobilitaet"], "mobilitaet")
    assert set(idea["scores"]) == {"verwaltung", "mobilitaet", "wuppertalerinnen", "umwelt", "leben", "wirtschaft"}
    assert idea["model_version"].startswith("fields-")
    assert export["citizen"]["training_consent"] is True


async def test_oversize_text_gets_a_clear_answer_and_is_not_stored(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    await say(chat, "/idee")
    too_long = "Mehr Grün in Elberfeld! " * 209  # 5016 characters: more than a Telegram message can hold
    update = chat.message_update(too_long)
    chat.act(lambda: bot.server.deliver_raw(update))
    reply = await chat.wait_for_reply()
    assert "zu lang" in reply[-1].text
    assert bot.rows_mentioning(too_long[:200]) == {}


async def test_sticker_edited_message_and_group_chat_get_polite_answers(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    chat.act(lambda: bot.server.send_sticker(chat.user))
    sticker_reply = await chat.wait_for_reply()
    assert "nur Text und Knöpfe" in sticker_reply[0].text
    chat.act(lambda: bot.server.send_photo(chat.user, caption="Hier ist es kaputt"))
    photo_reply = await chat.wait_for_reply()
    assert "Ihren Text dazu habe ich aber gelesen" in photo_reply[0].text
    await say(chat, "Hallo")
    first = next(m for m in bot.server.history(chat.user) if m.get("text") == "Hallo")
    chat.act(lambda: bot.server.edit_text(chat.user, first["message_id"], "Hallo zusammen"))
    edited_reply = await chat.wait_for_reply()
    assert "Bearbeitete Nachrichten" in edited_reply[0].text
    bot.server.send_group_text(chat.user, "Hallo Bot, was kannst du?")
    group_replies = await bot.server.wait_for_messages(bot.server.group_chat_id, 1)
    assert "nur in privaten Chats" in (group_replies[0].text or "")
    await bot.settle()  # the reply reached the server; let the bot forget the sent message
    assert bot.rows_mentioning(f"telegram:{bot.server.group_chat_id}") == {}


async def test_my_data_is_a_summary_and_the_complete_file(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    await my_data_is_a_summary_with_the_complete_file(chat, str(chat.user.id))


async def test_deleting_leaves_no_row_of_the_citizen_in_any_table(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    await take_survey(chat, MOBILITY, BUS_RIDER, stop_before="haltestelle_minuten")
    await submit_idea(chat, "Ein Bücherschrank am Laurentiusplatz", "leben")
    needles = (bot.pseudonym(chat), str(chat.user.id))
    before = bot.rows_mentioning(*needles)
    assert {"citizens", "contacts", "conversations", "responses", "ideas"} <= set(before)
    goodbye = await delete_everything(chat)
    assert any("werden jetzt gelöscht" in m.text for m in goodbye)
    await bot.settle()
    assert bot.rows_mentioning(*needles) == {}


async def test_text_with_a_lone_surrogate_is_answered_and_does_not_block_the_chat(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    poison = "Mehr Bänke \ud800 am Ufer\x00"  # a crafted client's "\\ud800" escape, and a NUL PostgreSQL refuses
    chat.act(lambda: bot.server.deliver_raw(chat.message_update(poison)))
    assert await chat.wait_for_reply(), "a message with broken characters is still answered"
    await say(chat, "/idee")
    offered = await say(chat, poison)
    if newest_with(offered, "f:leben") is None:
        offered = await tap(chat, "fc:other")
    thanks = await tap(chat, "f:leben")
    assert any("Vielen Dank für Ihre Idee" in m.text for m in thanks), thanks
    assert bot.runtime is not None
    with bot.runtime.db.unit_of_work() as uow:
        (idea,) = uow.citizens.export(bot.pseudonym(chat))["ideas"]
    assert idea["text"] == "Mehr Bänke \ufffd am Ufer\ufffd", "broken characters are stored as U+FFFD"
    later = await say(chat, "/hilfe")
    assert later, "the chat's later messages still reach the citizen"
