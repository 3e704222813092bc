"""`stadtdialog campaign …` and `survey close|reopen` as staff type them (subprocesses on a SQLite file)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.campaigns import follow
from bot.campaigns.preview import render_messages
from bot.campaigns.status import Progress
from bot.storage.repositories.campaigns import Campaign
from handlers.events import Button, Outbound
from tests.bot.campaign_helpers import NOW, SURVEY

ROOT = Path(__file__).resolve().parents[2]


def stadtdialog(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTDIALOG_")}
    env["STADTDIALOG_DATA_DIR"] = str(tmp_path / "data")
    env["STADTDIALOG_CLASSIFIER"] = "off"
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env, check=False,
    )


def test_staff_create_dry_run_launch_show_and_close_a_campaign(tmp_path: Path) -> None:
    assert stadtdialog(tmp_path, "survey", "import").returncode == 0
    created = stadtdialog(tmp_path, "campaign", "create", "--survey", SURVEY, "--name", "Mobilität Nord",
                          "--start", "2030-01-07 10:00", "--end", "2030-01-21 18:00", "--remind-after-days", "3",
                          "--channel", "telegram", "--language", "de")
    assert created.returncode == 0, created.stderr
    assert "campaign 1 created (draft): Mobilität Nord" in created.stdout
    assert "2030-01-07 10:00 → 2030-01-21 18:00 (Europe/Berlin)" in created.stdout
    listing = stadtdialog(tmp_path, "campaign", "list")
    assert "draft" in listing.stdout and SURVEY in listing.stdout and "Mobilität Nord" in listing.stdout
    dry = stadtdialog(tmp_path, "campaign", "launch", "1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "DRY RUN" in dry.stdout and "audience: 0 citizens" in dry.stdout
    assert "=== first message (de) ===" in dry.stdout and "Keine Einladungen mehr" in dry.stdout
    assert "draft" in stadtdialog(tmp_path, "campaign", "show", "1").stdout  # the dry run changed nothing
    launched = stadtdialog(tmp_path, "campaign", "launch", "1", "--no-follow")
    assert launched.returncode == 0, launched.stderr
    assert "scheduled" in launched.stdout and "2030-01-07 10:00" in launched.stdout
    shown = stadtdialog(tmp_path, "campaign", "show", "1")
    assert "status      scheduled" in shown.stdout and f"survey      {SURVEY} v1" in shown.stdout
    assert "channels=telegram" in shown.stdout and "after 3 days" in shown.stdout
    again = stadtdialog(tmp_path, "campaign", "launch", "1", "--no-follow")
    assert again.returncode == 1 and "only a draft can be launched" in again.stderr
    early = stadtdialog(tmp_path, "campaign", "close", "1")
    assert early.returncode == 1 and "cancel it" in early.stderr
    cancelled = stadtdialog(tmp_path, "campaign", "cancel", "1")
    assert cancelled.returncode == 0 and "campaign 1 cancelled" in cancelled.stdout
    assert "Traceback" not in cancelled.stderr + early.stderr + again.stderr


def test_create_errors_are_clear_and_exit_1(tmp_path: Path) -> None:
    stadtdialog(tmp_path, "survey", "import")
    unknown = stadtdialog(tmp_path, "campaign", "create", "--survey", "gibt-es-nicht")
    assert unknown.returncode == 1 and "unknown survey 'gibt-es-nicht'; imported surveys:" in unknown.stderr
    backwards = stadtdialog(tmp_path, "campaign", "create", "--survey", SURVEY, "--start", "2030-01-07 10:00",
                            "--end", "2030-01-01 10:00")
    assert backwards.returncode == 1 and "the end must be after the start" in backwards.stderr
    garbled = stadtdialog(tmp_path, "campaign", "create", "--survey", SURVEY, "--start", "next monday")
    assert garbled.returncode == 1 and "expected a time like '2026-12-07 10:00'" in garbled.stderr
    missing = stadtdialog(tmp_path, "campaign", "show", "42")
    assert missing.returncode == 1 and "there is no campaign 42" in missing.stderr


def test_survey_close_and_reopen(tmp_path: Path) -> None:
    stadtdialog(tmp_path, "survey", "import")
    closed = stadtdialog(tmp_path, "survey", "close", SURVEY)
    assert closed.returncode == 0 and "no longer offered" in closed.stdout and "within 2 days" in closed.stdout
    assert f"{SURVEY} v1 active closed" in stadtdialog(tmp_path, "survey", "list").stdout
    refused = stadtdialog(tmp_path, "campaign", "create", "--survey", SURVEY)
    assert refused.returncode == 1 and "reopen it first" in refused.stderr
    assert stadtdialog(tmp_path, "survey", "reopen", SURVEY).returncode == 0
    assert f"{SURVEY} v1 active\n" in stadtdialog(tmp_path, "survey", "list").stdout
    unknown = stadtdialog(tmp_path, "survey", "close", "gibt-es-nicht")
    assert unknown.returncode == 1 and "unknown survey" in unknown.stderr


def test_dry_run_shows_the_invitation_as_each_channel_renders_it() -> None:
    invitation = Outbound(
        "Neue Umfrage: Mobilität in Ihrem Quartier.\nMachen Sie mit?",
        buttons=((Button("inv:1:yes", "Ja, los"), Button("inv:1:stop", "Keine Einladungen mehr")),),
    )
    rendered = render_messages([invitation], ["telegram", "matrix", "terminal"])
    telegram = rendered.split("--- telegram ---\n")[1].split("\n--- matrix ---")[0]
    payload = json.loads(telegram)
    assert payload["text"] == invitation.text
    assert payload["reply_markup"]["inline_keyboard"][0][1] == {
        "text": "Keine Einladungen mehr", "callback_data": "inv:1:stop"
    }
    assert "org.matrix.msc3381.poll.start" in rendered and "Machen Sie mit?" in rendered
    assert "  [2] Keine Einladungen mehr" in rendered.split("--- terminal ---")[1]
    assert "(no message" in render_messages([], ["telegram"])


def _figures(status: str, invited: int, waiting: int, delivered: int) -> Progress:
    campaign = Campaign(1, "c", SURVEY, 1, status, {}, NOW, NOW, None, None, NOW, None, None, None)
    return Progress(campaign, invited, waiting, delivered, invited - waiting - delivered, 0, 0, 0, 0, 0, 0)


def test_launch_progress_without_a_terminal_prints_plain_lines_until_done(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    states = iter([_figures("scheduled", 0, 0, 0), _figures("scheduled", 0, 0, 0), _figures("running", 3, 2, 1),
                   _figures("running", 3, 0, 2)])
    monkeypatch.setattr(follow, "POLL_S", 0.0)
    assert follow.follow_launch(lambda: next(states), tty=False) == 0
    out = capsys.readouterr().out
    assert "status=running invited=3 delivered=1 waiting=2" in out
    assert "2 of 3 invitations delivered (1 unreachable" in out


def test_launch_progress_on_a_terminal_draws_a_bar_until_done(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    states = iter([_figures("scheduled", 0, 0, 0), _figures("running", 4, 3, 1), _figures("running", 4, 0, 4)])
    monkeypatch.setattr(follow, "POLL_S", 0.0)
    assert follow.follow_launch(lambda: next(states), tty=True) == 0
    out = capsys.readouterr().out
    assert "4/4" in out and "4 of 4 invitations delivered" in out


def test_ctrl_c_stops_following_but_not_the_campaign(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted() -> Progress:
        raise KeyboardInterrupt

    reads = iter([_figures("running", 5, 5, 0)])
    monkeypatch.setattr(follow, "POLL_S", 0.0)
    assert follow.follow_launch(lambda: next(reads, None) or interrupted(), tty=False) == 0
    assert "Campaign 1 keeps running in the bot" in capsys.readouterr().out


def test_show_follow_refreshes_until_ctrl_c(tmp_path: Path) -> None:
    stadtdialog(tmp_path, "survey", "import")
    stadtdialog(tmp_path, "campaign", "create", "--survey", SURVEY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTDIALOG_")}
    env["STADTDIALOG_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "campaign", "show", "1", "--follow"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        # the first view at once, a refresh every 2 s: wait for two views however slowly the process starts
        deadline = time.monotonic() + 60
        while sum(line.startswith("campaign 1: ") for line in seen) < 2 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    out = "".join(seen) + out
    assert process.returncode == 0, err
    assert out.count("campaign 1: ") >= 2 and "Traceback" not in err


def test_import_of_the_survey_folder_deactivates_a_vanished_file_but_another_folder_does_not(tmp_path: Path) -> None:
    folder = tmp_path / "umfragen"
    shutil.copytree(ROOT / "surveys" / "library", folder)
    (tmp_path / ".env").write_text(f"STADTDIALOG_SURVEY_DIR={folder}\n", encoding="utf-8")
    assert stadtdialog(tmp_path, "survey", "import").returncode == 0
    (folder / "klimaanpassung.yaml").unlink()
    other = tmp_path / "andere"
    other.mkdir()
    assert "no longer offered" not in stadtdialog(tmp_path, "survey", "import", str(other)).stdout
    assert "klimaanpassung v1 active" in stadtdialog(tmp_path, "survey", "list").stdout
    imported = stadtdialog(tmp_path, "survey", "import")
    assert "klimaanpassung: file gone from" in imported.stdout and "no longer offered" in imported.stdout
    assert "klimaanpassung v1 inactive" in stadtdialog(tmp_path, "survey", "list").stdout
