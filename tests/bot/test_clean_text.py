"""Text from a channel is cleaned before anything is stored: every channel's inbound conversion ends in it."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.base import REPLACEMENT, clean_inbound, clean_text, text_event
from bot.channels.matrix_inbound import to_inbound
from handlers.events import Inbound, InboundKind

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Every code point Python allows in a str, lone surrogates and NUL included.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF, categories=None))


@given(ANY_TEXT)
def test_cleaned_text_can_always_be_encoded_and_holds_no_nul(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # what the database driver and every channel's HTTP client do
    assert "\x00" not in cleaned


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00")))
def test_text_that_is_fine_stays_as_it_is(text: str) -> None:
    assert clean_text(text) == text


def test_lone_surrogates_and_nul_become_the_replacement_character_and_pairs_are_joined() -> None:
    assert clean_text("a\ud800b\x00c") == f"a{REPLACEMENT}b{REPLACEMENT}c"
    assert clean_text("\ud83d\ude00 \udc00") == f"😀 {REPLACEMENT}"


def test_every_text_field_of_an_event_is_cleaned() -> None:
    raw = Inbound(InboundKind.BUTTON, "telegram", "1\ud800", "1", "e\x00", NOW, text="\ud800", payload="f:\udfff",
                  message_ref="m\ud800", language_hint="de\ud800")
    cleaned = clean_inbound(raw)
    assert all(
        REPLACEMENT in (value or "")
        for value in (cleaned.user_id, cleaned.event_id, cleaned.text, cleaned.payload, cleaned.message_ref,
                      cleaned.language_hint)
    )
    assert text_event("terminal", "local", "local", "1", "/idee Bank\ud800", NOW).args == f"Bank{REPLACEMENT}"


def test_a_matrix_message_with_a_lone_surrogate_is_cleaned() -> None:
    source = {"type": "m.room.message", "event_id": "$e", "sender": "@ana:example.org",
              "content": {"msgtype": "m.text", "body": "Mehr B\ud800nke"}}
    inbound = to_inbound(source, "!dm:example.org", NOW)
    assert inbound is not None and inbound.text == f"Mehr B{REPLACEMENT}nke"
