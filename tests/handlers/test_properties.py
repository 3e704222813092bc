"""Properties over generated surveys and random conversations: payloads fit Telegram's 64 bytes, messages fit
4096 characters, every citizen event is answered, and the state always survives JSON."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from handlers.events import MAX_CALLBACK_BYTES, ExportData, InboundKind
from handlers.turn import MAX_TEXT
from surveys.schema import Survey
from tests.handlers.chat import Chat, catalog_of
from tests.handlers.sample import sample_survey

ID_CHARS = string.ascii_lowercase + string.digits + "_-"


def ids(max_size: int) -> st.SearchStrategy[str]:
    # Mostly the longest ids allowed: those are the ones that could overflow a payload.
    head = st.sampled_from(string.ascii_lowercase + string.digits)
    tail = st.one_of(st.just(max_size - 1), st.integers(0, max_size - 1)).flatmap(
        lambda n: st.text(ID_CHARS, min_size=n, max_size=n)
    )
    return st.builds(lambda h, t: h + t, head, tail)


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=300).filter(
    lambda s: s.strip() != ""
)


@st.composite
def questions(draw: st.DrawFn, question_id: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["single_choice", "multiple_choice", "scale", "yes_no", "free_text", "number"]))
    question: dict[str, Any] = {"id": question_id, "type": kind, "text": draw(texts), "required": draw(st.booleans())}
    if kind in ("single_choice", "multiple_choice"):
        option_ids = draw(st.lists(ids(24), min_size=2, max_size=12, unique=True))
        question["options"] = [{"id": o, "text": draw(texts)} for o in option_ids]
    if kind == "scale":
        low = draw(st.integers(0, 9))
        question["scale"] = {"min": low, "max": draw(st.integers(low + 1, 10))}
    return question


@st.composite
def surveys(draw: st.DrawFn) -> Survey:
    question_ids = draw(st.lists(ids(24), min_size=1, max_size=5, unique=True))
    return Survey.model_validate(
        {
            "id": draw(ids(40)),
            "title": draw(texts),
            "description": draw(texts),
            "questions": [draw(questions(qid)) for qid in question_ids],
        }
    )


def check_decision(chat: Chat) -> None:
    decision = chat.last
    for message in decision.messages:
        assert len(message.text) <= MAX_TEXT
        assert message.text.strip()
        for button in message.all_buttons():
            assert len(button.payload.encode()) <= MAX_CALLBACK_BYTES


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(survey=surveys(), choices=st.lists(st.integers(0, 20), min_size=30, max_size=30))
def test_any_survey_can_be_taken_by_pressing_buttons_with_payloads_within_64_bytes(
    survey: Survey, choices: list[int]
) -> None:
    chat = Chat(catalog_of(survey))
    chat.agree()
    chat.command("umfragen")
    chat.press(f"s:{survey.id}")
    check_decision(chat)
    for choice in choices:
        progress = chat.data["survey"]
        if progress is None:
            break
        question = survey.question(progress["current"])
        assert question is not None
        buttons = chat.last_buttons()
        if any(b.payload.split(":")[1:2] == [question.id] for b in buttons):
            chat.press(buttons[choice % len(buttons)].payload)
        else:  # a required free-text or number question: no buttons to press
            chat.say("12")
        check_decision(chat)
        assert chat.last.messages
    assert chat.only_response().complete == (chat.data["survey"] is None)
    event(f"completed: {chat.only_response().complete}")


COMMANDS = [
    "start",
    "hilfe",
    "sprache",
    "menu",
    "umfragen",
    "weiter",
    "zurueck",
    "ueberspringen",
    "abbrechen",
    "idee",
    "meinedaten",
    "loeschen",
    "datenschutz",
    "unbekannt",
]
TYPED = ["1", "2", "3", "7", "ja", "nein", "Fahrrad", "1, 3", "25", "Überspringen", "Fertig", "Mehr Bänke", "hallo"]

actions = st.one_of(
    st.tuples(st.just("say"), st.sampled_from(TYPED)),
    st.tuples(st.just("command"), st.sampled_from(COMMANDS)),
    st.tuples(st.just("press"), st.integers(0, 20)),
    st.tuples(st.just("stale"), st.integers(0, 200)),
    st.tuples(st.just("media"), st.just("")),
    st.tuples(st.just("edited"), st.just("")),
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(actions, min_size=1, max_size=25))
def test_every_citizen_event_gets_an_answer_and_the_state_stays_json(steps: list[tuple[str, Any]]) -> None:
    chat = Chat(catalog_of(sample_survey()))  # Chat round-trips the state through JSON after every event
    seen_payloads: list[tuple[str, str]] = []
    for kind, value in steps:
        if kind == "say":
            chat.say(value)
        elif kind == "command":
            chat.command(value)
        elif kind == "press" and any(m.buttons for m in chat.messages.values()):
            chat.press(chat.last_buttons()[value % len(chat.last_buttons())].payload)
        elif kind == "stale" and seen_payloads:
            ref, payload = seen_payloads[value % len(seen_payloads)]
            chat.press(payload, ref=ref)
        elif kind == "media":
            chat.event(InboundKind.MEDIA, media="sticker")
        elif kind == "edited":
            chat.event(InboundKind.EDITED, text="Bus")
        else:
            continue
        check_decision(chat)
        assert chat.last.messages or chat.last.effects == (ExportData(),)
        for ref, message in chat.messages.items():
            seen_payloads += [(ref, b.payload) for b in message.all_buttons()]
        seen_payloads = seen_payloads[-300:]
        if chat.store.responses:
            # Stored answers always match the answers the dialogue keeps for the unfinished response.
            survey = chat.data.get("survey")
            if survey is not None and survey["response_id"] in chat.store.responses:
                assert chat.store.responses[survey["response_id"]].answers == survey["answers"]
