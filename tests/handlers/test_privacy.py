"""/meinedaten and /loeschen."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from handlers.events import CitizenState, DeleteCitizen, ExportData
from handlers.privacy import EXPORT_FILENAME, render_export
from handlers.state import Flow
from handlers.turn import MAX_TEXT
from tests.handlers.chat import Chat, catalog_of, texts
from tests.handlers.sample import sample_survey


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(sample_survey()))
    chat.agree()
    return chat


def small_export() -> dict[str, object]:
    return {
        "citizen": {"pseudonym": "c-7f3a", "language": "de", "consent_at": datetime(2025, 3, 1, 9, tzinfo=UTC)},
        "ideas": [{"text": "Mehr Bänke", "field": "mobilitaet", "submitted": True}],
        "responses": [],
    }


def test_meinedaten_asks_the_runtime_for_the_export(chat: Chat) -> None:
    chat.command("meinedaten")
    assert chat.last.effects == (ExportData(),)
    assert chat.last.messages == ()  # the export itself is the answer (render_export)
    chat.press("m:data")
    assert chat.store.exports == 2


def test_small_export_is_a_readable_message() -> None:
    (message,) = render_export(small_export(), "de", texts())
    assert message.document is None
    assert message.text.startswith("Hier sind alle Daten")
    assert "pseudonym: c-7f3a" in message.text
    assert "– text: Mehr Bänke" in message.text
    assert "submitted: ja" in message.text and "responses: –" in message.text
    assert "2025-03-01T09:00:00+00:00" in message.text
    assert "/loeschen" in message.text


def test_large_export_is_sent_as_a_json_file() -> None:
    data = {
        "ideas": [{"text": f"Idee Nummer {n} " + "ä" * 80, "at": datetime(2025, 3, 1, tzinfo=UTC)} for n in range(60)]
    }
    (message,) = render_export(data, "en", texts())
    assert message.document is not None
    assert message.document.filename == EXPORT_FILENAME == "meine-daten.json"
    assert message.document.mime_type == "application/json"
    assert len(message.text) <= MAX_TEXT and "file" in message.text
    parsed = json.loads(message.document.content.decode("utf-8"))
    assert parsed["ideas"][59]["text"].startswith("Idee Nummer 59 ää")
    assert parsed["ideas"][0]["at"] == "2025-03-01T00:00:00+00:00"


def test_deletion_needs_confirmation_and_then_deletes_everything(chat: Chat) -> None:
    chat.command("idee", "Mehr Grün")
    chat.press("f:umwelt")
    chat.command("loeschen")
    assert chat.flow == Flow.DELETE_CONFIRM
    assert chat.labels() == ["Ja, alles löschen", "Nein"]
    assert not chat.last.effects
    chat.press("del:yes")
    assert chat.last.effects == (DeleteCitizen(),)
    assert "/start" in chat.text and "gelöscht" in chat.text
    assert chat.state == CitizenState(language="de")
    assert chat.store.ideas == []


def test_deletion_keeps_the_language(chat: Chat) -> None:
    chat.command("language")
    chat.command("delete")
    chat.say("1")
    assert chat.state == CitizenState(language="en", language_chosen=True)
    assert "All your data" in chat.text


@pytest.mark.parametrize("how", ["button", "typed", "cancel"])
def test_declining_deletion_keeps_everything(chat: Chat, how: str) -> None:
    chat.command("idee", "Mehr Grün")
    chat.press("f:umwelt")
    chat.command("loeschen")
    if how == "button":
        chat.press("del:no")
    elif how == "typed":
        chat.say("Nein")
    else:
        chat.command("abbrechen")
    assert DeleteCitizen() not in chat.last.effects
    assert "bleibt alles" in chat.text
    assert chat.state.consented and chat.flow == Flow.MENU
    assert len(chat.store.ideas) == 1


def test_typed_ja_does_not_delete(chat: Chat) -> None:
    chat.command("loeschen")
    chat.say("ja")
    assert chat.store.deletions == 0
    assert chat.flow == Flow.DELETE_CONFIRM


def test_deletion_works_before_consent() -> None:
    chat = Chat(catalog_of(sample_survey()))
    chat.say("Hallo")
    chat.command("loeschen")
    chat.press("del:yes")
    assert chat.store.deletions == 1


def test_stale_delete_button_does_nothing(chat: Chat) -> None:
    chat.command("loeschen")
    chat.press("del:no")
    chat.press("del:yes", ref="m3")
    assert chat.store.deletions == 0
    assert "früheren Nachricht" in chat.text
