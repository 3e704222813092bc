"""The embedded default: `stadtdialog run` without credentials is a terminal chat on SQLite (scripted stdin)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
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


def test_ctrl_c_stops_the_terminal_chat_at_once_while_it_waits_for_input(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTDIALOG_")}
    env["STADTDIALOG_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
    )
    output: list[str] = []
    assert process.stdout is not None and process.stdin is not None
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        process.stdin.write("/start\n")
        process.stdin.flush()  # and the pipe stays open: the chat waits for the next line
        deadline = time.monotonic() + 60
        while len(numbered_options("".join(output))) < 2:
            assert time.monotonic() < deadline, f"no consent buttons: {output}"
            assert process.poll() is None, "the chat ended by itself"
            time.sleep(0.05)
        time.sleep(0.3)  # waiting for input now
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert time.monotonic() - started < 8, "stops without waiting for another Enter"
    assert returncode in (0, 130)
    assert process.stderr is not None
    errors = process.stderr.read()
    assert "Traceback" not in errors, errors
    with sqlite3.connect(tmp_path / "data" / "stadtdialog.sqlite3") as connection:
        (citizens,) = connection.execute("SELECT count(*) FROM citizens").fetchone()
    assert citizens == 1, "what was typed before Ctrl-C stays stored"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_personal_files_are_readable_by_their_owner_only_and_deleting_removes_the_export(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run_terminal(tmp_path, "/start\n1\n/meinedaten\n")
    assert result.returncode == 0, result.stderr
    (export,) = (data / "exports").rglob("*meine-daten.json")
    assert str(export) in result.stdout, "the citizen is told where the file is"
    assert mode(export) == 0o600
    assert mode(export.parent) == mode(data / "exports") == mode(data) == 0o700
    assert mode(data / "stadtdialog.sqlite3") == 0o600
    assert mode(data / "pseudonym.secret") == 0o600
    deleted = run_terminal(tmp_path, "/loeschen\n1\n")
    assert deleted.returncode == 0, deleted.stderr
    assert "gelöscht" in deleted.stdout
    assert not export.exists() and not export.parent.exists(), "the export goes with everything else"
