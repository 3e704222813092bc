"""Citizen-confirmed classification: the classifier proposes a strategy field, the citizen decides.

The runtime hands the core `Inbound.classification`; these tests attach it to the text event the way the
runtime would, and check what the citizen sees and what is stored.
"""

from __future__ import annotations

import json

import pytest

from handlers.events import FieldScores, SaveIdea
from handlers.state import DialogueData, Flow
from tests.handlers.chat import Chat, catalog_of, fields
from tests.handlers.sample import sample_survey

FIELD_LABELS = [f.label("de") for f in fields()]
MENU = ["Umfragen", "Idee einreichen", "Meine Daten", "Hilfe"]
TRAINING_QUESTION = "Dürfen wir den Text Ihrer Idee"


def scores(confident: bool, **by_field: float) -> FieldScores:
    """Scores for all six fields: the named ones as given, the rest share what is left equally."""
    rest = [f.key for f in fields() if f.key not in by_field]
    left = (1.0 - sum(by_field.values())) / len(rest) if rest else 0.0
    return FieldScores({**{key: left for key in rest}, **by_field}, confident, "test-model-1")


CONFIDENT = scores(True, mobilitaet=0.86, umwelt=0.06)
CLEAR_TOP_TWO = scores(False, umwelt=0.5, leben=0.35)  # 0.85 together: two buttons are enough
SPREAD = scores(False, wirtschaft=0.4, verwaltung=0.25, leben=0.2)  # 0.65 together: the third is offered


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(sample_survey()))
    chat.agree()
    return chat


def test_confident_classification_is_proposed_and_yes_saves_it_with_the_scores(chat: Chat) -> None:
    chat.command("idee")
    chat.say("Ein Radweg entlang der Talachse", classification=CONFIDENT)
    assert chat.text == (
        "• Smarte Mobilität: Bus, Schwebebahn und Bahn, Radverkehr und Fußwege, Parken, Straßen und Verkehrsfluss …"
        "\n\nDas klingt nach „Smarte Mobilität“ – stimmt das?"
    )  # what the field means, then the question
    assert chat.labels() == ["Ja", "Anderes Feld", "Mehrere Felder"]
    assert chat.store.ideas == []
    chat.press("fc:yes")
    (idea,) = chat.store.ideas
    assert idea == SaveIdea(
        idea_id=idea.idea_id,
        text="Ein Radweg entlang der Talachse",
        field="mobilitaet",
        fields=("mobilitaet",),
        classification=CONFIDENT,
    )
    assert "Handlungsfeld ✓ Smarte Mobilität" in chat.text
    assert "Vielen Dank für Ihre Idee" in chat.text


def test_idea_after_the_command_is_proposed_from_the_classified_args(chat: Chat) -> None:
    chat.command("idee", "Ein Radweg entlang der Talachse", classification=CONFIDENT)
    assert "„Smarte Mobilität“" in chat.text
    chat.say("ja")  # typing the button's label works as well
    assert chat.store.ideas[0].field == "mobilitaet"


def test_unsure_classification_offers_the_two_likeliest_fields(chat: Chat) -> None:
    chat.command("idee", "Mehr Bäume und Bänke im Park", classification=CLEAR_TOP_TWO)
    assert chat.text.endswith("\n\nZu welchem Handlungsfeld passt Ihre Idee? Am ehesten:")
    assert [line.split(":")[0] for line in chat.text.split("\n")[:2]] == ["• Smarte Umwelt", "• Smartes Leben"]
    assert chat.labels() == ["Smarte Umwelt", "Smartes Leben", "Anderes Feld", "Mehrere Felder"]
    chat.press("f:leben")
    (idea,) = chat.store.ideas
    assert (idea.field, idea.fields, idea.classification) == ("leben", ("leben",), CLEAR_TOP_TWO)


def test_a_third_field_is_offered_when_the_top_two_leave_much_open(chat: Chat) -> None:
    chat.command("idee", "Ein digitales Gründerzentrum", classification=SPREAD)
    assert chat.labels() == [
        "Smarte Wirtschaft",
        "Smarte Verwaltung",
        "Smartes Leben",
        "Anderes Feld",
        "Mehrere Felder",
    ]


def test_another_field_shows_all_six_in_the_same_message(chat: Chat) -> None:
    chat.command("idee", "Ein Radweg entlang der Talachse", classification=CONFIDENT)
    ref = chat.press("fc:other").messages[0].replaces
    assert ref is not None and chat.messages[ref].text.endswith("Zu welchem Handlungsfeld passt Ihre Idee am besten?")
    assert chat.messages[ref].text.count("\n• ") == 5  # one line per field (six) says what belongs there
    assert chat.labels() == [*FIELD_LABELS, "Weiß nicht"]
    chat.press("f:umwelt")
    (idea,) = chat.store.ideas
    assert (idea.field, idea.classification) == ("umwelt", CONFIDENT)
    # the correction took: the thanks name the field stored, not the one proposed
    assert "im Handlungsfeld „Smarte Umwelt“" in chat.text and "Mobilität" not in chat.text


def test_several_fields_are_ticked_in_place_and_saved_in_the_order_ticked(chat: Chat) -> None:
    chat.command("idee", "Sensoren messen die Luft an Haltestellen", classification=CLEAR_TOP_TWO)
    ref = chat.press("fc:multi").messages[0].replaces
    assert chat.flow == Flow.IDEA_FIELDS
    assert chat.labels() == [*FIELD_LABELS, "Fertig"]
    chat.press("ft:umwelt")
    chat.press("ft:verwaltung")
    chat.press("ft:mobilitaet")
    chat.press("ft:verwaltung")  # untick
    assert chat.last.messages[0].replaces == ref
    assert [label for label in chat.labels() if label.startswith("✓ ")] == ["✓ Smarte Mobilität", "✓ Smarte Umwelt"]
    assert chat.store.ideas == []
    chat.press("fd")
    (idea,) = chat.store.ideas
    assert (idea.field, idea.fields, idea.classification) == ("umwelt", ("umwelt", "mobilitaet"), CLEAR_TOP_TWO)
    assert "Smarte Umwelt, Smarte Mobilität" in chat.text


def test_several_fields_need_at_least_one(chat: Chat) -> None:
    chat.command("idee", "Mehr Grün", classification=CONFIDENT)
    chat.press("fc:multi")
    chat.say("Fertig")
    assert "mindestens ein Handlungsfeld" in chat.text
    assert chat.store.ideas == [] and chat.flow == Flow.IDEA_FIELDS
    chat.say("4")  # typed numbers tick as well
    chat.press("fd")
    assert chat.store.ideas[0].fields == ("umwelt",)


def test_without_a_classification_all_six_fields_are_offered_as_before(chat: Chat) -> None:
    chat.command("idee", "Mehr Trinkbrunnen")
    assert chat.labels() == [*FIELD_LABELS, "Weiß nicht"]
    chat.press("f:-")
    (idea,) = chat.store.ideas
    assert (idea.field, idea.fields, idea.classification) == (None, (), None)


def test_scores_for_another_taxonomy_fall_back_to_all_fields(chat: Chat) -> None:
    foreign = FieldScores({"parks": 0.9, "roads": 0.1}, True, "other-city")
    chat.command("idee", "Mehr Grün", classification=foreign)
    assert chat.labels() == [*FIELD_LABELS, "Weiß nicht"]


def test_classification_survives_the_json_round_trip_between_text_and_button(chat: Chat) -> None:
    chat.command("idee", "Ein Radweg entlang der Talachse", classification=CONFIDENT)
    stored = json.loads(json.dumps(chat.state.data))
    draft = DialogueData.from_dict(stored).idea
    assert draft is not None and draft.classification == CONFIDENT
    chat.press("fc:yes")
    assert chat.store.ideas[0].classification == CONFIDENT


def test_double_tap_on_yes_saves_the_idea_once(chat: Chat) -> None:
    chat.command("idee", "Ein Radweg entlang der Talachse", classification=CONFIDENT)
    ref = chat.press("fc:yes").messages[0].replaces
    chat.press("fc:yes", ref=ref)
    assert len(chat.store.ideas) == 1
    assert "früheren Nachricht" in chat.text


def test_training_consent_is_asked_once_after_the_first_idea_with_a_field(chat: Chat) -> None:
    assert chat.state.training_consent is None
    chat.command("idee", "Ein Radweg entlang der Talachse", classification=CONFIDENT)
    chat.press("fc:yes")
    assert TRAINING_QUESTION not in chat.text and chat.flow == Flow.IDEA_PUBLISH  # first: may others see it?
    chat.publish("no")
    assert TRAINING_QUESTION in chat.text and "freiwillig" in chat.text
    assert chat.labels() == ["Ja, gern", "Nein"]
    chat.press("tc:yes")
    assert chat.state.training_consent is True
    assert "/training" in chat.text and chat.menu_labels() == MENU and chat.flow == Flow.MENU
    # The question about news on the idea waited for this turn: never two questions in one.
    assert chat.text.endswith("Neuigkeiten zu Ihren Ideen gibt?")

    chat.command("idee", "Mehr Bäume im Park", classification=CLEAR_TOP_TWO)
    chat.press("f:umwelt")
    chat.publish("yes")
    assert TRAINING_QUESTION not in chat.text
    assert chat.menu_labels() == MENU and len(chat.store.ideas) == 2


def test_training_consent_is_not_asked_for_an_idea_without_a_field(chat: Chat) -> None:
    chat.command("idee", "Irgendwas")
    chat.press("f:-")
    chat.publish("no")
    assert TRAINING_QUESTION not in chat.text and chat.menu_labels() == MENU
    chat.command("idee", "Ein Radweg", classification=CONFIDENT)
    chat.press("fc:yes")
    chat.publish("no")
    assert TRAINING_QUESTION in chat.text


def test_training_question_can_be_answered_by_typing_or_left_for_later(chat: Chat) -> None:
    chat.command("idee", "Ein Radweg", classification=CONFIDENT)
    chat.press("fc:yes")
    chat.say("nein")  # the publication question, answered by typing
    assert chat.store.publications[-1].consent == "no"
    chat.say("Was heißt das?")
    assert TRAINING_QUESTION in chat.text and chat.state.training_consent is None
    chat.command("abbrechen")
    assert chat.state.training_consent is None and chat.flow == Flow.MENU
    chat.press("tc:yes")
    assert chat.state.training_consent is None  # the old question's button is stale
    chat.command("idee", "Noch ein Radweg", classification=CONFIDENT)
    chat.press("fc:yes")
    chat.command("abbrechen")  # the publication question left open: nothing published, on to training
    assert chat.store.publications[-1].idea_id != chat.store.ideas[-1].idea_id
    chat.say("nein")
    assert chat.state.training_consent is False
    assert "nicht verwendet" in chat.text


def test_training_command_switches_the_setting_and_says_it(chat: Chat) -> None:
    chat.command("training")
    assert chat.state.training_consent is True
    assert "dürfen" in chat.text and "/training" in chat.text
    chat.command("training")
    assert chat.state.training_consent is False
    assert "nicht verwendet" in chat.text


def test_help_mentions_the_training_command(chat: Chat) -> None:
    chat.command("hilfe")
    assert "/training" in chat.text


def test_free_text_survey_answers_carry_the_classification_silently(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.say("25", classification=CONFIDENT)  # a number question: nothing to classify
    shown_before = chat.text
    chat.say("Mehr Busse am Abend", classification=CONFIDENT)
    response_id = next(iter(chat.store.responses))
    assert chat.store.answer_classifications[(response_id, "wunsch")] == CONFIDENT
    assert chat.store.answer_classifications[(response_id, "minuten")] is None
    assert chat.only_response().answers["wunsch"] == "Mehr Busse am Abend"
    assert "Mobilität" not in chat.text and "Mobilität" not in shown_before


def test_proposal_in_english() -> None:
    chat = Chat(catalog_of(sample_survey()), language_hint="en")
    chat.agree()
    chat.command("idea", "A cycle path along the valley", classification=CONFIDENT)
    assert chat.text.endswith("\n\nThat sounds like “Smart mobility” – is that right?")
    assert chat.text.startswith("• Smart mobility: buses, the suspension railway")
    assert chat.labels() == ["Yes", "Another field", "Several fields"]
    chat.press("fc:yes")
    assert chat.labels() == ["Yes, show it", "Yes, permanently", "No, only for the city"]
    chat.publish("keep")
    assert chat.labels() == ["Yes, gladly", "No"]
