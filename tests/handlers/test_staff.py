"""Staff in the chat (the pure core's part): who gets staff commands, the role rules, the status-change steps,
the idea news to an author and /meineideen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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


def test_an_analysts_changes_go_to_the_runtime_to_be_refused_and_logged_never_into_a_note_step() -> None:
    chat = new_chat(ROLE_ANALYST)
    chat.command("kampagne", "3")
    chat.command("ideen_neu")
    chat.command("status", "i_0123abcd")
    for command in ("starten", "schliessen"):
        chat.command(command, "3")
    for payload in ("sf:lp:3", "sf:L:3", "sf:cp:3", "sf:C:3", f"sf:s:{IDEA_ID}:done"):
        chat.event(InboundKind.BUTTON, payload=payload, message_ref="m1")
        assert chat.flow == Flow.MENU.value, payload
    assert [r.action for r in chat.store.staff_requests] == [
        "campaign", "new_ideas", "idea", "launch_preview", "close_preview", "launch_preview", "launch",
        "close_preview", "close", "idea_status",
    ]  # fmt: skip
    assert chat.store.staff_requests[-1] == StaffRequest("idea_status", IDEA_ID, status="done")


def test_launch_and_close_go_through_a_preview_and_only_its_fresh_confirm_button_acts() -> None:
    chat = new_chat(ROLE_STAFF)
    chat.event(InboundKind.BUTTON, payload="sf:L:4", message_ref="m9")  # no preview asked for: nothing happens
    assert chat.text == texts().get("staff.preview_first", "de", id="4") and chat.store.staff_requests == []
    chat.command("starten", "4")
    chat.event(InboundKind.BUTTON, payload="sf:L:5", message_ref="m9")  # another campaign than previewed
    chat.event(InboundKind.BUTTON, payload="sf:L:4", message_ref="m9")
    chat.event(InboundKind.BUTTON, payload="sf:L:4", message_ref="m9")  # the same button again: spent
    chat.command("schliessen", "#5")
    chat.now += timedelta(hours=2)  # an old preview's button launches nothing later
    chat.event(InboundKind.BUTTON, payload="sf:C:5", message_ref="m9")
    chat.event(InboundKind.BUTTON, payload="sf:cp:5", message_ref="m9")
    chat.event(InboundKind.BUTTON, payload="sf:C:5", message_ref="m9")
    assert [(r.action, r.target) for r in chat.store.staff_requests] == [
        ("launch_preview", "4"), ("launch", "4"), ("close_preview", "5"), ("close_preview", "5"), ("close", "5"),
    ]  # fmt: skip
    chat.command("starten")
    assert chat.text == texts().get("staff.usage_launch", "de")
    for typed in ("vier", "²", "1234567890", "-1"):
        chat.command("starten", typed)
        assert chat.text == texts().get("staff.usage_launch", "de"), typed
    for payload in ("sf:c:²", "sf:c:99999999999999999999", "sf:lp:x"):
        chat.event(InboundKind.BUTTON, payload=payload, message_ref="m9")
        assert chat.text == texts().get("staff.stale", "de"), payload
    chat.event(InboundKind.BUTTON, payload="sf:no", message_ref="m9")
    assert chat.text == texts().get("staff.cancelled", "de")
    assert len(chat.store.staff_requests) == 5


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
    assert f"sf:nn:{IDEA_ID}:planned" in [b.payload for b in chat.last_buttons()]
    chat.say("Der Bauhof stellt im Mai zwei Bänke auf.\nEN: The city depot puts up two benches in May.")
    assert chat.flow == Flow.STAFF_CONFIRM.value
    preview = chat.store.staff_requests[-1]
    assert preview == StaffRequest(
        "idea_status_preview", IDEA_ID, status="planned", note="Der Bauhof stellt im Mai zwei Bänke auf.",
        note_en="The city depot puts up two benches in May.",
    )  # fmt: skip
    chat.event(InboundKind.BUTTON, payload=f"sf:S:{IDEA_ID}:planned", message_ref="m8")
    assert chat.store.staff_requests[-1] == replace(preview, action="idea_status")
    assert chat.flow == Flow.MENU.value
    assert chat.data.get("staff") is None
    chat.event(InboundKind.BUTTON, payload=f"sf:S:{IDEA_ID}:planned", message_ref="m8")  # a double tap: nothing
    assert [r.action for r in chat.store.staff_requests].count("idea_status") == 1


def test_not_feasible_needs_a_note_and_a_cancel_changes_nothing() -> None:
    chat = new_chat(ROLE_STAFF, consent=False)
    chat.event(InboundKind.BUTTON, payload=f"sf:s:{IDEA_ID}:rejected", message_ref="m7")
    assert not any(b.payload.startswith("sf:nn") for b in chat.last_buttons())
    chat.event(InboundKind.BUTTON, payload=f"sf:nn:{IDEA_ID}:rejected", message_ref="m7")  # forged: note still asked
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


def test_staff_buttons_can_be_picked_by_typing_their_number_as_every_button_can() -> None:
    chat = new_chat(ROLE_STAFF)
    chat.command("status", "i_0123abcd")
    # what the runtime renders and offers (bot/decisions.py puts the buttons into the state with `offer`)
    from handlers.events import Button
    from handlers.turn import offer

    buttons = ((Button(f"sf:s:{IDEA_ID}:review", "in Prüfung"),), (Button(f"sf:s:{IDEA_ID}:done", "umgesetzt"),))
    chat.state = offer(chat.state, [Outbound(text="Idee", buttons=buttons)])
    chat.say("2")
    assert chat.flow == Flow.STAFF_NOTE.value
    assert chat.data["staff"]["status"] == "done"
    citizen = new_chat()
    citizen.state = offer(citizen.state, [Outbound(text="Idee", buttons=buttons)])
    citizen.say("2")  # the same typed number from someone not on the list presses nothing of staff's
    assert citizen.flow == Flow.MENU.value and citizen.store.staff_requests == []


def test_the_english_note_may_follow_as_a_message_of_its_own() -> None:
    chat = new_chat(ROLE_STAFF)
    chat.event(InboundKind.BUTTON, payload=f"sf:s:{IDEA_ID}:review", message_ref="m7")
    chat.say("Wir prüfen das.")
    chat.say("EN: We are looking into it.")
    assert chat.flow == Flow.STAFF_CONFIRM.value
    assert chat.store.staff_requests[-1] == StaffRequest(
        "idea_status_preview", IDEA_ID, status="review", note="Wir prüfen das.", note_en="We are looking into it."
    )
    chat.say("noch was")  # anything else re-shows the preview, changes nothing
    assert chat.store.staff_requests[-1].note == "Wir prüfen das."


def _line(status: str = "draft", invited: int = 40) -> object:
    from handlers.staff_views import CampaignLine

    start = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    return CampaignLine(3, "Mobilität im Quartier", status, "mobil", 1, start, start.replace(day=15), invited, 38, 20,
                        15)  # fmt: skip


def test_campaign_figures_render_rates_drop_off_and_only_fitting_buttons_for_staff() -> None:
    from handlers.staff_render import render_campaign
    from handlers.staff_views import CampaignFigures, QuestionDropOff
    from tests.handlers.chat import fields

    figures = CampaignFigures(
        line=_line("running"), audience={"channels": ("telegram",), "fields": ("mobilitaet",), "languages": ()},  # type: ignore[arg-type]
        reminder_after_days=None, waiting=2, unreachable=0, skipped=0, cancelled=0, reminders_sent=0,
        completion_rate=0.75, median_minutes=4.5,
        drop_off=(QuestionDropOff("q1", {"de": "Wo wohnen Sie?", "en": "Where do you live?"}, 20, 3),),
        ideas_per_field={"mobilitaet": 4, "": 1},
    )  # fmt: skip
    now = datetime(2025, 3, 2, 12, 0, tzinfo=UTC)
    (staff_view,) = render_campaign(figures, ROLE_STAFF, texts(), "de", UTC, fields(), now)
    assert "38 von 40 (95 %)" in staff_view.text and "75 %" in staff_view.text and "4 Min." in staff_view.text
    assert "Wo wohnen Sie?: 20 / 3" in staff_view.text and "Smarte Mobilität: 4" in staff_view.text
    assert "Kanäle: telegram" in staff_view.text and "Handlungsfelder: Smarte Mobilität" in staff_view.text
    assert [b.payload for b in staff_view.all_buttons()] == ["sf:cp:3", "sf:c:3"]
    (analyst_view,) = render_campaign(figures, ROLE_ANALYST, texts(), "en", UTC, fields(), now)
    assert [b.payload for b in analyst_view.all_buttons()] == ["sf:c:3"]
    assert "Where do you live?" in analyst_view.text


def test_previews_name_the_problem_or_offer_exactly_one_confirm_button() -> None:
    from handlers.staff_render import render_preview
    from handlers.staff_views import CampaignPreview

    (blocked,) = render_preview(CampaignPreview("launch", _line("running"), problem="not_draft"), texts(), "de", UTC)  # type: ignore[arg-type]
    assert "nur ein Entwurf" in blocked.text and blocked.buttons == ()
    ready = CampaignPreview("launch", _line(), audience=120, by_channel={"telegram": 100, "matrix": 20})  # type: ignore[arg-type]
    (preview,) = render_preview(ready, texts(), "de", UTC)
    assert "120 Personen" in preview.text and "matrix 20, telegram 100" in preview.text
    assert [b.payload for b in preview.all_buttons()] == ["sf:L:3", "sf:no"]


def test_new_ideas_on_telegram_say_that_texts_are_redacted() -> None:
    from handlers.staff_render import render_new_ideas
    from handlers.staff_views import FieldIdeas, IdeaItem, NewIdeas
    from tests.handlers.chat import fields

    item = IdeaItem("i_0123456789abcdef", IDEA_ID, "Bänke an der Trasse, Kontakt [EMAIL]", ("leben",),
                    datetime(2025, 3, 1, tzinfo=UTC), "new", None, None, None, True)  # fmt: skip
    new = NewIdeas((FieldIdeas("leben", (item,), 7), FieldIdeas("umwelt", (), 0)), redacted=True)
    (message,) = render_new_ideas(new, texts(), "de", UTC, fields())
    assert "i_0123456789abcdef" in message.text and "[EMAIL]" in message.text
    assert texts().get("staff.redacted_note", "de") in message.text
    assert [b.payload for b in message.all_buttons()] == ["sf:n:leben"]  # more than shown: a button to see more
    (one_field,) = render_new_ideas(new, texts(), "de", UTC, fields(), only_field="leben")
    assert f"sf:i:{IDEA_ID}" in [b.payload for b in one_field.all_buttons()]


def test_saving_under_an_older_preview_never_saves_the_newer_draft() -> None:
    other = "fedcba9876543210fedcba9876543210"
    chat = new_chat(ROLE_STAFF)
    chat.event(InboundKind.BUTTON, payload=f"sf:s:{IDEA_ID}:planned", message_ref="m7")
    chat.event(InboundKind.BUTTON, payload=f"sf:nn:{IDEA_ID}:planned", message_ref="m7")
    chat.event(InboundKind.BUTTON, payload=f"sf:s:{other}:rejected", message_ref="m8")
    chat.say("Kein Platz dort.")
    chat.event(InboundKind.BUTTON, payload=f"sf:S:{IDEA_ID}:planned", message_ref="m9")  # A's old preview
    assert "idea_status" not in [r.action for r in chat.store.staff_requests]  # the current preview is shown again
    assert chat.flow == Flow.STAFF_CONFIRM.value and chat.store.staff_requests[-1].target == other
    chat.event(InboundKind.BUTTON, payload=f"sf:S:{other}:rejected", message_ref="m10")
    assert chat.store.staff_requests[-1] == StaffRequest("idea_status", other, status="rejected",
                                                         note="Kein Platz dort.")  # fmt: skip


def test_city_dates_in_the_news_are_in_the_city_time_zone() -> None:
    moment = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)  # already 1 January in Wuppertal
    message = render_idea_news(_news_payload(filed_at=moment.isoformat()), texts(), "de", ZoneInfo("Europe/Berlin"))
    assert "01.01.2026" in message.text


def test_an_inbound_stored_by_another_version_with_unknown_keys_is_still_read() -> None:
    from handlers.events import Inbound

    event = Inbound(InboundKind.TEXT, "matrix", "@a:b", "!r:b", "e1", datetime(2025, 3, 1, tzinfo=UTC), text="Hi",
                    encrypted=True)  # fmt: skip
    stored = {**event.to_dict(), "written_by_a_newer_bot": 1}
    assert Inbound.from_dict(stored) == event
