"""Import the survey files of a folder into the database (idempotent) and build the core's catalog."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.storage.db import Database, UnitOfWork
from bot.storage.items import StoredSurvey
from surveys.catalog import SurveyCatalog, SurveyVersion
from surveys.codes import code_conflicts
from surveys.loader import Problem, content_hash, load_directory
from surveys.schema import Survey

log = logging.getLogger(__name__)

CATALOG_GENERATION_KEY = "catalog:generation"
"""channel_state key the CLI bumps whenever it changes surveys; the running bot reloads its catalog when it moves."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did: (key, version, created) per file, and the problems of files that were skipped."""

    imported: list[tuple[str, int, bool]]
    problems: list[Problem]
    deactivated: tuple[str, ...] = ()
    kept: tuple[tuple[str, str], ...] = ()
    """Surveys whose file disappeared but that a scheduled or running campaign still uses: (key, campaign)."""


def import_surveys(
    db: Database, directory: Path, field_keys: set[str], now: datetime, *, deactivate_missing: bool = False
) -> ImportReport:
    """Import every valid survey file; a changed file becomes a new version, an unchanged one is a no-op.

    Invalid files are reported and skipped — they never stop the bot, and a survey whose file became invalid
    keeps its last valid version active. With `deactivate_missing` (the configured survey folder) a survey whose
    file is gone is no longer offered — unless a scheduled or running campaign uses it — and one whose file is
    back is offered again. Any change of what is offered bumps the catalog generation, so a running bot reloads
    its catalog within seconds.
    """
    if not directory.is_dir():
        log.warning("event=survey_dir_missing path=%s", directory)
        return ImportReport([], [])
    loaded, problems = load_directory(directory)
    imported: list[tuple[str, int, bool]] = []
    loaded_keys = {survey.id for _, survey in loaded}
    with db.unit_of_work() as uow:
        offered_before = uow.surveys.offered()
        stored = uow.surveys.versions()
        for path, survey in loaded:
            if survey.field is not None and survey.field not in field_keys:
                problems.append(Problem(path.name, None, "field", f"unknown strategy field '{survey.field}'"))
                continue
            conflict = _code_conflict(survey, [s for s in stored if s.key == survey.id])
            if conflict is not None:
                problems.append(Problem(path.name, None, "code", conflict))
                continue
            version, created = uow.surveys.import_survey(
                survey.id,
                survey.model_dump(mode="json"),
                content_hash(survey),
                survey.title.de,
                path.name,
                now,
            )
            imported.append((survey.id, version, created))
            if deactivate_missing and not any(key == survey.id for key, _ in uow.surveys.offered()):
                uow.surveys.activate(survey.id, version)  # its file is back in the folder: offered again
        deactivated, kept = ([], []) if not deactivate_missing else _deactivate_missing(uow, directory, loaded_keys)
        if uow.surveys.offered() != offered_before:
            bump_catalog_generation(uow, now)
    for key in deactivated:
        log.warning("event=survey_deactivated key=%s reason=file_missing", key)
    for key, campaign in kept:
        log.warning("event=survey_file_missing key=%s kept_for_campaign=%s", key, campaign)
    for key, version, created in imported:
        log.info("event=survey_imported key=%s version=%s new=%s", key, version, created)
    for problem in problems:
        log.error("event=survey_invalid problem=%r", str(problem))
    return ImportReport(imported, problems, tuple(deactivated), tuple(kept))


def _code_conflict(survey: Survey, stored: list[StoredSurvey]) -> str | None:
    """Why this file may not become a new version of its survey: its option codes contradict the stored versions'
    (analysts' exports would renumber answers). None when it is fine or when its content is already stored."""
    digest = content_hash(survey)
    if any(s.content_hash == digest for s in stored):
        return None
    earlier = [Survey.model_validate(s.definition) for s in sorted(stored, key=lambda s: s.version)]
    conflicts = code_conflicts([*earlier, survey])
    if not conflicts:
        return None
    return "option codes contradict the stored versions, not imported: " + "; ".join(conflicts)


def _deactivate_missing(uow: UnitOfWork, directory: Path, loaded: set[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Stop offering active surveys whose file is no longer in `directory` (an invalid file that is still there
    keeps its last valid version); a survey a scheduled or running campaign uses stays, named with that campaign."""
    try:
        present = {p.name for p in directory.iterdir() if p.is_file()}
    except OSError:  # an unreadable folder says nothing about which files are gone
        return [], []
    deactivated: list[str] = []
    kept: list[tuple[str, str]] = []
    for key, source in sorted(uow.surveys.active_sources().items()):
        if key in loaded or source in present:
            continue
        campaigns = uow.campaigns.using_survey(key)
        if campaigns:
            kept.append((key, ", ".join(f"#{c.id} {c.name!r} ({c.status})" for c in campaigns)))
            continue
        uow.surveys.set_active(key, False)
        deactivated.append(key)
    return deactivated, kept


def bump_catalog_generation(uow: UnitOfWork, now: datetime) -> None:
    """Tell running bots that surveys changed (they poll this key and reload their catalog)."""
    current = uow.channel_state.get(CATALOG_GENERATION_KEY)
    value = int(current) + 1 if current is not None and current.isdigit() else 1
    uow.channel_state.set(CATALOG_GENERATION_KEY, str(value), now)


def catalog_generation(db: Database) -> str | None:
    """The current catalog generation (None until something bumped it)."""
    with db.unit_of_work(read_only=True) as uow:
        return uow.channel_state.get(CATALOG_GENERATION_KEY)


def load_catalog(db: Database) -> SurveyCatalog:
    """All stored survey versions; the active ones that staff did not close are offered to citizens."""
    with db.unit_of_work(read_only=True) as uow:
        stored = uow.surveys.versions()
    versions = [SurveyVersion(s.key, s.version, Survey.model_validate(s.definition)) for s in stored]
    active = [(s.key, s.version) for s in stored if s.active]
    closed = {s.key: s.closed_at for s in stored if s.closed_at is not None}
    return SurveyCatalog(versions, active, closed=closed)
