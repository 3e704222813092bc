"""The `stadtdialog` command as staff use it: validate and preview survey files, import, list."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "surveys" / "library"


def stadtdialog(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTDIALOG_")}
    env["STADTDIALOG_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
        check=False,
    )


BROKEN = """\
id: kaputt
title: {de: Kaputte Umfrage}
questions:
  - id: q1
    type: single_choice
    text: "Wie kommen Sie zur Arbeit?"
    options:
      - {id: bus, text: {de: Bus}}
  - id: q2
    type: scale
    text: "Wie zufrieden?"
    scale: {min: 5, max: 1}
"""


def test_validate_names_file_line_and_field_and_fails(tmp_path: Path) -> None:
    broken = tmp_path / "kaputt.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    result = stadtdialog(tmp_path, "survey", "validate", str(broken))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("kaputt.yaml:4: questions[0]") and "2 options" in line for line in lines), result.stdout
    assert any(line.startswith("kaputt.yaml:12: questions[1].scale") for line in lines), result.stdout


FOLLOW_UP_MISTAKES = """\
id: nachfrage
title: Nachfrage
questions:
  - id: bus
    type: yes_no
    text: Fahren Sie Bus?
follow_ups:
  - id: bus
    after_days: 500
    show_if: {question: bus, equals: ja}
    topic: ob es besser geworden ist
    question:
      type: yes_no
      text: Ist es besser geworden?
      jumps:
        - {when: {question: bus, equals: true}, to: end}
"""


def test_validate_checks_follow_ups_like_questions(tmp_path: Path) -> None:
    file = tmp_path / "nachfrage.yaml"
    file.write_text(FOLLOW_UP_MISTAKES, encoding="utf-8")
    result = stadtdialog(tmp_path, "survey", "validate", str(file))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    for start in (
        "nachfrage.yaml:8: follow_ups[0].id:",
        "nachfrage.yaml:9: follow_ups[0].after_days:",
        "nachfrage.yaml:10: follow_ups[0].show_if.equals:",
        "nachfrage.yaml:16: follow_ups[0].question.jumps:",
    ):
        assert any(line.startswith(start) for line in lines), (start, result.stdout)


def test_validate_accepts_every_library_survey(tmp_path: Path) -> None:
    files = sorted(str(p) for p in LIBRARY.glob("*.yaml"))
    result = stadtdialog(tmp_path, "survey", "validate", *files)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count(": OK") == len(files)


def test_preview_walks_through_a_survey(tmp_path: Path) -> None:
    survey = LIBRARY / "mobilitaet-quartier.yaml"
    answers = "1\n" * 40
    result = stadtdialog(tmp_path, "survey", "preview", str(survey), stdin=answers)
    assert result.returncode == 0, result.stderr
    assert "Frage 1 von" in result.stdout
    assert "Frage 2 von" in result.stdout


def test_import_is_idempotent_and_list_shows_versions(tmp_path: Path) -> None:
    folder = tmp_path / "umfragen"
    folder.mkdir()
    source = (LIBRARY / "klimaanpassung.yaml").read_text(encoding="utf-8")
    (folder / "klima.yaml").write_text(source, encoding="utf-8")
    first = stadtdialog(tmp_path, "survey", "import", str(folder))
    assert first.returncode == 0 and "v1: new version" in first.stdout, first.stdout + first.stderr
    again = stadtdialog(tmp_path, "survey", "import", str(folder))
    assert "v1: unchanged" in again.stdout
    changed = source.replace("Klimaanpassung und Starkregen", "Klimaanpassung, Hitze und Starkregen", 1)
    assert changed != source
    (folder / "klima.yaml").write_text(changed, encoding="utf-8")
    third = stadtdialog(tmp_path, "survey", "import", str(folder))
    assert "v2: new version" in third.stdout
    listing = stadtdialog(tmp_path, "survey", "list")
    assert "klimaanpassung v1 inactive" in listing.stdout
    assert "klimaanpassung v2 active" in listing.stdout


def test_bad_configuration_is_reported_without_traceback(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("STADTDIALOG_TELEGRAM_MODE=fax\n", encoding="utf-8")
    result = stadtdialog(tmp_path, "run")
    assert result.returncode == 2
    assert "STADTDIALOG_TELEGRAM_MODE" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_shows_quiet_hours_as_they_are_written(tmp_path: Path) -> None:
    result = stadtdialog(tmp_path, "config")
    assert result.returncode == 0, result.stderr
    assert "quiet_hours=21:00-09:00" in result.stdout.splitlines()
    assert "QuietHours(" not in result.stdout and "datetime." not in result.stdout


def test_nlp_help_lists_every_classifier_command(tmp_path: Path) -> None:
    result = stadtdialog(tmp_path, "nlp", "--help")
    assert result.returncode == 0, result.stderr
    for command in ("classify", "evaluate", "train", "export-labels"):
        assert command in result.stdout, result.stdout


def test_status_counts_waiting_work_and_dead_letters_without_any_text(tmp_path: Path) -> None:
    from bot.storage.db import Database

    database = Database(f"sqlite:///{tmp_path / 'data' / 'stadtdialog.sqlite3'}")
    database.migrate()
    with database.unit_of_work() as uow:
        uow.outbox.enqueue("telegram", "42", {"text": "Geheimer Text"})
        given_up = uow.outbox.enqueue("telegram", "43", {"text": "Geheimer Text"})
        uow.outbox.mark_failed(given_up, "Forbidden")
    database.dispose()
    result = stadtdialog(tmp_path, "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "inbox_pending=0", "outbox_pending=1", "dead_letters=1", "follow_ups_pending=0", "follow_ups_held=0",
        "follow_ups_missed=0",
    ]
    assert "Geheimer" not in result.stdout + result.stderr and "42" not in result.stdout


def test_export_labels_writes_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    result = stadtdialog(tmp_path, "nlp", "export-labels", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_status_does_not_set_up_a_database_it_only_reads(tmp_path: Path) -> None:
    result = stadtdialog(tmp_path, "status")
    assert result.returncode == 1
    assert "stadtdialog migrate" in result.stderr and "Traceback" not in result.stderr
