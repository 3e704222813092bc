"""The export benchmark's data generator (benchmarks/export_data.py) writes what its summary claims.

A small run (200 responses) on SQLite: row counts, two survey versions with valid definitions, unfinished
responses, every branching status present, follow-up rows and answers, a campaign, classified free texts and ideas.
No timing is asserted here; the benchmark itself measures that.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from benchmarks import export_data
from bot.storage import models as m
from bot.storage.db import Database
from surveys.engine import path
from surveys.schema import AnswerValue, Survey


def _count(database: Database, *where: object, table: type[m.Base] = m.Response) -> int:
    with database.unit_of_work(read_only=True) as uow:
        query = select(func.count()).select_from(table)
        for condition in where:
            query = query.where(condition)  # type: ignore[arg-type]
        return int(uow.session.execute(query).scalar_one())


def test_generator_writes_what_it_claims(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    summary = export_data.build(url, responses=200, ideas=120, seed=5)
    database = Database(url)
    try:
        assert summary.responses == 200 == _count(database)
        assert summary.completed + summary.unfinished == 200
        assert 0 < summary.unfinished == _count(database, m.Response.status == "in_progress")
        finished = (m.Response.status == "completed", m.Response.completed_at.is_not(None))
        assert summary.completed == _count(database, *finished)
        assert _count(database, table=m.Idea) == 120 == summary.ideas
        assert _count(database, table=m.Citizen) == summary.citizens
        assert _count(database, table=m.Contact) == summary.contacts
        assert _count(database, table=m.Answer) == summary.answers
        assert set(summary.by_channel) == {"telegram", "matrix"}
        assert summary.campaign_responses == _count(database, m.Response.campaign_id.is_not(None)) > 0
        assert sum(summary.follow_up_rows.values()) == _count(database, table=m.FollowUp)
        assert {"done", "pending"} <= set(summary.follow_up_rows)

        with database.unit_of_work(read_only=True) as uow:
            stored = uow.session.execute(
                select(m.Survey.version, m.Survey.definition, m.Survey.active).where(
                    m.Survey.key == export_data.SURVEY_KEY).order_by(m.Survey.version)
            ).all()
            assert [(version, active) for version, _, active in stored] == [(1, False), (2, True)]
            surveys = {version: Survey.model_validate(definition) for version, definition, _ in stored}
            assert len(surveys[2].questions) == 12
            counted = uow.session.execute(
                select(m.Survey.version, func.count()).join(m.Response).group_by(m.Survey.version)).all()
            by_version: dict[int, int] = {version: count for version, count in counted}
            assert by_version == summary.by_version and by_version[1] > 0
            # Every completed response's answers are exactly its route through its version (branching honoured).
            rows = uow.session.execute(
                select(m.Response.id, m.Survey.version, m.Answer.question_id, m.Answer.value)
                .join(m.Survey, m.Survey.id == m.Response.survey_id)
                .join(m.Answer, m.Answer.response_id == m.Response.id)
                .where(m.Response.status == "completed")
            ).all()
            answers: dict[str, tuple[int, dict[str, AnswerValue]]] = {}
            for response_id, version, question_id, value in rows:
                answers.setdefault(response_id, (version, {}))[1][question_id] = value
            follow_up_ids = {f.id for s in surveys.values() for f in s.follow_ups}
            for version, given in answers.values():
                asked = {k: v for k, v in given.items() if k not in follow_up_ids}
                assert set(path(surveys[version], asked)) == set(asked)
            free = uow.session.execute(
                select(m.Answer.field, m.Answer.scores, m.Answer.model_version).where(
                    m.Answer.question_id == "verbesserung", m.Answer.field.is_not(None))
            ).all()
            assert free and all(set(scores) == set(export_data.FIELDS) for _, scores, _ in free)
            assert all(field == max(scores, key=scores.get) for field, scores, _ in free)
            ideas = uow.session.execute(select(m.Idea.text, m.Idea.proposed_field, m.Idea.fields)).all()
            assert len({text for text, _, _ in ideas}) > 100
            assert all(fields for _, _, fields in ideas)
    finally:
        database.dispose()

    statuses = summary.statuses
    assert statuses["oepnv_zufrieden"]["not_shown"] > 0  # show_if
    assert statuses["rad_hindernis"]["not_shown"] > 0  # jump
    assert statuses["haltestelle_minuten"]["skipped"] > 0  # optional, skipped
    assert statuses["altersgruppe"]["not_reached"] > 0  # unfinished
    assert statuses["sicherheit_nachts"]["not_offered"] == summary.by_version[1]  # only in version 2
    assert statuses["app_genutzt"]["not_offered"] == summary.by_version[2]  # only in version 1
    assert statuses["oepnv_seitdem"]["answered"] > 0 and statuses["oepnv_seitdem"]["not_asked"] > 0
    assert statuses["rad_seitdem"]["not_offered"] == summary.by_version[1]
    assert {"answered", "not_reached"} <= set(statuses["rad_seitdem"])
    for per_question in statuses.values():
        assert sum(per_question.values()) == 200


def test_a_child_reports_its_own_peak_not_its_parents(tmp_path: Path) -> None:
    """`benchmarks.peak_child` writes the child's VmHWM: a parent holding 300 MB does not show in it (it would in
    wait4's ru_maxrss), and the child's own allocation does."""
    ballast = bytearray(300 * 1024 * 1024)
    ballast[:: 4096] = b"x" * len(range(0, len(ballast), 4096))  # touch every page: resident, not just reserved

    def child_peak_mb(code: str) -> float:
        peak = tmp_path / "peak"
        script = tmp_path / "child.py"
        script.write_text(code, encoding="utf-8")
        subprocess.run(
            [sys.executable, "-m", "benchmarks.peak_child", str(peak), "child"],
            cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONPATH": str(tmp_path)}, check=True,
        )
        return int(peak.read_text(encoding="ascii")) / 1024

    idle = child_peak_mb("pass\n")
    busy = child_peak_mb("data = bytearray(80 * 1024 * 1024)\ndata[::4096] = b'y' * len(range(0, len(data), 4096))\n")
    assert idle < 100, f"the child's peak ({idle:.0f} MB) must not include its 300 MB parent"
    assert busy - idle > 70, f"the child's own 80 MB must show ({idle:.0f} MB idle, {busy:.0f} MB busy)"
    del ballast
