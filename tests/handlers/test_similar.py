"""Similar published ideas while an idea is written, the publication question, and the board's buttons (core only;
the runtime's search, support and rendering are tested in tests/bot and tests/e2e)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.events import (
    IDEA_BROWSE,
    IDEA_NEWS_OFF,
    IDEA_NEWS_ON,
    IDEA_SUPPORT,
    IDEA_UNSUPPORT,
    IDEA_WITHDRAW,
    FindSimilar,
    IdeaRequest,
    SetPublication,
    SimilarIdea,
)
from handlers.state import Flow
from tests.handlers.chat import Chat, catalog_of
from tests.handlers.sample import sample_survey
from tests.handlers.test_idea_classification import CONFIDENT

BENCHES = SimilarIdea("a" * 32, "Mehr Sitzbänke an der Nordbahntrasse", "leben", 12, "review")
BENCH_PARK = SimilarIdea("b" * 32, "Bänke im Mirker Park", None, 1, "new")
OWN_SUPPORT = SimilarIdea("c" * 32, "Sitzbänke an Haltestellen", "mobilitaet", 0, "planned", supported=True)
IDEA = "Bitte mehr Bänke auf der Trasse"


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(sample_survey()), similar_search=True)
    chat.agree()
    return chat


def test_the_idea_text_asks_for_a_search_and_waits_silently(chat: Chat) -> None:
    chat.command("idee", IDEA, classification=CONFIDENT)
    assert chat.last.messages == ()
    assert chat.flow == Flow.IDEA_SEARCH
    (search,) = [effect for effect in chat.last.effects if isinstance(effect, FindSimilar)]
    assert search.text == IDEA and search.draft_id == chat.data["idea"]["id"]
    assert not chat.store.ideas


def test_no_match_goes_on_to_the_field_question_and_the_embedding_is_stored_with_the_idea(chat: Chat) -> None:
    chat.command("idee", IDEA, classification=CONFIDENT)
    chat.similar(vector="AAAAAA==")
    assert chat.flow == Flow.IDEA_FIELD and "Smarte Mobilität" in chat.text
    chat.press("fc:yes")
    (idea,) = chat.store.ideas
    assert idea.text == IDEA and idea.embedding == "AAAAAA==" and idea.embedding_model == "test-embedder"
    assert "Smarte Mobilität" in chat.text and chat.flow == Flow.IDEA_PUBLISH


def test_a_failed_embedding_files_the_idea_without_one(chat: Chat) -> None:
    chat.say("Wir brauchen mehr Bänke")  # typed at the menu is not an idea
    chat.command("idee")
    chat.say(IDEA)
    chat.similar(vector=None)
    chat.press("f:-")
    assert chat.store.ideas[-1].embedding is None and chat.store.ideas[-1].embedding_model is None


def test_matches_are_shown_in_one_message_with_a_support_button_each(chat: Chat) -> None:
    chat.command("idee", IDEA)
    chat.similar(BENCHES, BENCH_PARK)
    assert chat.flow == Flow.IDEA_SIMILAR
    assert len(chat.last.messages) == 1
    text = chat.text
    assert "„Mehr Sitzbänke an der Nordbahntrasse“" in text and "12 Personen unterstützen sie" in text
    assert "in Prüfung" in text and "Leben" in text
    assert "„Bänke im Mirker Park“" in text and "1 Person unterstützt sie" in text and "ohne Handlungsfeld" in text
    assert text.endswith("\n\nMeint eine davon dasselbe wie Ihre Idee?")  # the question comes last (Matrix poll)
    assert chat.labels() == ["Unterstützen: 1", "Unterstützen: 2", "Meine Idee ist anders"]


def test_support_files_nothing_and_asks_the_runtime_to_record_it(chat: Chat) -> None:
    chat.command("idee", IDEA)
    chat.similar(BENCHES, BENCH_PARK)
    chat.press_label("Unterstützen: 2")
    draft = chat.store.searches[-1].draft_id
    assert chat.store.idea_requests == [IdeaRequest(IDEA_SUPPORT, BENCH_PARK.id, source="similar", draft=draft)]
    assert chat.store.ideas == [] and chat.data["idea"] is None and chat.flow == Flow.MENU
    edited = chat.last.messages[0]
    assert edited.replaces is not None and edited.text.endswith("✓ Unterstützen: 2") and not edited.buttons


def test_typing_the_number_supports_too(chat: Chat) -> None:
    chat.command("idee", IDEA)
    chat.similar(BENCHES)
    chat.say("1")
    draft = chat.store.searches[-1].draft_id
    assert chat.store.idea_requests == [IdeaRequest(IDEA_SUPPORT, BENCHES.id, source="similar", draft=draft)]


def test_my_idea_is_different_files_it_as_usual(chat: Chat) -> None:
    chat.command("idee", IDEA, classification=CONFIDENT)
    chat.similar(BENCHES)
    chat.press_label("Meine Idee ist anders")
    assert chat.flow == Flow.IDEA_FIELD and "Smarte Mobilität" in chat.text
    chat.press("fc:yes")
    assert [idea.text for idea in chat.store.ideas] == [IDEA] and chat.store.idea_requests == []


def test_an_idea_the_citizen_already_supports_says_so_and_numbers_stay_the_list_numbers(chat: Chat) -> None:
    chat.command("idee", IDEA)
    chat.similar(OWN_SUPPORT, BENCHES)
    assert "Sie unterstützen sie schon" in chat.text
    assert chat.labels() == ["Schon unterstützt: 1", "Unterstützen: 2", "Meine Idee ist anders"]
    chat.say("1")  # the first idea, which they support already: said, nothing recorded, still choosing
    assert chat.store.idea_requests == [] and "unterstützen Sie schon" in chat.text
    assert chat.flow == Flow.IDEA_SIMILAR
    chat.say("2")
    draft = chat.store.searches[-1].draft_id
    assert chat.store.idea_requests == [IdeaRequest(IDEA_SUPPORT, BENCHES.id, source="similar", draft=draft)]


def test_a_support_that_fails_can_still_file_the_idea_set_aside(chat: Chat) -> None:
    """The runtime answers a support of an idea that left the board with "Meine Idee einreichen" (`sd:<draft>`)."""
    chat.command("idee", IDEA, classification=CONFIDENT)
    chat.similar(BENCHES)
    draft = chat.store.searches[-1].draft_id
    chat.press_label("Unterstützen: 1")
    assert chat.data["idea"] is None and chat.data["parked"]["id"] == draft
    chat.press(f"sd:{draft}", ref="m1")  # the runtime's answer carried this button
    assert chat.flow == Flow.IDEA_FIELD and chat.data["idea"]["text"] == IDEA and chat.data["parked"] is None
    chat.press("fc:yes")
    assert [idea.text for idea in chat.store.ideas] == [IDEA]


def test_the_draft_set_aside_lives_one_turn_only(chat: Chat) -> None:
    chat.command("idee", IDEA)
    chat.similar(BENCHES)
    draft = chat.store.searches[-1].draft_id
    chat.press_label("Unterstützen: 1")
    chat.command("menu")
    assert chat.data["parked"] is None
    chat.press(f"sd:{draft}", ref="m1")
    assert chat.store.ideas == [] and chat.data["idea"] is None and "früheren Nachricht" in chat.text


def test_long_public_texts_are_shortened_in_the_list(chat: Chat) -> None:
    long = SimilarIdea("d" * 32, "Bänke " * 200, "leben", 3, "new")
    chat.command("idee", IDEA)
    chat.similar(long)
    assert len(chat.text) < 900 and "…" in chat.text


def test_a_result_for_another_draft_or_after_moving_on_changes_nothing(chat: Chat) -> None:
    chat.command("idee", IDEA)
    before = chat.state
    chat.similar(BENCHES, draft_id="someother")
    assert chat.last.messages == () and chat.state == before
    chat.command("abbrechen")
    chat.similar(BENCHES, draft_id=chat.store.searches[-1].draft_id)
    assert chat.last.messages == () and chat.flow == Flow.MENU


def test_typing_while_the_search_runs_waits_then_goes_on_without_it(chat: Chat) -> None:
    chat.step = timedelta(seconds=2)
    chat.command("idee", IDEA)
    chat.say("Hallo?")
    assert "Einen Moment" in chat.text and chat.flow == Flow.IDEA_SEARCH
    chat.now += timedelta(seconds=30)
    chat.say("Hallo?")
    assert chat.flow == Flow.IDEA_FIELD
    chat.similar(BENCHES)  # too late: the citizen has moved on
    assert chat.last.messages == () and chat.flow == Flow.IDEA_FIELD


def test_without_a_search_the_field_question_comes_at_once() -> None:
    chat = Chat(catalog_of(sample_survey()), similar_search=False)
    chat.agree()
    chat.command("idee", IDEA)
    assert chat.flow == Flow.IDEA_FIELD and chat.store.searches == []


def test_english_similar_list() -> None:
    chat = Chat(catalog_of(sample_survey()), language_hint="en", similar_search=True)
    chat.agree()
    chat.command("idea", "More benches please")
    chat.similar(BENCHES)
    assert "12 people support it" in chat.text and chat.labels() == ["Support: 1", "My idea is different"]


# ----------------------------------------------------------------------------------------- publication question


def test_the_publication_answer_is_recorded_then_the_dialogue_goes_on(chat: Chat) -> None:
    chat.command("idee", IDEA)
    chat.similar()
    chat.press("f:leben")
    idea_id = chat.store.ideas[-1].idea_id
    assert chat.labels() == ["Ja, zeigen", "Ja, dauerhaft", "Nein, nur für die Stadt"]
    chat.press_label("Ja, dauerhaft")
    assert chat.store.publications == [SetPublication(idea_id, "keep")]
    assert "prüft den Text" in chat.text and chat.flow == Flow.TRAINING_CONSENT


def test_a_publication_button_of_an_older_idea_still_counts_without_moving_the_citizen(chat: Chat) -> None:
    chat.command("idee", IDEA)
    chat.similar()
    chat.press("f:-")
    first = chat.store.ideas[-1].idea_id
    old_message = next(ref for ref, message in chat.messages.items() if "ohne Ihren Namen" in message.text)
    chat.command("abbrechen")
    chat.command("umfragen")
    chat.press(f"pb:yes:{first}", ref=old_message)
    assert chat.store.publications == [SetPublication(first, "yes")]
    assert chat.flow == Flow.SURVEY_LIST


def test_forged_publication_payloads_are_stale(chat: Chat) -> None:
    chat.press("pb:maybe:abc", ref="m1")
    chat.press("pb:yes:../../x", ref="m1")
    assert chat.store.publications == []


# ------------------------------------------------------------------------------------------------------- board


def test_ideas_command_and_board_buttons_become_requests(chat: Chat) -> None:
    chat.command("ideen")
    chat.command("ideas", "Smarte Mobilität")
    chat.command("ideen", "umwelt")
    idea = "e" * 32
    for payload in ("ib:-:0", "ib:leben:2", f"iu:{idea}", f"ix:{idea}", f"in:{idea}:1", f"in:{idea}:0", f"iw:{idea}",
                    f"iw:{idea}:yes", "ib:_:0"):  # fmt: skip
        chat.press(payload, ref="m1")
    assert chat.store.idea_requests == [
        IdeaRequest(IDEA_BROWSE, ""),
        IdeaRequest(IDEA_BROWSE, "mobilitaet"),
        IdeaRequest(IDEA_BROWSE, "umwelt"),
        IdeaRequest(IDEA_BROWSE, "", page=0),
        IdeaRequest(IDEA_BROWSE, "leben", page=2),
        IdeaRequest(IDEA_SUPPORT, idea, source="board"),
        IdeaRequest(IDEA_UNSUPPORT, idea),
        IdeaRequest(IDEA_NEWS_ON, idea),
        IdeaRequest(IDEA_NEWS_OFF, idea),
        IdeaRequest(IDEA_WITHDRAW, idea),
        IdeaRequest(IDEA_WITHDRAW, idea, source="yes"),
        IdeaRequest(IDEA_BROWSE, "_"),
    ]
    assert all(decision.messages == () for decision in chat.decisions[-12:])  # the runtime answers


def test_malformed_board_buttons_are_stale_and_ask_nothing(chat: Chat) -> None:
    for payload in ("ib:nofield:0", "ib:leben:x", "ib:leben:١", "ib:leben:1000", "iu:", "iu:a/b", "in:abc:2", "iw:",
                    "iw:abc:no"):  # fmt: skip
        chat.press(payload, ref="m1")
    assert chat.store.idea_requests == []


def test_a_board_request_mid_survey_keeps_the_survey_step(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.command("ideen")
    assert chat.flow == Flow.SURVEY and chat.store.idea_requests == [IdeaRequest(IDEA_BROWSE, "")]
