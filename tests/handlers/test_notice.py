"""The privacy notice of issue 10 (controller, complaints, independent messengers, opt-ins) and the opt-ins in
/meinedaten; the new commands in /hilfe."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.my_data import render_export
from tests.handlers.chat import Chat, catalog_of, texts
from tests.handlers.sample import sample_survey
from tests.handlers.test_privacy import BERLIN, FIELDS, stored

CONTROLLER = "Stadt Wuppertal, Der Oberbürgermeister, Johannes-Rau-Platz 1, datenschutz@stadt.wuppertal.de"
COMPLAINTS = "LDI NRW, Kavalleriestraße 2–4, 40213 Düsseldorf"


@pytest.mark.parametrize(("hint", "wrong"), [("de", "in unserem Auftrag"), ("en", "on our behalf")])
def test_the_notice_names_controller_and_complaints_and_the_messengers_as_independent(hint: str, wrong: str) -> None:
    chat = Chat(catalog_of(sample_survey()), language_hint=hint, controller=CONTROLLER, complaints=COMPLAINTS)
    chat.say("Hallo")
    notice = chat.text
    assert CONTROLLER in notice and COMPLAINTS in notice
    assert wrong not in notice
    assert ("nicht im Auftrag der Stadt" if hint == "de" else "not work on behalf of the city") in notice
    for command in ("/abo", "/stop") if hint == "de" else ("/subscriptions", "/stop"):
        assert command in notice
    assert "24" in notice and len(notice) < 2000, "short enough for a phone"


def test_without_configuration_the_notice_names_the_city_and_the_state_authority() -> None:
    chat = Chat(catalog_of(sample_survey()))
    chat.say("Hallo")
    assert "Stadtverwaltung" in chat.text and "ldi.nrw.de" in chat.text
    assert "{" not in chat.text


def test_datenschutz_shows_the_same_notice_with_the_controller() -> None:
    chat = Chat(catalog_of(sample_survey()), controller=CONTROLLER)
    chat.agree()
    chat.command("datenschutz")
    assert CONTROLLER in chat.text and "Sie haben am" in chat.text


@pytest.mark.parametrize(("lang", "commands"), [("de", ("/abo", "/pause", "/stop")), ("en", ("/subscriptions",))])
def test_help_lists_the_outreach_commands(lang: str, commands: tuple[str, ...]) -> None:
    help_text = texts().get("help.text", lang)
    for command in (*commands, "/pause", "/stop"):
        assert command in help_text


def with_opt_ins() -> dict[str, Any]:
    data = stored()
    data["opt_ins"] = [
        {
            "topic": "surveys",
            "fields": ["umwelt"],
            "source": "abo",
            "notice_version": "2",
            "granted_at": "2025-03-04T10:00:00+00:00",
            "withdrawn_at": None,
        },
        {
            "topic": "followups",
            "fields": [],
            "source": "survey_end",
            "notice_version": "2",
            "granted_at": "2025-03-02T10:00:00+00:00",
            "withdrawn_at": None,
        },
        {
            "topic": "surveys",
            "fields": [],
            "source": "after_survey",
            "notice_version": "2",
            "granted_at": "2025-03-02T10:00:00+00:00",
            "withdrawn_at": "2025-03-04T10:00:00+00:00",
        },
    ]
    data["paused_until"] = "2025-03-20T10:00:00+00:00"
    data["follow_ups"] += [
        {"kind": "survey_followup", "status": "pending", "due_at": "2025-03-05T10:00:00+00:00", "outcome": None},
        {"kind": "invitation", "status": "held", "due_at": "2025-03-05T10:00:00+00:00", "outcome": None},
        {"kind": "invitation", "status": "done", "due_at": "2025-03-01T10:00:00+00:00", "outcome": "sent"},
    ]
    return data


def test_my_data_shows_opt_ins_with_proof_history_pause_and_planned_messages() -> None:
    (message,) = render_export(with_opt_ins(), "de", texts(), FIELDS, BERLIN)
    text = message.text
    assert "Ihre Erlaubnisse (ändern mit /abo):" in text
    assert (
        "• Einladungen zu neuen Umfragen (nur Smarte Umwelt): seit 04.03.2025, gegeben mit /abo, "
        "Datenschutzhinweise Version 2" in text
    )
    assert "• Nachfragen zu Ihren Umfragen: seit 02.03.2025, gegeben am Ende einer Umfrage" in text
    assert "Frühere, zurückgenommene Erlaubnisse:\n• Einladungen zu neuen Umfragen: 02.03.2025 bis 04.03.2025" in text
    assert "Pausiert bis 20.03.2025" in text
    assert "Geplante Nachrichten: 3" in text and "• Einladungen: 1" in text and "• Nachfragen: 1" in text


def test_my_data_without_opt_in_keys_still_renders() -> None:
    (message,) = render_export(stored(), "en", texts(), FIELDS, BERLIN)
    assert "Your permissions: none" in message.text


def test_the_telegram_command_menu_offers_the_outreach_commands_and_only_known_ones() -> None:
    from bot.channels.telegram import BOT_COMMANDS
    from handlers.dialogue import COMMANDS

    for language, commands in BOT_COMMANDS.items():
        names = [name for name, _ in commands]
        assert {"abo", "pause", "stop"} <= set(names), language
        assert set(names) <= set(COMMANDS), language
        assert all(len(description) <= 256 for _, description in commands)
