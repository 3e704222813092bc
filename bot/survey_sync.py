"""Import the survey files of a folder into the database (idempotent) and build the core's catalog."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.storage.db import Database
from surveys.catalog import SurveyCatalog, SurveyVersion
from surveys.loader import Problem, content_hash, load_directory
from surveys.schema import Survey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    """What an import did: (key, version, created) per file, and the problems of files that were skipped."""

    imported: list[tuple[str, int, bool]]
    problems: list[Problem]


def import_surveys(db: Database, directory: Path, field_keys: set[str], now: datetime) -> ImportReport:
    """Import every valid survey file; a changed file becomes a new version, an unchanged one is a no-op.

    Invalid files are reported and skipped — they never stop the bot, and a survey whose file became invalid
    keeps its last valid version active.
    """
    if not directory.is_dir():
        log.warning("event=survey_dir_missing path=%s", directory)
        return ImportReport([], [])
    loaded, problems = load_directory(directory)
    imported: list[tuple[str, int, bool]] = []
    with db.unit_of_work() as uow:
        for path, survey in loaded:
            if survey.field is not None and survey.field not in field_keys:
                problems.append(Problem(path.name, None, "field", f"unknown strategy field '{survey.field}'"))
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
    for key, version, created in imported:
        log.info("event=survey_imported key=%s version=%s new=%s", key, version, created)
    for problem in problems:
        log.error("event=survey_invalid problem=%r", str(problem))
    return ImportReport(imported, problems)


def load_catalog(db: Database) -> SurveyCatalog:
    """All stored survey versions; the active ones are offered to citizens."""
    with db.unit_of_work() as uow:
        stored = uow.surveys.versions()
    versions = [SurveyVersion(s.key, s.version, Survey.model_validate(s.definition)) for s in stored]
    active = [(s.key, s.version) for s in stored if s.active]
    closed = {s.key: s.closed_at for s in stored if s.closed_at is not None}
    return SurveyCatalog(versions, active, closed)
