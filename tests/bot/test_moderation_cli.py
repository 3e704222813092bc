"""`stadtdialog idea moderate` and `stadtdialog idea merge` as staff type them (in process, SQLite and PostgreSQL):
the queue listed redacted, approve/edit/reject, the interactive loop, merge with preview — each audited."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from bot.cli import main
from bot.ideaboard import publication
from bot.storage import models as m
from bot.storage.db import Database
from tests.bot.test_staff_cli import BENCH_TEXT, FILED, entries, env, ref  # noqa: F401  (fixture)


@pytest.fixture
def queued(env: Database) -> Database:  # noqa: F811
    with env.unit_of_work() as uow:
        publication.set_consent(uow, "c_author", "idea-bench", "yes", FILED, set())
        publication.set_consent(uow, "c_other", "idea-tree", "keep", FILED + timedelta(days=1), set())
    return env


def stored(database: Database, idea_id: str) -> tuple[str, str | None]:
    with database.unit_of_work(read_only=True) as uow:
        row = uow.session.get(m.Idea, idea_id)
        assert row is not None
        return row.publication, row.public_text


def test_the_queue_is_listed_redacted_and_oldest_first(queued: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["idea", "moderate", "--list", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["ref"] for line in lines] == [ref("idea-bench"), ref("idea-tree")]
    assert "anna@example.org" not in lines[0]["text"] and lines[1]["consent"] == "keep"
    assert entries(queued)[-1][3:] == ("moderation_list", None, "ok")


def test_approve_with_wording_and_reject_with_reason(queued: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["idea", "moderate", ref("idea-bench"), "--approve", "--text", "Mehr Sitzbänke am Döppersberg"]) == 0
    assert stored(queued, "idea-bench") == ("approved", "Mehr Sitzbänke am Döppersberg")
    assert main(["idea", "moderate", ref("idea-tree"), "--reject"]) == 2  # the reason is required
    assert main(["idea", "moderate", ref("idea-tree"), "--reject", "--reason", "Gibt es schon."]) == 0
    assert stored(queued, "idea-tree") == ("rejected", None)
    assert main(["idea", "moderate", ref("idea-tree"), "--approve"]) == 1  # no longer pending
    assert [e[3:] for e in entries(queued)] == [
        ("publication_approve", ref("idea-bench"), "ok"), ("publication_reject", ref("idea-tree"), "ok"),
        ("publication_approve", ref("idea-tree"), "refused")]
    assert all(e[0] == "cli:ana" for e in entries(queued))
    assert "Döppersberg" not in str([e for e in entries(queued)])
    with queued.unit_of_work(read_only=True) as uow:
        details = {e.action: e.details for e in uow.audit.between() if e.outcome == "ok"}
    assert details["publication_reject"] == {"reason_length": len("Gibt es schon.")}  # the length, not the words
    assert "Gibt es schon" not in str(details)


def test_the_interactive_loop_skips_approves_and_quits(queued: Database, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    answers = io.StringIO("s\na\nq\n")
    answers.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr("sys.stdin", answers)
    assert main(["idea", "moderate"]) == 0
    out = capsys.readouterr().out
    assert "anna@example.org" not in out and "Bäume für die Nordstadt" in out
    assert stored(queued, "idea-bench")[0] == "pending"  # skipped
    assert stored(queued, "idea-tree") == ("approved", "Bäume für die Nordstadt")


def test_merge_needs_yes_off_a_terminal_and_carries_supporters(queued: Database,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with queued.unit_of_work() as uow:
        publication.approve(uow, "idea-tree", None, FILED)
        uow.session.add(m.IdeaSupport(idea_id="idea-bench", citizen_id="c_other", created_at=FILED, news=False))
    assert main(["idea", "merge", ref("idea-bench"), ref("idea-tree"), "--dry-run"]) == 0
    assert "supporters carried over: 0" in capsys.readouterr().out  # c_other is INTO's own author
    assert main(["idea", "merge", ref("idea-bench"), ref("idea-tree")]) == 2  # stdin is no terminal
    assert main(["idea", "merge", ref("idea-bench"), ref("idea-tree"), "--yes"]) == 0
    with queued.unit_of_work(read_only=True) as uow:
        merged = uow.session.get(m.Idea, "idea-bench")
        assert merged is not None and merged.merged_into == "idea-tree"
    assert [e[3:] for e in entries(queued)][-1] == ("merge", f"{ref('idea-bench')}:{ref('idea-tree')}", "ok")
    assert main(["idea", "merge", ref("idea-bench"), ref("idea-tree"), "--yes"]) == 2  # already merged
