"""Configuration: environment > `.env` > `stadtdialog.toml` > defaults (see README, "Configuration")."""

from __future__ import annotations

import logging
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.files import private_dir

log = logging.getLogger(__name__)

PREFIX = "STADTDIALOG_"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
ROLES = ("staff", "analyst")
DEFAULT_CONTROLLER = "Stadt Wuppertal"
"""Shown in the privacy notice; a real deployment sets name, postal address and data-protection contact."""
DEFAULT_COMPLAINTS = (
    "Landesbeauftragte für Datenschutz und Informationsfreiheit NRW, Kavalleriestraße 2-4, 40213 Düsseldorf, "
    "www.ldi.nrw.de"
)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    """A setting is missing or malformed; `setting` names it."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Whether a local wall-clock time falls into the quiet period (which may wrap midnight)."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        """The form STADTDIALOG_QUIET_HOURS takes: `21:00-09:00`."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    survey_dir: Path
    pseudonym_secret: bytes = field(repr=False)
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: str = "polling"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_webhook_listen: str = "127.0.0.1:8443"
    matrix_homeserver: str | None = None
    matrix_user: str | None = None
    matrix_password: str | None = field(default=None, repr=False)
    matrix_access_token: str | None = field(default=None, repr=False)
    matrix_allowed_servers: tuple[str, ...] = ()
    staff: Mapping[str, str] = field(default_factory=dict)
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Berlin"))
    quiet_hours: QuietHours | None = None
    consent_version: str = "2"
    log_level: str = "INFO"
    debug_personal_data: bool = False
    classifier_enabled: bool = True  # STADTDIALOG_CLASSIFIER=off: citizens always choose the field by hand
    daily_cap: int = 1  # unsolicited messages per citizen and city day; 0: no cap
    follow_up_grace: timedelta = timedelta(hours=6)  # rows missed while the bot was down are sent within this
    survey_close_grace: timedelta = timedelta(days=2)  # citizens in the middle of a closed survey may finish
    telegram_rate: float = 30.0  # messages per second overall; 0: unpaced
    telegram_chat_rate: float = 1.0  # messages per second to one chat; 0: unpaced
    matrix_rate: float = 0.2  # messages per second (Synapse rc_message); 0: the bot is exempted
    controller: str = DEFAULT_CONTROLLER  # who is responsible for the data, shown in the privacy notice
    complaints: str = DEFAULT_COMPLAINTS  # the supervisory authority, shown in the privacy notice
    min_count: int = 5  # reports suppress every cell, bar and breakdown with fewer respondents (k-anonymity)
    audit_retention: timedelta = timedelta(days=365)  # staff audit entries (employees' data) are kept this long

    def local_minute(self, moment: datetime | None) -> str:
        """`moment` in the city's time zone as staff read it on the command line (`2026-12-07 10:00`; — for none)."""
        return "—" if moment is None else moment.astimezone(self.timezone).strftime("%Y-%m-%d %H:%M")

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def matrix_enabled(self) -> bool:
        return bool(self.matrix_homeserver and self.matrix_user)


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path.name}:{number}", "expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _read_toml(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path.name, f"not valid TOML: {exc}") from exc
    section = data.get("stadtdialog", data)
    return {PREFIX + str(k).upper(): str(v) for k, v in section.items() if not isinstance(v, dict)}


def _parse_time(setting: str, text: str) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ConfigError(setting, f"expected HH:MM, got {text!r}")
    return time(int(match[1]), int(match[2]))


def parse_quiet_hours(text: str) -> QuietHours | None:
    """`21:00-09:00` → QuietHours; empty or `off` → None."""
    if text.strip().lower() in ("", "off", "none"):
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise ConfigError(PREFIX + "QUIET_HOURS", f"expected HH:MM-HH:MM, got {text!r}")
    return QuietHours(_parse_time(PREFIX + "QUIET_HOURS", start), _parse_time(PREFIX + "QUIET_HOURS", end))


def parse_duration(setting: str, text: str) -> timedelta:
    """`90s`, `15m`, `6h`, `2d`, `2w` (or a plain number of seconds) → timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise ConfigError(setting, f"expected a duration like 90s, 15m, 6h, 2d or 2w, got {text!r}")
    return timedelta(seconds=float(match[1]) * _DURATION_UNITS[match[2] or "s"])


def _parse_rate(setting: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ConfigError(setting, f"expected messages per second (0 = unpaced), got {text!r}")
    return value


def _parse_min_count(text: str) -> int:
    """STADTDIALOG_MIN_COUNT: at least 2 (a count of one respondent is never shown)."""
    if not text.strip().isdigit() or int(text) < 2:
        raise ConfigError(
            PREFIX + "MIN_COUNT",
            f"expected a whole number of at least 2 (smaller counts identify people), got {text!r}",
        )
    return int(text)


def _parse_retention_days(text: str) -> timedelta:
    """STADTDIALOG_AUDIT_RETENTION_DAYS: whole days, at least 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise ConfigError(PREFIX + "AUDIT_RETENTION_DAYS", f"expected a whole number of days, at least 1, got {text!r}")
    return timedelta(days=int(text))


def _parse_count(setting: str, text: str) -> int:
    if not text.strip().isdigit():
        raise ConfigError(setting, f"expected a whole number (0 = no limit), got {text!r}")
    return int(text)


def parse_staff(text: str) -> dict[str, str]:
    """`telegram:12345=staff,matrix:@ana:example.org=analyst` → {"telegram:12345": "staff", ...}."""
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        who, sep, role = item.rpartition("=")
        if not sep or ":" not in who or role not in ROLES:
            raise ConfigError(PREFIX + "STAFF", f"expected channel:user=staff|analyst, got {item!r}")
        result[who] = role
    return result


def _secret(data_dir: Path, given: str | None) -> bytes:
    if given:
        if len(given) < 16:
            raise ConfigError(PREFIX + "PSEUDONYM_SECRET", "must be at least 16 characters")
        return given.encode()
    path = data_dir / "pseudonym.secret"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip().encode()
    private_dir(data_dir)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    log.warning("event=pseudonym_secret_generated path=%s hint=back_up_this_file", path)
    return value.encode()


def load_config(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Config:
    """Merge the sources (environment wins) and validate every setting."""
    env = dict(os.environ if environ is None else environ)
    base = cwd or Path.cwd()
    merged: dict[str, str] = {}
    merged.update(_read_toml(base / "stadtdialog.toml"))
    merged.update(_read_dotenv(base / ".env"))
    merged.update({k: v for k, v in env.items() if k.startswith(PREFIX)})

    def get(name: str, default: str | None = None) -> str | None:
        value = merged.get(PREFIX + name)
        return value if value not in (None, "") else default

    data_dir = Path(get("DATA_DIR", "data") or "data")
    if not data_dir.is_absolute():
        data_dir = base / data_dir
    database_url = get("DATABASE_URL") or f"sqlite:///{data_dir / 'stadtdialog.sqlite3'}"
    survey_dir = Path(get("SURVEY_DIR") or PACKAGE_ROOT / "surveys" / "library")
    if not survey_dir.is_absolute():
        survey_dir = base / survey_dir
    mode = (get("TELEGRAM_MODE", "polling") or "polling").lower()
    if mode not in ("polling", "webhook"):
        raise ConfigError(PREFIX + "TELEGRAM_MODE", f"expected polling or webhook, got {mode!r}")
    webhook_secret = get("TELEGRAM_WEBHOOK_SECRET")
    if mode == "webhook":
        if not get("TELEGRAM_WEBHOOK_URL"):
            raise ConfigError(PREFIX + "TELEGRAM_WEBHOOK_URL", "required in webhook mode")
        if not webhook_secret or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", webhook_secret):
            raise ConfigError(PREFIX + "TELEGRAM_WEBHOOK_SECRET", "required in webhook mode: 1-256 of A-Z a-z 0-9 _ -")
    tz_name = get("TIMEZONE", "Europe/Berlin") or "Europe/Berlin"
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(PREFIX + "TIMEZONE", f"unknown time zone {tz_name!r}") from exc
    matrix_user = get("MATRIX_USER")
    if matrix_user and not re.fullmatch(r"@[^:\s]+:\S+", matrix_user):
        raise ConfigError(PREFIX + "MATRIX_USER", "expected a full user id like @stadtdialog:example.org")
    classifier = (get("CLASSIFIER", "on") or "on").lower()
    if classifier not in ("on", "off"):
        raise ConfigError(PREFIX + "CLASSIFIER", f"expected on or off, got {classifier!r}")
    servers = tuple(s.strip() for s in (get("MATRIX_ALLOWED_SERVERS", "") or "").split(",") if s.strip())
    return Config(
        data_dir=data_dir,
        database_url=database_url,
        survey_dir=survey_dir,
        pseudonym_secret=_secret(data_dir, get("PSEUDONYM_SECRET")),
        telegram_token=get("TELEGRAM_TOKEN"),
        telegram_api_url=(get("TELEGRAM_API_URL", "https://api.telegram.org") or "").rstrip("/"),
        telegram_mode=mode,
        telegram_webhook_url=get("TELEGRAM_WEBHOOK_URL"),
        telegram_webhook_secret=webhook_secret,
        telegram_webhook_listen=get("TELEGRAM_WEBHOOK_LISTEN", "127.0.0.1:8443") or "127.0.0.1:8443",
        matrix_homeserver=get("MATRIX_HOMESERVER"),
        matrix_user=matrix_user,
        matrix_password=get("MATRIX_PASSWORD"),
        matrix_access_token=get("MATRIX_ACCESS_TOKEN"),
        matrix_allowed_servers=servers,
        staff=parse_staff(get("STAFF", "") or ""),
        timezone=tz,
        quiet_hours=parse_quiet_hours(get("QUIET_HOURS", "21:00-09:00") or ""),
        consent_version=get("CONSENT_VERSION", "2") or "2",
        log_level=(get("LOG_LEVEL", "INFO") or "INFO").upper(),
        debug_personal_data=(get("DEBUG_PERSONAL_DATA", "") or "").lower() in ("1", "true", "yes"),
        classifier_enabled=classifier == "on",
        daily_cap=_parse_count(PREFIX + "DAILY_CAP", get("DAILY_CAP", "1") or "1"),
        follow_up_grace=parse_duration(PREFIX + "FOLLOW_UP_GRACE", get("FOLLOW_UP_GRACE", "6h") or "6h"),
        survey_close_grace=parse_duration(PREFIX + "SURVEY_CLOSE_GRACE", get("SURVEY_CLOSE_GRACE", "2d") or "2d"),
        telegram_rate=_parse_rate(PREFIX + "TELEGRAM_RATE", get("TELEGRAM_RATE", "30") or "30"),
        telegram_chat_rate=_parse_rate(PREFIX + "TELEGRAM_CHAT_RATE", get("TELEGRAM_CHAT_RATE", "1") or "1"),
        matrix_rate=_parse_rate(PREFIX + "MATRIX_RATE", get("MATRIX_RATE", "0.2") or "0.2"),
        controller=get("CONTROLLER", DEFAULT_CONTROLLER) or DEFAULT_CONTROLLER,
        complaints=get("COMPLAINTS", DEFAULT_COMPLAINTS) or DEFAULT_COMPLAINTS,
        min_count=_parse_min_count(get("MIN_COUNT", "5") or "5"),
        audit_retention=_parse_retention_days(get("AUDIT_RETENTION_DAYS", "365") or "365"),
    )
