"""What a citizen experiences on Matrix, in an end-to-end encrypted DM on a real homeserver: consent, surveys by
poll and by typed numbers, ideas, privacy rights, odd input, group rooms.

The whole bot runs in this process (runtime, SQLite, dialogue core, Matrix channel); the citizen is a matrix-nio
client with its own key store. The scenarios are the channel-neutral ones from `tests/e2e/scenarios.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.events import Outbound
from tests.e2e.matrix_driver import MatrixBot, MatrixCitizen, answers_in_db, bot_fixture, citizen_fixture  # noqa: F401  (fixtures)
from tests.e2e.scenarios import (
    BUS_RIDER,
    MOBILITY,
    delete_everything,
    give_consent,
    my_data_is_a_summary_with_the_complete_file,
    say,
    submit_idea,
    take_survey,
)

pytestmark = pytest.mark.e2e

CYCLIST = {
    "bezirk": "ronsdorf",
    "unterwegs": ["rad", "fuss"],
    "haltestelle_minuten": None,
    "mehr_rad": False,
    "verbesserung": "Breitere Gehwege",
}


async def test_inviting_the_bot_to_an_encrypted_dm_is_answered_with_the_privacy_notice(
    citizen: MatrixCitizen,
) -> None:
    assert citizen.client.rooms[citizen.room_id].encrypted
    notice, poll = citizen.last_messages(2)
    assert "Datenschutz" in notice.text
    assert poll.text == "Sind Sie einverstanden?"
    assert poll.payloads == ["consent:yes", "consent:no"]
    assert all(item.decrypted for item in citizen.seen), "every bot message arrives end-to-end encrypted"


async def test_citizen_consents_and_completes_a_survey_by_voting_in_polls(
    bot: MatrixBot, citizen: MatrixCitizen
) -> None:
    await give_consent(citizen)
    asked = await take_survey(citizen, MOBILITY, BUS_RIDER)
    assert asked == ["bezirk", "unterwegs", "oepnv_zufrieden", "haltestelle_minuten", "mehr_rad", "rad_hindernis",
                     "verbesserung"]
    assert answers_in_db(bot, citizen) == BUS_RIDER
    ended = [item for item in citizen.seen if item.kind == "poll_end"]
    assert len(ended) >= len(asked), "every answered poll is closed"


async def test_votes_in_the_stable_poll_response_form_count_too(bot: MatrixBot, citizen: MatrixCitizen) -> None:
    citizen.stable_votes = True
    await give_consent(citizen)
    await take_survey(citizen, MOBILITY, BUS_RIDER, stop_before="haltestelle_minuten")
    assert answers_in_db(bot, citizen) == {k: BUS_RIDER[k] for k in ("bezirk", "unterwegs", "oepnv_zufrieden")}


async def test_citizen_without_poll_support_completes_a_survey_by_typing_numbers(
    bot: MatrixBot, citizen: MatrixCitizen
) -> None:
    poll = citizen.last_messages(1)[0]
    assert poll.text == "Sind Sie einverstanden?"
    fallback = next(item for item in citizen.seen if item.kind == "poll").source["content"]["body"]
    assert fallback.splitlines() == ["Sind Sie einverstanden?", "1. Einverstanden", "2. Nein, danke"]
    await say(citizen, "1")  # the number from the fallback text
    asked = await take_survey(citizen, MOBILITY, CYCLIST, typed=True)
    assert asked == ["bezirk", "unterwegs", "haltestelle_minuten", "mehr_rad", "verbesserung"]
    assert answers_in_db(bot, citizen) == {**CYCLIST, "unterwegs": ["fuss", "rad"]}


async def test_citizen_submits_an_idea_with_its_strategy_field(bot: MatrixBot, citizen: MatrixCitizen) -> None:
    await give_consent(citizen)
    thanks = await submit_idea(citizen, "Sitzbänke entlang der Nordbahntrasse", "leben")
    assert any("Vielen Dank für Ihre Idee" in m.text for m in thanks)
    with bot.runtime.db.unit_of_work() as uow:
        ideas = uow.citizens.export(bot.pseudonym(citizen))["ideas"]
    assert [(i["text"], i["field"]) for i in ideas] == [("Sitzbänke entlang der Nordbahntrasse", "leben")]


async def test_image_and_edited_message_get_polite_answers(citizen: MatrixCitizen) -> None:
    await give_consent(citizen)
    citizen.snapshot()
    citizen._act(await citizen.send_image())
    image_reply = await citizen.wait_for_reply()
    assert "nur Text und Knöpfe" in image_reply[0].text
    citizen.snapshot()
    first = await citizen.say("Hallo")
    citizen._act(first)
    await citizen.wait_for_reply()
    citizen.snapshot()
    citizen._act(await citizen.edit(first, "Hallo zusammen"))
    edited_reply = await citizen.wait_for_reply()
    assert "Bearbeitete Nachrichten" in edited_reply[0].text


async def test_my_data_is_a_summary_and_an_encrypted_file(bot: MatrixBot, citizen: MatrixCitizen) -> None:
    await give_consent(citizen)
    await my_data_is_a_summary_with_the_complete_file(citizen, citizen.user_id)
    file_event = next(item for item in citizen.seen if item.kind == "file")
    assert "file" in file_event.source["content"], "uploaded encrypted in an encrypted room"


async def test_deleting_leaves_no_row_of_the_citizen_in_any_table(bot: MatrixBot, citizen: MatrixCitizen) -> None:
    await give_consent(citizen)
    await take_survey(citizen, MOBILITY, BUS_RIDER, stop_before="haltestelle_minuten")
    await submit_idea(citizen, "Ein Bücherschrank am Laurentiusplatz", "leben")
    needles = (bot.pseudonym(citizen), citizen.user_id, citizen.room_id)
    before = bot.rows_mentioning(*needles)
    assert {"citizens", "contacts", "conversations", "responses", "ideas"} <= set(before)
    goodbye = await delete_everything(citizen)
    assert any("werden jetzt gelöscht" in m.text for m in goodbye)
    assert bot.rows_mentioning(*needles) == {}


async def test_very_long_message_arrives_in_parts_in_order(bot: MatrixBot, citizen: MatrixCitizen) -> None:
    sentences = [f"Satz {number} über die Nordbahntrasse." for number in range(2500)]
    citizen.snapshot()
    sent = await bot.channel.send(citizen.room_id, Outbound(" ".join(sentences)))
    assert len(sent.message_ids) >= 3
    await citizen.wait_until(lambda: all(i in {s.event_id for s in citizen.seen} for i in sent.message_ids))
    parts = [item.text for item in citizen.seen if item.event_id in sent.message_ids]
    assert " ".join(parts).split() == " ".join(sentences).split()


async def test_citizens_new_device_can_read_the_bots_next_message(
    bot: MatrixBot, citizen: MatrixCitizen, tmp_path: Path
) -> None:
    await give_consent(citizen)
    phone = await citizen.second_device(tmp_path / "phone")
    try:
        devices = bot.channel.client.device_store
        # once the bot knows the new device, its next message must use a Megolm session shared with it too
        await citizen.wait_until(lambda: phone.client.device_id in devices[citizen.user_id])
        await say(citizen, "/hilfe")
        reply = await phone.next()
        assert reply.kind == "text" and reply.decrypted, reply
    finally:
        await phone.close()
