"""The building blocks: typed flow data, typed stand-ins for buttons, long messages."""

from __future__ import annotations

import json

from handlers.events import Button, Decision, FieldScores, Outbound
from handlers.state import DialogueData, FieldView, FloodBucket, Flow, IdeaDraft, Offered, SurveyProgress
from handlers.turn import MAX_TEXT, split_long, with_lead
from tests.handlers.chat import Chat, catalog_of
from tests.handlers.sample import sample_survey


def test_flow_data_survives_json_unchanged() -> None:
    data = DialogueData(
        offered=Offered((("a:q:1", "Eins"), ("k:q", "Überspringen"))),
        survey=SurveyProgress("r1", "umfrage", 2, "q", {"x": ["a", "b"], "y": None, "z": 2.5, "w": True}, ("a",)),
        idea=IdeaDraft(
            "Mehr Grün", FieldScores({"umwelt": 0.7, "mobilitaet": 0.3}, False, "m1"), FieldView.LIKELY, ("umwelt",)
        ),
        completed=("alt",),
        flood=FloodBucket((1.5, 2.5), noticed=True),
    )
    assert DialogueData.from_dict(json.loads(json.dumps(data.to_dict()))) == data


def test_empty_or_foreign_state_is_read_with_defaults() -> None:
    assert DialogueData.from_dict({}) == DialogueData()
    assert Flow.of("something_from_a_newer_bot", consented=True) is Flow.MENU
    assert Flow.of("something_from_a_newer_bot", consented=False) is Flow.NEW


def test_typed_numbers_and_labels_pick_offered_buttons() -> None:
    offered = Offered((("m:surveys", "Umfragen"), ("m:idea", "Idee einreichen"), ("t:q:a", "✓ Größe")))
    assert offered.match("2") == "m:idea"
    assert offered.match(" 2. ") == "m:idea"
    assert offered.match("Nr. 1") == "m:surveys"
    assert offered.match("idee EINREICHEN") == "m:idea"
    assert offered.match("groesse") == "t:q:a"
    assert offered.match("4") is None
    assert offered.match("0") is None
    assert offered.match("Umfrage") is None


def test_a_number_label_wins_over_the_position() -> None:
    offered = Offered((("a:q:0", "0"), ("a:q:1", "1"), ("a:q:2", "2")))
    assert offered.match("1") == "a:q:1"


def test_long_messages_are_split_with_buttons_on_the_last_part() -> None:
    text = "\n\n".join(f"Absatz {n}: " + "x" * 900 for n in range(10))
    button = Button("m:help", "Hilfe")
    parts = split_long([Outbound(text=text, buttons=((button,),), question=True, replaces="m7")])
    assert len(parts) == 3
    assert all(len(p.text) <= MAX_TEXT for p in parts)
    assert [p.buttons for p in parts] == [(), (), ((button,),)]
    assert [p.replaces for p in parts] == ["m7", None, None]
    assert [p.question for p in parts] == [False, False, True]
    assert "".join(p.text for p in parts).replace("\n", "") == text.replace("\n", "")


def test_a_text_without_breaks_is_split_hard() -> None:
    parts = split_long([Outbound(text="y" * (MAX_TEXT * 2 + 5))])
    assert [len(p.text) for p in parts] == [MAX_TEXT, MAX_TEXT, 5]


def test_lead_joins_the_first_message_unless_that_one_edits() -> None:
    decision = Decision(state=Chat(catalog_of(sample_survey())).state, messages=(Outbound("Frage"),))
    assert [m.text for m in with_lead(decision, "Hinweis").messages] == ["Hinweis\n\nFrage"]
    editing = Decision(state=decision.state, messages=(Outbound("Frage", replaces="m1"),))
    assert [m.text for m in with_lead(editing, "Hinweis").messages] == ["Hinweis", "Frage"]
