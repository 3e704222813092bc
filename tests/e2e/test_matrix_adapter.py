"""The Matrix adapter's pure parts: how messages are rendered (polls Element shows, numbered fallbacks, size
limits), how room events become Inbound events, how homeserver errors become RetryLater/PermanentFailure, and the
stored login. No homeserver needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nio import ErrorResponse, RoomSendResponse

from bot.channels.base import RATE_LIMIT_CHANNEL, PermanentFailure, RecipientUnreachableError, RetryLater
from bot.channels.matrix import MatrixChannel
from bot.channels.matrix_inbound import VoteMemory, to_inbound
from bot.channels.matrix_render import MAX_TEXT_CHARS, POLL_START, render, split_question, split_text
from bot.channels.matrix_send import check_response
from bot.channels.matrix_session import StoredSession, load_session, save_session
from bot.config import ConfigError, load_config
from handlers.events import Button, InboundKind, Outbound

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ROOM = "!dm:example.org"
CITIZEN = "@ada:example.org"


def event(event_type: str, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": event_type, "event_id": "$e1", "sender": CITIZEN, "origin_server_ts": 1_790_000_000_000,
            "content": content, **extra}


# --- rendering ---------------------------------------------------------------------------------------------------


def test_question_with_options_becomes_a_text_and_a_poll_in_the_form_element_renders() -> None:
    message = Outbound(
        "Frage 2 von 7\nWie zufrieden sind Sie mit dem Bus?\n\nTippen Sie auf eine Antwort.",
        buttons=((Button("a:bus:1", "Sehr"),), (Button("a:bus:2", "Kaum"),)),
        question=True,
    )
    text, poll = render(message)
    assert text.type == "m.room.message"
    assert text.content == {"msgtype": "m.text", "body": "Frage 2 von 7\n\nTippen Sie auf eine Antwort."}
    assert poll.type == POLL_START
    assert poll.content[POLL_START] == {
        "question": {"org.matrix.msc1767.text": "Wie zufrieden sind Sie mit dem Bus?"},
        "kind": "org.matrix.msc3381.poll.disclosed",
        "max_selections": 1,
        "answers": [{"id": "a:bus:1", "org.matrix.msc1767.text": "Sehr"},
                    {"id": "a:bus:2", "org.matrix.msc1767.text": "Kaum"}],
    }
    fallback = "Wie zufrieden sind Sie mit dem Bus?\n1. Sehr\n2. Kaum"
    assert poll.content["org.matrix.msc1767.text"] == fallback == poll.content["body"]


def test_multiple_choice_poll_allows_as_many_selections_as_it_has_answers() -> None:
    buttons = tuple((Button(f"t:q:{n}", f"Option {n}"),) for n in range(4))
    (poll,) = render(Outbound("Was nutzen Sie?", buttons=buttons, question=True, multi=True))
    assert poll.content[POLL_START]["max_selections"] == 4


def test_menu_without_a_question_mark_asks_its_first_line() -> None:
    assert split_question("Diese Umfragen laufen gerade:\n\n• Klima\n• Mobilität") == (
        "• Klima\n• Mobilität", "Diese Umfragen laufen gerade:"
    )


def test_message_without_buttons_is_one_plain_text_message() -> None:
    assert [e.content for e in render(Outbound("Vielen Dank!"))] == [{"msgtype": "m.text", "body": "Vielen Dank!"}]


def test_very_long_text_is_split_into_events_matrix_accepts() -> None:
    paragraph = "Wuppertal hat viele Treppen. " * 40
    events = render(Outbound("\n\n".join([paragraph] * 80)))
    assert len(events) >= 3
    for item in events:
        body = item.content["body"]
        assert len(body) <= MAX_TEXT_CHARS
        assert len(json.dumps({"type": item.type, "content": item.content}).encode()) < 65_536
        assert not body.startswith(" ") and body.rstrip().endswith("."), "cut between sentences"


@given(st.text(alphabet=st.sampled_from("ab \n"), max_size=400), st.integers(min_value=10, max_value=60))
def test_split_text_keeps_every_word_in_order_within_the_limit(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(len(part) <= limit for part in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


# --- inbound -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["unstable", "stable"])
def test_poll_response_of_either_form_is_a_button_press_on_the_poll(form: str) -> None:
    relates = {"rel_type": "m.reference", "event_id": "$poll"}
    if form == "stable":
        source = event("m.poll.response", {"m.relates_to": relates, "m.selections": ["a:bus:2"]})
    else:
        source = event("org.matrix.msc3381.poll.response",
                       {"m.relates_to": relates, "org.matrix.msc3381.poll.response": {"answers": ["a:bus:2"]}})
    inbound = to_inbound(source, ROOM, NOW)
    assert inbound is not None
    assert (inbound.kind, inbound.payload, inbound.message_ref) == (InboundKind.BUTTON, "a:bus:2", "$poll")
    assert (inbound.user_id, inbound.chat_id, inbound.event_id) == (CITIZEN, ROOM, "$e1")
    assert inbound.received_at == datetime.fromtimestamp(1_790_000_000, UTC)


def test_withdrawn_vote_is_ignored() -> None:
    source = event("m.poll.response", {"m.relates_to": {"rel_type": "m.reference", "event_id": "$p"},
                                       "m.selections": []})
    assert to_inbound(source, ROOM, NOW) is None


def test_response_naming_several_answers_presses_the_one_just_added() -> None:
    votes = VoteMemory()
    relates = {"rel_type": "m.reference", "event_id": "$poll"}
    first = to_inbound(event("m.poll.response", {"m.relates_to": relates, "m.selections": ["t:q:a"]}), ROOM, NOW,
                       votes)
    second = to_inbound(event("m.poll.response", {"m.relates_to": relates, "m.selections": ["t:q:a", "t:q:c"]}),
                        ROOM, NOW, votes)
    assert first is not None and second is not None
    assert (first.payload, second.payload) == ("t:q:a", "t:q:c")


def test_typed_text_and_commands_use_the_shared_parser() -> None:
    text = to_inbound(event("m.room.message", {"msgtype": "m.text", "body": "2"}), ROOM, NOW)
    command = to_inbound(event("m.room.message", {"msgtype": "m.text", "body": "/loeschen"}), ROOM, NOW)
    assert text is not None and (text.kind, text.text) == (InboundKind.TEXT, "2")
    assert command is not None and (command.kind, command.command) == (InboundKind.COMMAND, "loeschen")


def test_reply_quote_is_not_taken_for_the_citizens_words() -> None:
    content = {"msgtype": "m.text", "body": "> <@stadtbot:example.org> Wie alt sind Sie?\n\n42",
               "m.relates_to": {"m.in_reply_to": {"event_id": "$q"}}}
    inbound = to_inbound(event("m.room.message", content), ROOM, NOW)
    assert inbound is not None and inbound.text == "42"


def test_edit_is_an_edited_event() -> None:
    content = {"msgtype": "m.text", "body": "* Hallo zusammen", "m.new_content": {"body": "Hallo zusammen"},
               "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"}}
    inbound = to_inbound(event("m.room.message", content), ROOM, NOW)
    assert inbound is not None and (inbound.kind, inbound.text) == (InboundKind.EDITED, "Hallo zusammen")


@pytest.mark.parametrize(("source", "media"), [
    (event("m.room.message", {"msgtype": "m.image", "body": "a.png", "url": "mxc://x/y"}), "photo"),
    (event("m.room.message", {"msgtype": "m.audio", "body": "v.ogg", "org.matrix.msc3245.voice": {}}), "voice"),
    (event("m.room.message", {"msgtype": "m.video", "body": "v.mp4"}), "video"),
    (event("m.room.message", {"msgtype": "m.file", "body": "x.pdf"}), "document"),
    (event("m.room.message", {"msgtype": "m.location", "body": "geo", "geo_uri": "geo:1,2"}), "location"),
    (event("m.sticker", {"body": "cat", "url": "mxc://x/y", "info": {}}), "sticker"),
    (event("org.matrix.msc3381.poll.start", {}), "poll"),
])
def test_media_of_every_kind_is_a_media_event(source: dict[str, Any], media: str) -> None:
    inbound = to_inbound(source, ROOM, NOW)
    assert inbound is not None and (inbound.kind, inbound.media) == (InboundKind.MEDIA, media)


def test_an_image_caption_travels_as_the_text_but_a_file_name_does_not() -> None:
    captioned = {"msgtype": "m.image", "body": "Schlagloch hier", "filename": "IMG_0042.jpg", "url": "mxc://x/y"}
    inbound = to_inbound(event("m.room.message", captioned), ROOM, NOW)
    assert inbound is not None and (inbound.media, inbound.text) == ("photo", "Schlagloch hier")
    voice = {"msgtype": "m.audio", "body": "Voice message", "filename": "Voice message.ogg", "m.voice": {}}
    inbound = to_inbound(event("m.room.message", voice), ROOM, NOW)
    assert inbound is not None and (inbound.media, inbound.text) == ("voice", "")
    plain = {"msgtype": "m.image", "body": "IMG_0042.jpg", "filename": "IMG_0042.jpg", "url": "mxc://x/y"}
    inbound = to_inbound(event("m.room.message", plain), ROOM, NOW)
    assert inbound is not None and inbound.text == ""


def test_reactions_and_state_events_are_not_for_the_dialogue() -> None:
    reaction = event("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$p", "key": "👍"}})
    topic = event("m.room.topic", {"topic": "x"}, state_key="")
    assert to_inbound(reaction, ROOM, NOW) is None
    assert to_inbound(topic, ROOM, NOW) is None


# --- homeserver answers ------------------------------------------------------------------------------------------


def error(code: str | None, status: int, retry_after_ms: int | None = None) -> ErrorResponse:
    response = ErrorResponse("refused", code, retry_after_ms)
    response.transport_response = SimpleNamespace(status=status)  # type: ignore[assignment]
    return response


def test_rate_limit_answer_waits_as_long_as_the_server_says() -> None:
    with pytest.raises(RetryLater) as caught:
        check_response(error("M_LIMIT_EXCEEDED", 429, 2500), RoomSendResponse, "send")
    assert caught.value.after == 2.5
    assert caught.value.rate_limit == RATE_LIMIT_CHANNEL  # rc_message is per sender: the whole channel pauses


def test_server_errors_are_retried_and_refusals_are_permanent() -> None:
    with pytest.raises(RetryLater) as failing:
        check_response(error(None, 502), RoomSendResponse, "send")
    assert failing.value.rate_limit is None
    with pytest.raises(PermanentFailure):
        check_response(error("M_NOT_FOUND", 404), RoomSendResponse, "send")


def test_a_send_refused_with_m_forbidden_means_the_citizen_is_unreachable() -> None:
    with pytest.raises(RecipientUnreachableError):
        check_response(error("M_FORBIDDEN", 403), RoomSendResponse, "send")
    with pytest.raises(PermanentFailure) as upload:
        check_response(error("M_FORBIDDEN", 403), RoomSendResponse, "upload")
    assert not isinstance(upload.value, RecipientUnreachableError)


# --- stored login ------------------------------------------------------------------------------------------------


def test_session_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "matrix" / "session.json"
    session = StoredSession("https://matrix.example.org", "@bot:example.org", "DEVICE", "token", "pickle")
    save_session(path, session)
    save_session(path, session)  # rewriting replaces atomically
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_session(path) == session
    path.write_text("{broken", encoding="utf-8")
    assert load_session(path) is None


def test_matrix_without_password_token_or_stored_session_is_a_config_error(tmp_path: Path) -> None:
    config = load_config({"STADTDIALOG_DATA_DIR": str(tmp_path), "STADTDIALOG_MATRIX_HOMESERVER": "http://hs",
                          "STADTDIALOG_MATRIX_USER": "@bot:example.org"}, cwd=tmp_path)
    with pytest.raises(ConfigError):
        MatrixChannel.from_config(config)


def test_more_options_than_a_poll_may_hold_become_numbered_lines_to_type() -> None:
    buttons = tuple((Button(f"a:q:{n}", f"Ort {n}"),) for n in range(1, 23))
    (message,) = render(Outbound("Wo wohnen Sie?", buttons=buttons, question=True))
    body = message.content["body"]
    assert message.type == "m.room.message"
    assert body.startswith("Wo wohnen Sie?\n\n1. Ort 1\n2. Ort 2") and body.endswith("22. Ort 22")


def test_only_a_real_refusal_of_the_login_stops_the_bot() -> None:
    from types import SimpleNamespace

    from bot.channels.matrix_send import is_transient

    def answer(code: str | None, http: int | None) -> SimpleNamespace:
        return SimpleNamespace(status_code=code, transport_response=SimpleNamespace(status=http))

    assert is_transient(answer(None, 502)) and is_transient(answer("M_UNKNOWN", 503))
    assert is_transient(answer("M_LIMIT_EXCEEDED", 429)) and is_transient(answer(None, 429))
    assert not is_transient(answer("M_FORBIDDEN", 403)) and not is_transient(answer("M_UNKNOWN_TOKEN", 401))
    assert not is_transient(SimpleNamespace(status_code="M_FORBIDDEN", transport_response=None))
