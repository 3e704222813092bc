"""The theme refresh on stored embeddings (SQLite and PostgreSQL): groups found, ids stable, rows written."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.feedback import write_csv
from bot.storage import models as m
from bot.storage.db import Database
from bot.themes import refresh_themes
from bot.themes.refresh import REFRESH_AGE
from nlp.themes import ThemeRegistry
from tests.themes import data


def idea_themes(database: Database) -> dict[str, str | None]:
    with database.unit_of_work(read_only=True) as uow:
        return dict(uow.session.execute(select(m.Idea.id, m.Idea.theme)).tuples().all())


def answer_themes(database: Database) -> dict[int, str | None]:
    with database.unit_of_work(read_only=True) as uow:
        return dict(uow.session.execute(select(m.AnswerEmbedding.answer_id, m.AnswerEmbedding.theme)).tuples().all())


def test_refresh_groups_ideas_and_answers_of_each_field_and_stores_the_registry(database: Database) -> None:
    vectors = data.Vectors.make()
    data.fill(database, vectors)
    with database.unit_of_work() as uow:
        data.import_survey(uow)
    answers = data.add_answers(database, vectors, "baeume", 4)
    report = refresh_themes(database, data.NOW)
    assert (report.fields, report.themes, report.themed, report.unthemed) == (2, 4, 28, 0)
    themes = idea_themes(database)
    for name in data.GROUPS:
        ids = {themes[f"a-{name}-{i}"] for i in range(6)}
        assert len(ids) == 1 and None not in ids, name
    assert len(set(themes.values())) == 4
    assert themes["a-baeume-0"].startswith("umwelt-") and themes["a-baenke-0"].startswith("mobilitaet-")
    assert set(answer_themes(database).values()) == {themes["a-baeume-0"]}
    assert sorted(answer_themes(database)) == answers
    with database.unit_of_work(read_only=True) as uow:
        rows = {row.field: ThemeRegistry.from_json(row.content) for row in uow.session.scalars(
            select(m.ThemeRegistryRow))}
    assert {t.id for t in rows["mobilitaet"].themes} == {themes["a-baenke-0"], themes["a-toiletten-0"]}


def test_theme_ids_stay_the_same_across_two_refreshes_and_a_restart(database_url: str) -> None:
    database = Database(database_url)
    database.migrate()
    vectors = data.Vectors.make()
    data.fill(database, vectors)
    refresh_themes(database, data.NOW)
    first = idea_themes(database)
    data.fill(database, vectors, per_group=4, prefix="b", day=20)  # the themes grow
    second_report = refresh_themes(database, data.NOW + timedelta(days=1))
    second = idea_themes(database)
    assert {k: second[k] for k in first} == first, "the first members keep their ids"
    assert second_report.themes == 4 and len(set(second.values())) == 4
    assert {second[f"b-{name}-0"] for name in data.GROUPS} == set(first.values()), "new members join the old ids"
    database.dispose()

    restarted = Database(database_url)  # a new process: only what is stored
    restarted.migrate()
    try:
        report = refresh_themes(restarted, data.NOW + timedelta(days=2))
        assert idea_themes(restarted) == second and report.changed == 0
    finally:
        restarted.dispose()


def test_the_scheduled_refresh_runs_about_daily_and_a_lost_embedding_loses_its_theme(database: Database) -> None:
    vectors = data.Vectors.make()
    data.fill(database, vectors)
    assert not refresh_themes(database, data.NOW, min_age=REFRESH_AGE).skipped
    assert refresh_themes(database, data.NOW + timedelta(hours=2), min_age=REFRESH_AGE).skipped
    with database.unit_of_work() as uow:
        uow.session.get(m.Idea, "a-baenke-0").embedding = None  # type: ignore[union-attr]
    report = refresh_themes(database, data.NOW + REFRESH_AGE + timedelta(hours=1), min_age=REFRESH_AGE)
    assert not report.skipped and report.changed == 1
    assert idea_themes(database)["a-baenke-0"] is None


def test_deleting_a_citizen_deletes_their_answer_embeddings(database: Database) -> None:
    vectors = data.Vectors.make()
    with database.unit_of_work() as uow:
        data.import_survey(uow)
    answers = data.add_answers(database, vectors, "baeume", 3)
    with database.unit_of_work() as uow:
        uow.citizens.delete_everything("r_baeume_1")
    with database.unit_of_work(read_only=True) as uow:
        left = list(uow.session.scalars(select(m.AnswerEmbedding.answer_id).order_by(m.AnswerEmbedding.answer_id)))
    assert left == [answers[0], answers[2]]


def test_the_feedback_export_gives_each_idea_and_free_text_answer_its_theme(database: Database) -> None:
    vectors = data.Vectors.make()
    data.fill(database, vectors)
    with database.unit_of_work() as uow:
        data.import_survey(uow)
    data.add_answers(database, vectors, "baeume", 4)
    with database.unit_of_work() as uow:  # the answers carry the classifier's field: they are feedback rows
        uow.session.execute(update(m.Answer).where(m.Answer.question_id == "wunsch").values(scores={"umwelt": 0.9}))
    refresh_themes(database, data.NOW)
    trees = idea_themes(database)["a-baeume-0"]
    out = io.StringIO()
    with database.unit_of_work(read_only=True) as uow:
        write_csv(uow.feedback.rows(), out, ["mobilitaet", "umwelt"], dialect="plain", timezone=ZoneInfo("UTC"))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    answers = [row for row in rows if row["kind"] == "answer"]
    assert len(answers) == 4 and {row["theme"] for row in answers} == {trees}
    assert {row["theme"] for row in rows if row["id"].startswith("a-baeume-")} == {trees}


def test_a_damaged_registry_starts_the_field_afresh_instead_of_failing_every_day(database: Database) -> None:
    data.fill(database, data.Vectors.make())
    refresh_themes(database, data.NOW)
    with database.unit_of_work() as uow:
        uow.session.execute(update(m.ThemeRegistryRow).where(m.ThemeRegistryRow.field == "umwelt")
                            .values(content="{not json"))
    report = refresh_themes(database, data.NOW + timedelta(days=1))
    assert report.themes == 4
    with database.unit_of_work(read_only=True) as uow:
        content = uow.session.scalar(select(m.ThemeRegistryRow.content).where(m.ThemeRegistryRow.field == "umwelt"))
    assert content is not None and len(ThemeRegistry.from_json(content).themes) == 2
