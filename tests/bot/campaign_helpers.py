"""Building blocks for the campaign tests: citizens with opt-ins and contacts, and running the campaign tick."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update

from bot.campaigns.tick import AudienceSettings, TickReport, campaign_tick, run_inline
from bot.config import Config, load_config
from bot.identity import pseudonym
from bot.storage import models as m
from bot.storage.db import Database
from bot.survey_sync import load_catalog
from handlers.events import CitizenState

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
SURVEY = "mobilitaet-quartier"  # field: mobilitaet
STAFF_USER = "900"
LIBRARY = Path(__file__).resolve().parents[2] / "surveys" / "library"


def campaign_config(tmp_path: Path, database_url: str, **extra: str) -> Config:
    environ = {
        "STADTDIALOG_DATABASE_URL": database_url,
        "STADTDIALOG_PSEUDONYM_SECRET": "test-secret-0123456789",
        "STADTDIALOG_SURVEY_DIR": str(LIBRARY),
        "STADTDIALOG_STAFF": f"telegram:{STAFF_USER}=staff",
        "STADTDIALOG_CONSENT_VERSION": "2",
    }
    environ.update(extra)
    return load_config(environ, cwd=tmp_path)


def add_citizen(
    db: Database,
    config: Config,
    user: str,
    *,
    channel: str = "telegram",
    language: str = "de",
    consent: str | None = "current",
    opted_in: bool = True,
    fields: tuple[str, ...] = (),
    withdrawn: bool = False,
    unreachable: bool = False,
) -> str:
    """A citizen who wrote to the bot on `channel` as `user`; by default consented and opted in to all surveys."""
    citizen = pseudonym(config.pseudonym_secret, channel, user)
    version = config.consent_version if consent == "current" else consent
    state = CitizenState(language=language, language_chosen=True, consent_version=version,
                         consent_at=NOW if version else None, flow="menu")
    with db.unit_of_work() as uow:
        uow.citizens.save_state(citizen, state, NOW)
        uow.contacts.upsert(citizen, channel, user, user)
        if opted_in:
            uow.session.execute(insert(m.OptIn).values(
                citizen_id=citizen, topic="surveys", fields=list(fields), source="abo", notice_version="2",
                granted_at=NOW, withdrawn_at=NOW if withdrawn else None,
            ))
        if unreachable:
            uow.session.execute(update(m.Contact).where(m.Contact.citizen_id == citizen).values(unreachable_at=NOW))
    return citizen


def settings(config: Config) -> AudienceSettings:
    return AudienceSettings(config.consent_version, config.staff, config.pseudonym_secret)


async def tick(db: Database, config: Config, now: datetime, *, batch: int = 500) -> TickReport:
    return await campaign_tick(run_inline, db, load_catalog(db), settings(config), now, batch=batch)


def rows(db: Database, campaign_id: int, kind: str = "invitation") -> list[tuple[str, str, str | None]]:
    """(citizen, status, outcome) of the campaign's rows of `kind`."""
    with db.unit_of_work(read_only=True) as uow:
        found = uow.session.execute(
            select(m.FollowUp.citizen_id, m.FollowUp.status, m.FollowUp.outcome)
            .where(m.FollowUp.campaign_id == campaign_id, m.FollowUp.kind == kind)
            .order_by(m.FollowUp.citizen_id)
        ).all()
    return [(row.citizen_id, row.status, row.outcome) for row in found]


def set_rows(db: Database, campaign_id: int, citizen: str, **values: object) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(m.FollowUp).where(m.FollowUp.campaign_id == campaign_id, m.FollowUp.citizen_id == citizen)
            .values(**values)
        )
