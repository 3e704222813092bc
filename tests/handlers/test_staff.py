"""Staff in the chat (the pure core's part): who gets staff commands, the role rules, the status-change steps,
the idea news to an author and /meineideen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from handlers.events import (
    FOLLOW_UP_HELD,
    FOLLOW_UP_SENT,
    FOLLOW_UP_SKIPPED,
    IDEA_STATUS_KIND,
    ROLE_ANALYST,
    ROLE_STAFF,
    InboundKind,
    Outbound,
    StaffRequest,
)
from handlers.staff import BUTTONS as STAFF_BUTTONS
from handlers.staff import COMMANDS as STAFF_COMMANDS
from handlers.staff_render import render_idea_news
from handlers.state import Flow
from tests.handlers.chat import Chat, catalog_of, texts
from tests.handlers.sample import sample_survey

IDEA_ID = "0123456789abcdef0123456789abcdef"
UNKNOWN = "gibtsnicht"


def new_chat(role: str | None = None, *, consent: bool = True) -> Chat:
    chat = Chat(catalog_of(sample_survey()), staff_role=role)
    if consent:
        chat.agree()
    return chat


# --- states a citizen can be in, reached as a citizen gets there -----------------------------------------------


def _new(chat: Chat) -> None:
    pass


def _consent(chat: Chat) -> None:
    chat.say("Hallo")


def _menu(chat: Chat) -> None:
    chat.agree()


def _survey(chat: Chat) -> None:
    chat.agree()
    chat.command("umfragen")
    chat.press(chat.last_buttons()[0].payload)


def _idea_text(chat: Chat) -> None:
    chat.agree()
    chat.command("idee")


def _idea_field(chat: Chat) -> None:
    _idea_text(chat)
    chat.say("Mehr Bänke am Laurentiusplatz, damit Ältere sich ausruhen können")


def _delete_confirm(chat: Chat) -> None:
    chat.agree()
    chat.command("loeschen")


def _abo(chat: Chat) -> None:
    chat.agree()
    chat.command("abo")


STATES: dict[str, Callable[[Chat], None]] = {
    "new": _new,
    "consent": _consent,
    "menu": _menu,
    "survey": _survey,
    "idea_text": _idea_text,
    "idea_field": _idea_field,
    "delete_confirm": _delete_confirm,
    "abo": _abo,
}


def _reached(name: str) -> Chat:
    chat = Chat(catalog_of(sample_survey()))
    STATES[name](chat)
    return chat


def _visible(chat: Chat) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    return tuple((m.text, tuple((b.payload, b.label) for b in m.all_buttons())) for m in chat.last.messages)


@pytest.mark.parametrize("state", sorted(STATES))
def test_a_citizen_sending_a_staff_command_gets_exactly_the_unknown_command_reply(state: str) -> None:
    for command in sorted(STAFF_COMMANDS):
        for args in ("", "3", "i_0123456789abcdef"):
            expected, tried = _reached(state), _reached(state)
            expected.command(UNKNOWN, args)
            tried.command(command, args)
            assert _visible(tried) == _visible(expected), (state, command, args)
            assert tried.state == replace(expected.state), (state, command, args)
            assert tried.store.staff_requests == [] == expected.store.staff_requests
            assert tried.last.effects == expected.last.effects


@pytest.mark.parametrize("state", sorted(STATES))
def test_a_citizen_pressing_a_forged_staff_button_gets_what_any_unknown_button_gets(state: str) -> None:
    for action in sorted(STAFF_BUTTONS):
        payload = f"sf:{action}:3" if action not in ("s",) else f"sf:s:{IDEA_ID}:done"
        expected, tried = _reached(state), _reached(state)
        expected.event(InboundKind.BUTTON, payload="zz:3", message_ref="m1")
        tried.event(InboundKind.BUTTON, payload=payload, message_ref="m1")
        assert _visible(tried) == _visible(expected), (state, payload)
        assert tried.store.staff_requests == []
        assert tried.last.effects == expected.last.effects


def test_staff_commands_need_no_consent_and_leave_the_citizen_steps_alone() -> None:
    chat = new_chat(ROLE_ANALYST, consent=False)
    chat.command("kampagnen")
    assert chat.store.staff_requests == [StaffRequest("campaigns")]
    assert chat.last.messages == ()  # the runtime renders the answer
    assert not chat.state.consented
    chat.command("team")
    assert "/kampagnen" in chat.text and "/starten" not in chat.text
    surveying = new_chat(ROLE_STAFF)
    _survey_step = surveying.command("umfragen")
    surveying.press(_survey_step.messages[-1].all_buttons()[0].payload)
    before = surveying.flow
    surveying.command("kampagne", "7")
    assert surveying.store.staff_requests[-1] == StaffRequest("campaign", "7")
    assert surveying.flow == before == Flow.SURVEY.value
    surveying.command("team")
    assert "/starten" in surveying.text


def test_an_analyst_sees_but_cannot_launch_close_or_set_a_status() -> None:
    chat = new_chat(ROLE_ANALYST)
    chat.command("kampagne", "3")
    chat.command("ideen_neu")
    chat.command("status", "i_0123abcd")
    assert [r.action for r in chat.store.staff_requests] == ["campaign", "new_ideas", "idea"]
    needs = texts().get("staff.needs_staff", "de")
    for command in ("starten", "schliessen"):
        chat.command(command, "3")
        assert chat.text == needs
    for payload in ("sf:lp:3", "sf:L:3", "sf:cp:3", "sf:C:3", f"sf:s:{IDEA_ID}:done"):
        chat.event(InboundKind.BUTTON, payload=payload, message_ref="m1")
        assert chat.text == needs, payload
    assert [r.action for r in chat.store.staff_requests] == ["campaign", "new_ideas", "idea"]


def test_launch_and_close_go_through_a_preview_and_only_the_confirm_button_acts() -> None:
    chat = new_chat(ROLE_STAFF)
    chat.command("starten", "4")
    chat.command("schliessen", "#5")
    chat.event(InboundKind.BUTTON, payload="sf:L:4", message_ref="m9")
    chat.event(InboundKind.BUTTON, payload="sf:C:5", message_ref="m9")
    assert [(r.action, r.target) for r in chat.store.staff_requests] == [
        ("launch_preview", "4"), ("close_preview", "5"), ("launch", "4"), ("close", "5"),
    ]  # fmt: skip
    chat.command("starten")
    assert chat.text == texts().get("staff.usage_launch", "de")
    chat.command("starten", "vier")
    assert chat.text == texts().get("staff.usage_launch", "de")
    chat.event(InboundKind.BUTTON, payload="sf:no", message_ref="m9")
    assert chat.text == texts().get("staff.cancelled", "de")
    assert len(chat.store.staff_requests) == 4


def test_new_ideas_of_one_field_by_key_or_name_and_an_unknown_field_lists_the_fields() -> None:
    chat = new_chat(ROLE_ANALYST)
    chat.command("ideen_neu", "Mobilität")
    chat.command("ideen_neu", "mobilitaet")
    chat.command("ideen_neu", "Quatsch")
    assert [r.target for r in chat.store.staff_requests] == ["mobilitaet", "mobilitaet"]
    assert "mobilitaet" in chat.text and "umwelt" in chat.text


def test_a_status_change_asks_for_a_note_previews_and_saves_only_on_confirm() -> None:
    chat = new_chat(ROLE_STAFF)
    chat.event(InboundKind.BUTTON, payload=f"sf:s:{IDEA_ID}:planned", message_ref="m7")
    assert chat.flow == Flow.STAFF_NOTE.value
    assert "sf:nn" in [b.payload for b in chat.last_buttons()]
    chat.say("Der Bauhof stellt im Mai zwei Bänke auf.\nEN: The city depot puts up two benches in May.")
    assert chat.flow == Flow.STAFF_CONFIRM.value
    preview = chat.store.staff_requests[-1]
    assert preview == StaffRequest(
        "idea_status_preview", IDEA_ID, status="planned", note="Der Bauhof stellt im Mai zwei Bänke auf.",
        note_en="The city depot puts up two benches in May.",
    )  # fmt: skip
    chat.event(InboundKind.BUTTON, payload="sf:S", message_ref="m8")
    assert chat.store.staff_requests[-1] == replace(preview, action="idea_status")
    assert chat.flow == Flow.MENU.value
    assert chat.data.get("staff") is None
    chat.event(InboundKind.BUTTON, payload="sf:S", message_ref="m8")  # a double tap saves nothing twice
    assert [r.action for r in chat.store.staff_requests].count("idea_status") == 1


def test_not_feasible_needs_a_note_and_a_cancel_changes_nothing() -> None:
    chat = new_chat(ROLE_STAFF, consent=False)
    chat.event(InboundKind.BUTTON, payload=f"sf:s:{IDEA_ID}:rejected", message_ref="m7")
    assert "sf:nn" not in [b.payload for b in chat.last_buttons()]
    chat.event(InboundKind.BUTTON, payload="sf:nn", message_ref="m7")  # forged: still asks for the note
    assert chat.flow == Flow.STAFF_NOTE.value
    chat.say("EN: only English")
    assert chat.text == texts().get("staff.note_german_missing", "de")
    chat.say("x" * 501)
    assert "501" in chat.text
    assert chat.store.staff_requests == []
    chat.event(InboundKind.MEDIA, media="sticker")
    assert chat.flow == Flow.STAFF_NOTE.value
    chat.command("abbrechen")
    assert chat.text == texts().get("staff.cancelled", "de")
    assert chat.flow == Flow.NEW.value  # no consent: back to where a visitor is
    assert chat.store.staff_requests == []


def test_someone_taken_off_the_allowlist_mid_note_is_a_citizen_again() -> None:
    chat = new_chat(ROLE_STAFF)
    chat.event(InboundKind.BUTTON, payload=f"sf:s:{IDEA_ID}:done", message_ref="m7")
    chat.staff_role = None
    chat.say("Ist erledigt")
    assert chat.flow == Flow.MENU.value
    assert chat.store.staff_requests == []
    assert texts().get("common.choose", "de") in chat.text


def _news_payload(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "idea_id": IDEA_ID, "status": "planned", "note": "Kommt im Mai.", "note_en": "Coming in May.",
        "excerpt": "Mehr Bänke am Laurentiusplatz", "filed_at": "2025-02-20T10:00:00+00:00",
    }  # fmt: skip
    payload.update(changes)
    return payload


def test_idea_news_reach_only_an_author_who_opted_in_and_wait_while_they_are_busy() -> None:
    chat = new_chat()
    chat.follow_up(IDEA_STATUS_KIND, 11, **_news_payload())
    assert chat.store.outcomes[-1].outcome == FOLLOW_UP_SKIPPED and chat.store.outcomes[-1].reason == "no_opt_in"
    assert chat.last.messages == ()
    chat.opt_in("idea_news")
    chat.command("idee")  # busy writing an idea
    chat.follow_up(IDEA_STATUS_KIND, 12, **_news_payload())
    assert chat.store.outcomes[-1].outcome == FOLLOW_UP_HELD
    chat.command("abbrechen")
    chat.follow_up(IDEA_STATUS_KIND, 13, **_news_payload())
    assert chat.store.outcomes[-1].outcome == FOLLOW_UP_SENT
    assert "wird umgesetzt" in chat.text and "Kommt im Mai." in chat.text and "20.02.2025" in chat.text
    assert "Laurentiusplatz" in chat.text


def test_idea_news_in_english_use_the_english_note_when_there_is_one() -> None:
    message = render_idea_news(_news_payload(), texts(), "en", UTC)
    assert "will be implemented" in message.text and "Coming in May." in message.text
    german_only = render_idea_news(_news_payload(note_en=None), texts(), "en", UTC)
    assert "Kommt im Mai." in german_only.text
    assert isinstance(message, Outbound)


def test_meineideen_asks_the_runtime_and_needs_consent_like_meinedaten() -> None:
    chat = new_chat()
    chat.command("meineideen")
    assert chat.store.my_ideas == 1 and chat.last.messages == ()
    visitor = new_chat(consent=False)
    visitor.command("meineideen")
    assert visitor.store.my_ideas == 0
    assert visitor.flow == Flow.CONSENT.value


def test_staff_text_keys_render_with_the_dates_of_the_city() -> None:
    moment = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    message = render_idea_news(_news_payload(filed_at=moment.isoformat()), texts(), "de", UTC)
    assert "31.12.2025" in message.text


def test_meinedaten_shows_what_became_of_an_idea() -> None:
    from handlers.my_data import render_export

    idea = {"id": "i1", "text": "Mehr Bänke", "field": None, "fields": [], "created_at": "2025-02-20T10:00:00+00:00",
            "status": "rejected", "status_note": "Kein Platz.", "status_note_en": "No room.",
            "status_at": "2025-03-01T10:00:00+00:00"}  # fmt: skip
    data = {"citizen": {"id": "c_1", "language": "de", "consent_version": "1",
                        "consent_at": "2025-02-01T10:00:00+00:00"}, "ideas": [idea]}  # fmt: skip
    german = render_export(data, "de", texts())[0].text
    assert "nicht umsetzbar (seit 01.03.2025)" in german and "Kein Platz." in german and "/meineideen" in german
    english = render_export(data, "en", texts())[0].text
    assert "not feasible" in english and "No room." in english
    untouched = render_export({**data, "ideas": [{**idea, "status": "new"}]}, "de", texts())[0].text
    assert "Stand:" not in untouched
