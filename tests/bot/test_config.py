"""Configuration: precedence, validation with the setting named, generated pseudonym secret."""

from __future__ import annotations

import stat
from datetime import time
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_quiet_hours, parse_staff


def test_defaults_give_sqlite_in_data_dir_and_terminal_only(tmp_path: Path) -> None:
    config = load_config({}, cwd=tmp_path)
    assert config.database_url == f"sqlite:///{tmp_path / 'data' / 'stadtdialog.sqlite3'}"
    assert not config.telegram_enabled and not config.matrix_enabled
    assert config.timezone.key == "Europe/Berlin"
    assert config.quiet_hours is not None and config.quiet_hours.contains(time(23, 30))


def test_environment_beats_dotenv_beats_toml(tmp_path: Path) -> None:
    (tmp_path / "stadtdialog.toml").write_text('[stadtdialog]\ntimezone = "Europe/London"\nlog_level = "debug"\n')
    (tmp_path / ".env").write_text("# comment\nSTADTDIALOG_TIMEZONE='Europe/Paris'\n")
    config = load_config({"STADTDIALOG_LOG_LEVEL": "warning"}, cwd=tmp_path)
    assert config.timezone.key == "Europe/Paris"
    assert config.log_level == "WARNING"


def test_pseudonym_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = load_config({}, cwd=tmp_path)
    second = load_config({}, cwd=tmp_path)
    path = tmp_path / "data" / "pseudonym.secret"
    assert first.pseudonym_secret == second.pseudonym_secret
    assert len(first.pseudonym_secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secrets_do_not_appear_in_repr(tmp_path: Path) -> None:
    config = load_config(
        {"STADTDIALOG_TELEGRAM_TOKEN": "123:SECRET-TOKEN", "STADTDIALOG_PSEUDONYM_SECRET": "x" * 20}, cwd=tmp_path
    )
    assert "SECRET-TOKEN" not in repr(config)
    assert "x" * 20 not in repr(config)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"STADTDIALOG_TELEGRAM_MODE": "carrier-pigeon"}, "STADTDIALOG_TELEGRAM_MODE"),
        ({"STADTDIALOG_TELEGRAM_MODE": "webhook"}, "STADTDIALOG_TELEGRAM_WEBHOOK_URL"),
        (
            {
                "STADTDIALOG_TELEGRAM_MODE": "webhook",
                "STADTDIALOG_TELEGRAM_WEBHOOK_URL": "https://x",
                "STADTDIALOG_TELEGRAM_WEBHOOK_SECRET": "no spaces",
            },
            "STADTDIALOG_TELEGRAM_WEBHOOK_SECRET",
        ),
        ({"STADTDIALOG_TIMEZONE": "Mars/Olympus"}, "STADTDIALOG_TIMEZONE"),
        ({"STADTDIALOG_QUIET_HOURS": "late"}, "STADTDIALOG_QUIET_HOURS"),
        ({"STADTDIALOG_STAFF": "telegram:1=boss"}, "STADTDIALOG_STAFF"),
        ({"STADTDIALOG_MATRIX_USER": "stadtdialog"}, "STADTDIALOG_MATRIX_USER"),
        ({"STADTDIALOG_PSEUDONYM_SECRET": "short"}, "STADTDIALOG_PSEUDONYM_SECRET"),
        ({"STADTDIALOG_MIN_COUNT": "1"}, "STADTDIALOG_MIN_COUNT"),
        ({"STADTDIALOG_MIN_COUNT": "five"}, "STADTDIALOG_MIN_COUNT"),
    ],
)
def test_bad_settings_are_rejected_naming_the_setting(tmp_path: Path, env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env, cwd=tmp_path)
    assert caught.value.setting == setting


def test_malformed_dotenv_line_is_reported_with_line_number(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("STADTDIALOG_TIMEZONE=Europe/Berlin\nthis is not a setting\n")
    with pytest.raises(ConfigError, match=r"\.env:2"):
        load_config({}, cwd=tmp_path)


def test_quiet_hours_wrap_midnight() -> None:
    quiet = parse_quiet_hours("21:00-09:00")
    assert quiet is not None
    assert quiet.contains(time(21, 0)) and quiet.contains(time(3, 0)) and not quiet.contains(time(9, 0))
    assert parse_quiet_hours("off") is None
    daytime = parse_quiet_hours("12:00-13:00")
    assert daytime is not None and daytime.contains(time(12, 30)) and not daytime.contains(time(13, 30))


def test_staff_allowlist_parses_roles() -> None:
    assert parse_staff("telegram:12345=staff, matrix:@ana:example.org=analyst") == {
        "telegram:12345": "staff",
        "matrix:@ana:example.org": "analyst",
    }


def test_min_count_defaults_to_five_and_is_configurable(tmp_path: Path) -> None:
    assert load_config({}, cwd=tmp_path).min_count == 5
    assert load_config({"STADTDIALOG_MIN_COUNT": "10"}, cwd=tmp_path).min_count == 10
