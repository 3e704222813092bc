"""The idea board on SQLite and PostgreSQL: support once and withdraw it, never one's own or an unpublished idea,
a supporter's status news (opt-in, public text only), /ideen by field with paging and empty states."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.app import field_infos
from bot.config import Config
from bot.ideaboard import store
from bot.ideaboard.board import IdeaBoard
from bot.staffdesk.idea_status import set_idea_status
from bot.storage import models as m
from bot.storage.db import Database
from handlers.events import (
    IDEA_BROWSE,
    IDEA_NEWS_OFF,
    IDEA_NEWS_ON,
    IDEA_STATUS_KIND,
    IDEA_SUPPORT,
    IDEA_UNSUPPORT,
    IDEA_WITHDRAW,
    PUBLICATION_APPROVED,
    PUBLICATION_PENDING,
    IdeaRequest,
    Outbound,
)
from handlers.staff_render import render_idea_news
from handlers.texts import load_texts
from tests.bot.conftest import RuntimeFactory
from tests.bot.ideaboard_helpers import NOW, add_citizen, citizen_of

TEXTS = load_texts()
FIELDS = field_infos()
PRIVATE = "Bitte eine Bank an der Haltestelle vor Hausnummer 12, ich heiße Erika Muster"
PUBLIC = "Eine Sitzbank an der Bushaltestelle"


@pytest.fixture
def board(config: Config) -> IdeaBoard:
    return IdeaBoard(config, TEXTS, FIELDS)


def file(database: Database, user: str, *, published: bool = True, field: str | None = "mobilitaet",
         text: str = PRIVATE, public: str = PUBLIC, at: datetime = NOW) -> str:  # fmt: skip
    idea_id = uuid.uuid4().hex
    with database.unit_of_work() as uow:
        citizen = add_citizen(uow, user)
        uow.ideas.add(idea_id, citizen, text, field, at)
        uow.session.execute(update(m.Idea).where(m.Idea.id == idea_id).values(
            publication=PUBLICATION_APPROVED if published else PUBLICATION_PENDING,
            public_text=public if published else None, publication_at=at,
        ))  # fmt: skip
    return idea_id


def ask(database: Database, board: IdeaBoard, user: str, action: str, target: str = "", page: int = 0,
        source: str = "board", lang: str = "de") -> tuple[Outbound, ...]:  # fmt: skip
    with database.unit_of_work() as uow:
        citizen = add_citizen(uow, user, lang)
        return board.handle(uow, IdeaRequest(action, target, page, source), citizen, lang, NOW)


def is_published(database: Database, idea_id: str) -> bool:
    with database.unit_of_work() as uow:
        return uow.session.execute(select(m.Idea.publication).where(m.Idea.id == idea_id)).scalar_one() == "approved"


def text_of(messages: tuple[Outbound, ...]) -> str:
    return "\n".join(message.text for message in messages)


def payloads(messages: tuple[Outbound, ...]) -> list[str]:
    return [button.payload for message in messages for button in message.all_buttons()]


def count(database: Database, idea_id: str) -> int:
    with database.unit_of_work() as uow:
        return store.supporters_count(uow, idea_id)


def test_a_citizen_supports_a_published_idea_once_and_is_asked_about_news(
    database: Database, board: IdeaBoard
) -> None:
    idea = file(database, "author")
    answer = ask(database, board, "fan", IDEA_SUPPORT, idea)
    assert "Danke" in text_of(answer) and "1 Person unterstützt sie" in text_of(answer)
    assert PUBLIC in text_of(answer) and "Erika" not in text_of(answer)
    assert payloads(answer) == [f"in:{idea}:1", f"in:{idea}:0"]
    again = ask(database, board, "fan", IDEA_SUPPORT, idea)  # a double tap
    assert "bereits" in text_of(again) and payloads(again) == [f"ix:{idea}"]
    assert count(database, idea) == 1
    ask(database, board, "second", IDEA_SUPPORT, idea)
    assert count(database, idea) == 2


def test_support_from_the_similar_message_says_the_idea_was_not_filed_twice(
    database: Database, board: IdeaBoard
) -> None:
    idea = file(database, "author")
    answer = text_of(ask(database, board, "fan", IDEA_SUPPORT, idea, source="similar"))
    assert "nicht noch einmal eingereicht" in answer
    english = text_of(ask(database, board, "fan2", IDEA_SUPPORT, idea, source="similar", lang="en"))
    assert "did not submit your own description a second time" in english and "2 people support it" in english


def test_support_can_be_withdrawn_and_given_again(database: Database, board: IdeaBoard) -> None:
    idea = file(database, "author")
    ask(database, board, "fan", IDEA_SUPPORT, idea)
    answer = text_of(ask(database, board, "fan", IDEA_UNSUPPORT, idea))
    assert "nicht mehr" in answer and "noch keine Unterstützung" in answer
    assert count(database, idea) == 0
    assert "nichts zurückzuziehen" in text_of(ask(database, board, "fan", IDEA_UNSUPPORT, idea))
    ask(database, board, "fan", IDEA_SUPPORT, idea)
    assert count(database, idea) == 1


def test_nobody_supports_their_own_or_an_unpublished_idea(database: Database, board: IdeaBoard) -> None:
    own = file(database, "author")
    assert "Ihre eigene Idee" in text_of(ask(database, board, "author", IDEA_SUPPORT, own))
    pending = file(database, "author", published=False)
    answer = ask(database, board, "fan", IDEA_SUPPORT, pending)
    assert "nicht (mehr) öffentlich" in text_of(answer) and PRIVATE not in text_of(answer)
    assert "nicht (mehr) öffentlich" in text_of(ask(database, board, "fan", IDEA_SUPPORT, uuid.uuid4().hex))
    assert "nicht (mehr) öffentlich" in text_of(ask(database, board, "fan", IDEA_SUPPORT, "not-an-id"))
    assert count(database, own) == count(database, pending) == 0


def test_a_support_of_a_merged_idea_goes_to_the_idea_it_was_merged_into(database: Database, board: IdeaBoard) -> None:
    into = file(database, "author", public="Mehr Sitzbänke an Haltestellen")
    merged = file(database, "author2")
    with database.unit_of_work() as uow:
        uow.session.execute(update(m.Idea).where(m.Idea.id == merged).values(merged_into=into, publication_at=NOW))
    answer = text_of(ask(database, board, "fan", IDEA_SUPPORT, merged))
    assert "Mehr Sitzbänke an Haltestellen" in answer
    assert (count(database, into), count(database, merged)) == (1, 0)


def test_news_on_switches_the_idea_news_opt_in_on_and_news_off_keeps_it(
    database: Database, board: IdeaBoard
) -> None:
    idea = file(database, "author")
    assert "unterstützen" in text_of(ask(database, board, "fan", IDEA_NEWS_ON, idea))  # not a supporter (yet)
    ask(database, board, "fan", IDEA_SUPPORT, idea)
    assert "Bescheid" in text_of(ask(database, board, "fan", IDEA_NEWS_ON, idea))
    with database.unit_of_work() as uow:
        assert store.support_of(uow, idea, citizen_of("fan")) is True
        assert "idea_news" in uow.opt_ins.current(citizen_of("fan"))
        sources = uow.session.execute(
            select(m.OptIn.source).where(m.OptIn.citizen_id == citizen_of("fan"), m.OptIn.topic == "idea_news")
        ).scalars().all()
    assert sources == ["support"]
    ask(database, board, "fan", IDEA_NEWS_ON, idea)  # again: the opt-in is not written twice
    assert "keine Neuigkeiten" in text_of(ask(database, board, "fan", IDEA_NEWS_OFF, idea))
    with database.unit_of_work() as uow:
        assert store.support_of(uow, idea, citizen_of("fan")) is False
        assert "idea_news" in uow.opt_ins.current(citizen_of("fan"))  # their own ideas' news stay on
        assert len(uow.opt_ins.history(citizen_of("fan"))) == 1


def news_rows(database: Database) -> list[m.FollowUp]:
    with database.unit_of_work() as uow:
        rows = uow.session.execute(
            select(m.FollowUp).where(m.FollowUp.kind == IDEA_STATUS_KIND).order_by(m.FollowUp.id)
        ).scalars().all()
        uow.session.expunge_all()
        return list(rows)


def test_supporters_who_asked_get_status_news_with_the_public_text_only(
    database: Database, board: IdeaBoard
) -> None:
    idea = file(database, "author")
    for user in ("fan", "quiet"):
        ask(database, board, user, IDEA_SUPPORT, idea)
    ask(database, board, "fan", IDEA_NEWS_ON, idea)
    with database.unit_of_work() as uow:
        set_idea_status(uow, idea, "review", None, None, now=NOW, source="cli", secret=b"s" * 16)
    rows = news_rows(database)
    by_citizen = {row.citizen_id: row for row in rows}
    assert set(by_citizen) == {citizen_of("author"), citizen_of("fan")}  # "quiet" did not ask for news
    supporter = by_citizen[citizen_of("fan")].payload
    assert supporter["supporter"] is True and supporter["excerpt"] == PUBLIC and "Erika" not in str(supporter)
    assert "Erika" in by_citizen[citizen_of("author")].payload["excerpt"]  # the author reads their own words
    message = render_idea_news(supporter, TEXTS, "de", NOW.tzinfo or UTC).text
    assert "Idee, die Sie unterstützen" in message and PUBLIC in message and "in Prüfung" in message
    with database.unit_of_work() as uow:  # a second change supersedes the supporter's unsent news, like the author's
        set_idea_status(uow, idea, "planned", None, None, now=NOW + timedelta(minutes=1), source="cli",
                        secret=b"s" * 16)  # fmt: skip
    pending = [row for row in news_rows(database) if row.citizen_id == citizen_of("fan") and row.status == "pending"]
    assert [row.payload["status"] for row in pending] == ["planned"]


def test_an_unpublished_idea_tells_its_supporters_nothing(database: Database, board: IdeaBoard) -> None:
    idea = file(database, "author")
    ask(database, board, "fan", IDEA_SUPPORT, idea)
    ask(database, board, "fan", IDEA_NEWS_ON, idea)
    with database.unit_of_work() as uow:  # the author withdrew the publication
        uow.session.execute(update(m.Idea).where(m.Idea.id == idea).values(publication="withdrawn",
                                                                           publication_at=NOW))  # fmt: skip
        set_idea_status(uow, idea, "review", None, None, now=NOW, source="cli", secret=b"s" * 16)
    assert [row.citizen_id for row in news_rows(database)] == [citizen_of("author")]


def test_the_board_lists_fields_then_one_field_most_supported_first_in_pages(
    database: Database, board: IdeaBoard
) -> None:
    ideas = [file(database, f"author{i}", public=f"Idee Nummer {i}", at=NOW + timedelta(minutes=i)) for i in range(7)]
    file(database, "author9", field="umwelt", public="Mehr Bäume")
    file(database, "author10", published=False)
    for fan in ("a", "b", "c"):
        ask(database, board, fan, IDEA_SUPPORT, ideas[2])
    ask(database, board, "a", IDEA_SUPPORT, ideas[5])

    overview = ask(database, board, "reader", IDEA_BROWSE)
    assert payloads(overview) == ["ib:mobilitaet:0", "ib:umwelt:0"]  # in the taxonomy's order
    assert "(8)" in text_of(overview) and ": 7" in text_of(overview) and ": 1" in text_of(overview)

    first = ask(database, board, "a", IDEA_BROWSE, "mobilitaet")
    shown = text_of(first)
    assert shown.index("Idee Nummer 2") < shown.index("Idee Nummer 5") < shown.index("Idee Nummer 6")
    assert "3 Personen unterstützen sie" in shown and "Seite 1 von 2" in shown
    assert f"ix:{ideas[2]}" in payloads(first) and f"iu:{ideas[6]}" in payloads(first)  # "a" supports no. 2
    assert "ib:mobilitaet:1" in payloads(first) and "ib:-:0" in payloads(first)
    second = ask(database, board, "a", IDEA_BROWSE, "mobilitaet", page=1)
    assert "Seite 2 von 2" in text_of(second) and text_of(second).count("Idee Nummer") == 2
    assert "ib:mobilitaet:0" in payloads(second) and "ib:mobilitaet:2" not in payloads(second)
    assert text_of(ask(database, board, "a", IDEA_BROWSE, "mobilitaet", page=9)) == text_of(second)  # stale button
    labels = [button.label for message in first for button in message.all_buttons()]
    assert len(labels) == len(set(labels))  # typed labels press exactly one button
    own = ask(database, board, "author0", IDEA_BROWSE, "mobilitaet", page=1)
    assert "Idee Nummer 0" not in text_of(own) and "Seite 2 von 2" in text_of(own)  # their own idea is not listed
    assert ": 6" in text_of(ask(database, board, "author0", IDEA_BROWSE))  # nor counted


def test_ideas_without_a_field_have_their_own_page(database: Database, board: IdeaBoard) -> None:
    loose = file(database, "author", field=None, public="Ein Bürgerfest für alle")
    overview = ask(database, board, "reader", IDEA_BROWSE)
    assert payloads(overview) == ["ib:_:0"] and "ohne Handlungsfeld" in text_of(overview)
    page = ask(database, board, "reader", IDEA_BROWSE, "_")
    assert "Ein Bürgerfest für alle" in text_of(page) and f"iu:{loose}" in payloads(page)


def test_empty_board_and_empty_field_say_what_to_do(database: Database, board: IdeaBoard) -> None:
    assert "/idee" in text_of(ask(database, board, "reader", IDEA_BROWSE))
    file(database, "author", published=False)
    assert "noch keine Ideen veröffentlicht" in text_of(ask(database, board, "reader", IDEA_BROWSE))
    answer = ask(database, board, "reader", IDEA_BROWSE, "umwelt")
    assert "keine Idee veröffentlicht" in text_of(answer) and payloads(answer) == ["ib:-:0"]
    english = text_of(ask(database, board, "reader", IDEA_BROWSE, lang="en"))
    assert "/idea" in english


def test_withdraw_is_handed_to_the_publication_side(database: Database, board: IdeaBoard) -> None:
    idea = file(database, "author")
    assert "nicht unter Ihren Ideen" in text_of(ask(database, board, "fan", IDEA_WITHDRAW, idea))  # only the author
    asked = ask(database, board, "author", IDEA_WITHDRAW, idea)  # asked first: one tap must not take it away
    assert payloads(asked) == [f"iw:{idea}:yes"] and text_of(asked).endswith("wirklich zurücknehmen?")
    assert is_published(database, idea)
    with database.unit_of_work() as uow:
        author = add_citizen(uow, "author")
        done = board.handle(uow, IdeaRequest(IDEA_WITHDRAW, idea, source="yes"), author, "de", NOW)
    assert "zurückgenommen" in text_of(done) and not is_published(database, idea)
    assert "nicht (mehr) öffentlich" in text_of(ask(database, board, "fan", IDEA_SUPPORT, idea))  # off the board


async def test_a_citizen_browses_and_supports_through_the_chat(database: Database, make_runtime: RuntimeFactory
                                                              ) -> None:  # fmt: skip
    from tests.bot.ideaboard_helpers import RecordingChannel
    from tests.bot.test_ideaboard_search import pressed, said, talk

    idea = file(database, "author")
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await talk(runtime, said("fan", "Hallo"), pressed("fan", "consent:yes"), said("fan", "/ideen"))
    assert "ib:mobilitaet:0" in [b.payload for b in channel.sent[-1][1].all_buttons()]
    await talk(runtime, said("fan", "1"))  # a typed number presses the first button of the answer
    page = channel.sent[-1][1]
    assert PUBLIC in page.text and f"iu:{idea}" in [b.payload for b in page.all_buttons()]
    await talk(runtime, pressed("fan", f"iu:{idea}"))
    assert "1 Person unterstützt sie" in channel.sent[-1][1].text
    await talk(runtime, pressed("fan", f"ix:{idea}"))
    assert "nicht mehr" in channel.sent[-1][1].text
    assert count(database, idea) == 0


def test_a_similar_idea_gone_meanwhile_offers_to_file_the_citizens_own(database: Database, board: IdeaBoard) -> None:
    gone = file(database, "author", published=False)
    with database.unit_of_work() as uow:
        citizen = add_citizen(uow, "writer")
        answer = board.handle(uow, IdeaRequest(IDEA_SUPPORT, gone, source="similar", draft="d1"), citizen, "de", NOW)
    assert payloads(answer) == ["sd:d1"] and "nicht mehr öffentlich" in text_of(answer)
    assert text_of(answer).endswith("?")


async def test_ideas_browsed_in_the_middle_of_a_step_do_not_take_over_its_numbers(
    database: Database, make_runtime: RuntimeFactory
) -> None:
    """/ideen while the field question of one's own idea is open: a typed "1" still answers the field question."""
    from tests.bot.ideaboard_helpers import RecordingChannel
    from tests.bot.test_ideaboard_search import pressed, said, talk

    file(database, "author")
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await talk(runtime, said("writer", "Hallo"), pressed("writer", "consent:yes"))
    await talk(runtime, said("writer", "/idee Ein Trinkbrunnen im Mirker Park"))
    field_question = channel.sent[-1][1]
    assert field_question.buttons, field_question
    await talk(runtime, said("writer", "/ideen"), said("writer", "1"))
    with database.unit_of_work() as uow:
        filed = uow.session.execute(select(m.Idea.text).where(m.Idea.text.like("%Trinkbrunnen%"))).all()
    assert len(filed) == 1 or "Handlungsfeld" in channel.sent[-1][1].text, channel.sent[-1][1]
    assert "veröffentlichte Ideen, die meistunterstützten" not in channel.sent[-1][1].text


async def test_a_search_result_arriving_after_the_citizen_deleted_everything_stores_nothing(
    database: Database, make_runtime: RuntimeFactory
) -> None:
    """The citizen wrote an idea and deleted their data while the search ran: its result must not bring back a
    citizen row or their contact."""
    from handlers.events import Inbound, InboundKind, SimilarResult
    from tests.bot.ideaboard_helpers import RecordingChannel
    from tests.bot.test_ideaboard_search import CHANNEL, talk

    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    late = Inbound(InboundKind.SIMILAR, CHANNEL, "gone", "gone", "similar:999", datetime.now(UTC),
                   args=SimilarResult("d1").to_json())  # fmt: skip
    await talk(runtime, late)
    with database.unit_of_work() as uow:
        assert uow.session.execute(select(m.Citizen.id)).all() == []
        assert uow.session.execute(select(m.Contact.id)).all() == []
    assert channel.sent == []
