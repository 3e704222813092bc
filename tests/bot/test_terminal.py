"""The embedded default: `stadtdialog run` without credentials is a terminal chat on SQLite (scripted stdin)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_terminal(tmp_path: Path, script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTDIALOG_")}
    env["STADTDIALOG_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        input=script,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        env=env,
        check=False,
    )


def numbered_options(output: str) -> list[str]:
    return re.findall(r"^\s+\[(\d+)\] (.+)$", output, flags=re.MULTILINE)


def test_terminal_chat_runs_consent_and_menu_on_a_fresh_data_dir(tmp_path: Path) -> None:
    result = run_terminal(tmp_path, "/start\n1\n")
    assert result.returncode == 0, result.stderr
    options = numbered_options(result.stdout)
    assert len(options) >= 2 + 4, "consent buttons, then the menu with four entries"
    database = tmp_path / "data" / "stadtdialog.sqlite3"
    with sqlite3.connect(database) as connection:
        (consented,) = connection.execute("SELECT count(*) FROM citizens WHERE consent_version IS NOT NULL").fetchone()
        (surveys,) = connection.execute("SELECT count(DISTINCT key) FROM surveys").fetchone()
    assert consented == 1
    assert surveys >= 3, "the sample surveys are imported at start"


def test_terminal_chat_resumes_a_survey_after_restart(tmp_path: Path) -> None:
    first = run_terminal(tmp_path, "/start\n1\n/umfragen\n1\n")
    assert first.returncode == 0, first.stderr
    assert re.search(r"(Frage|Question) 1 (von|of) \d+", first.stdout)
    second = run_terminal(tmp_path, "/weiter\n")
    assert second.returncode == 0, second.stderr
    assert re.search(r"(Frage|Question) 1 (von|of) \d+", second.stdout), "resumes at the exact question"


def test_logs_carry_no_message_text(tmp_path: Path) -> None:
    secret_text = "MeineGeheimeIdeeZurSchwebebahn"
    result = run_terminal(tmp_path, f"/start\n1\n/idee {secret_text}\n")
    assert result.returncode == 0, result.stderr
    assert secret_text not in result.stderr
    assert "level=" in result.stderr, "structured key=value logs go to stderr"
