"""The `stadtdialog` command: run the bot, check survey files, look after the database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.analytics import cli as analytics_cli
from bot.campaigns import cli as campaign_cli
from bot.config import Config, ConfigError, load_config
from bot.staffdesk import cli as staff_cli

if TYPE_CHECKING:
    from bot.storage.db import Database
from bot.logging_setup import setup_logging

log = logging.getLogger("bot.cli")

EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG = 0, 1, 2
EXPORT_LABELS_HELP = "export ideas whose citizens consented to training use (redacted) as JSON lines"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stadtdialog", description="Citizen-dialogue bot (Telegram, Matrix, terminal)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="start every configured channel (the terminal chat when none is configured)")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("housekeeping", help="purge data past its retention time now (the bot does this hourly)")
    sub.add_parser("config", help="show the effective configuration (without secrets)")
    sub.add_parser(
        "status", help="counts of events waiting to be processed, messages waiting to be sent, and dead letters"
    )
    survey = sub.add_parser("survey", help="survey files: validate, preview, import, list")
    survey_sub = survey.add_subparsers(dest="survey_command", required=True, metavar="ACTION")
    validate = survey_sub.add_parser("validate", help="check survey files; prints every problem, exit 1 if any")
    validate.add_argument("files", nargs="+", type=Path)
    preview = survey_sub.add_parser("preview", help="walk through a survey file in the terminal")
    preview.add_argument("file", type=Path)
    preview.add_argument("--lang", choices=("de", "en"), default="de")
    imp = survey_sub.add_parser("import", help="import the survey folder (or DIR) into the database now")
    imp.add_argument("directory", nargs="?", type=Path)
    survey_sub.add_parser("list", help="list imported surveys and versions")
    campaign_cli.add_survey_commands(survey_sub)
    campaign_cli.add_campaign_command(sub)
    export = sub.add_parser(
        "export", help="data for analysts (pseudonymous ids): responses, ideas, followups, feedback, summary"
    )
    export_sub = export.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    feedback = export_sub.add_parser("feedback", help="every idea and classified free-text answer with its fields")
    feedback.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    feedback.add_argument("--dialect", choices=("excel", "plain"), default="excel",
                          help="CSV convention: excel (default: ';', decimal comma, BOM, local time) or plain")
    feedback.add_argument("--excel", action="store_true", help="deprecated: the same as --dialect excel (default)")
    feedback.add_argument("--out", type=Path, help="file to write, readable by its owner only (default: stdout)")
    feedback.add_argument(
        "--no-redact", action="store_true", help="texts as written (default: e-mail, phone, addresses, names hidden)"
    )
    report = export_sub.add_parser("summary", help="ideas and answers per strategy field")
    for command in (feedback, report):
        command.add_argument("--since", help="only from this day on (YYYY-MM-DD, in the city's time zone)")
        command.add_argument("--field", help="only this strategy field (its key, e.g. mobilitaet)")
    analytics_cli.add_export_commands(export_sub)
    analytics_cli.add_report_command(sub)
    staff_cli.add_idea_command(sub)
    staff_cli.add_audit_command(sub)
    from bot.outreach.cli import add_parser as add_followups

    add_followups(sub)
    from bot.themes.cli import add_parser as add_themes

    add_themes(sub)
    nlp = sub.add_parser(
        "nlp", help="classifier, idea matcher, themes: classify, evaluate, train, similar, themes, export-labels "
        "(see `nlp --help`)"
    )
    nlp.add_argument("nlp_args", nargs=argparse.REMAINDER)
    return parser


def _validate(files: Sequence[Path]) -> int:
    from surveys.loader import validate_file

    failed = 0
    for path in files:
        problems = validate_file(path)
        if problems:
            failed += 1
            for problem in problems:
                print(problem)
        else:
            print(f"{path}: OK")
    return EXIT_PROBLEMS if failed else EXIT_OK


def _preview(path: Path, lang: str) -> int:
    from surveys.loader import SurveyError, load_survey
    from surveys.preview import preview

    try:
        survey = load_survey(path)
    except SurveyError as exc:
        for problem in exc.problems:
            print(problem)
        return EXIT_PROBLEMS

    def read(prompt: str) -> str:
        return input(prompt)

    try:
        preview(survey, lang, read, print)
    except (EOFError, KeyboardInterrupt):
        print()
    return EXIT_OK


@contextlib.contextmanager
def _database(config: Config) -> Iterator[Database]:
    """The configured database, migrated to the current schema; its connections closed afterwards."""
    from bot.storage.db import Database

    database = Database(config.database_url)
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()


def _import(config: Config, directory: Path | None) -> int:
    from bot.app import field_infos
    from bot.runtime import utcnow
    from bot.survey_sync import import_surveys

    with _database(config) as database:
        folder = directory or config.survey_dir
        report = import_surveys(database, folder, {f.key for f in field_infos()}, utcnow(),
                                deactivate_missing=folder.resolve() == config.survey_dir.resolve())
    for key, version, created in report.imported:
        print(f"{key} v{version}: {'new version' if created else 'unchanged'}")
    for key in report.deactivated:
        print(f"{key}: file gone from {config.survey_dir}, no longer offered")
    for key, campaigns in report.kept:
        print(f"{key}: file gone, but still offered for campaign {campaigns}")
    for problem in report.problems:
        print(problem)
    return EXIT_PROBLEMS if report.problems else EXIT_OK


def _list(config: Config) -> int:
    with _database(config) as database, database.unit_of_work() as uow:
        closed_keys = uow.surveys.closed()
        for stored in uow.surveys.versions():
            closed = " closed" if closed_keys.get(stored.key) else ""
            print(f"{stored.key} v{stored.version} {'active' if stored.active else 'inactive'}{closed}")
    return EXIT_OK


def _show_config(config: Config) -> int:
    print(f"data_dir={config.data_dir}")
    print(f"database={config.database_url.split('@')[-1] if '@' in config.database_url else config.database_url}")
    print(f"survey_dir={config.survey_dir}")
    print(f"telegram={'on (' + config.telegram_mode + ')' if config.telegram_enabled else 'off'}")
    print(f"matrix={'on (' + str(config.matrix_user) + ')' if config.matrix_enabled else 'off'}")
    print(f"timezone={config.timezone.key}")
    print(f"quiet_hours={config.quiet_hours or 'off'}")
    print(f"consent_version={config.consent_version}")
    print(f"log_level={config.log_level}")
    print(f"classifier={'on' if config.classifier_enabled else 'off'}")
    print(f"staff_entries={len(config.staff)}")
    print(f"audit_retention_days={config.audit_retention.days}")
    return EXIT_OK


def _status(config: Config) -> int:
    """Read-only counts for staff (no message text, no ids): is anything stuck or given up?

    It does not migrate: a status check must not change the schema under a running bot.
    """
    from sqlalchemy.exc import DBAPIError

    from bot.outreach.cli import status_counts
    from bot.storage.db import Database

    database = Database(config.database_url)
    try:
        with database.unit_of_work(read_only=True) as uow:
            counts = {
                "inbox_pending": uow.inbox.pending_count(),
                "outbox_pending": uow.outbox.pending_count(),
                "dead_letters": uow.outbox.failed_count(),
                **status_counts(uow.session),
            }
    except DBAPIError as exc:
        print(f"Cannot read the database ({type(exc.orig).__name__}); is it migrated? "
              "Run `stadtdialog migrate`.", file=sys.stderr)
        return EXIT_PROBLEMS
    finally:
        database.dispose()
    for key, value in counts.items():
        print(f"{key}={value}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `stadtdialog` command; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:2] == ["nlp", "export-labels"]:
        return _export_labels(arguments[2:])
    if arguments[:1] == ["nlp"]:
        from nlp.cli import main as nlp_main

        return nlp_main(arguments[1:], {"export-labels": EXPORT_LABELS_HELP})
    args = _parser().parse_args(arguments)
    if args.command == "survey" and args.survey_command == "validate":
        return _validate(args.files)
    if args.command == "survey" and args.survey_command == "preview":
        return _preview(args.file, args.lang)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(config.log_level)
    if args.command == "run":
        from bot.app import serve
        from bot.channels.base import ChannelStartError

        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(serve(config))
        except (ConfigError, ChannelStartError) as exc:
            print(f"Cannot start: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        return EXIT_OK
    if args.command == "migrate":
        with _database(config):
            print("database is up to date")
        return EXIT_OK
    if args.command == "housekeeping":
        return _housekeeping(config)
    if args.command == "config":
        return _show_config(config)
    if args.command == "status":
        return _status(config)
    if args.command == "export" and args.export_command in analytics_cli.WHAT:
        with _database(config) as database:
            return analytics_cli.run_export(config, database, args)
    if args.command == "export":
        return _export(config, args)
    if args.command == "report":
        with _database(config) as database:
            return analytics_cli.run_report(config, database, args)
    if args.command == "followups":
        from bot.outreach.cli import run as followups

        with _database(config) as database:
            return followups(config, database, args)
    if args.command == "themes":
        from bot.themes.cli import run as themes

        with _database(config) as database:
            return themes(config, database, args)
    if args.command in ("idea", "audit"):
        with _database(config) as database:
            return staff_cli.run(config, database, args)
    if args.command == "campaign" or getattr(args, "survey_command", None) in ("close", "reopen"):
        with _database(config) as database:
            return campaign_cli.run(config, database, args)
    if args.survey_command == "import":
        return _import(config, args.directory)
    return _list(config)


def _export_labels(arguments: Sequence[str]) -> int:
    """`stadtdialog nlp export-labels [--out FILE]`: consented citizens' confirmed ideas as training JSON lines."""
    parser = argparse.ArgumentParser(
        prog="stadtdialog nlp export-labels",
        description="Export ideas whose citizens consented to training use (redacted) as JSON lines.",
    )
    parser.add_argument("--out", type=Path, help="file to write, readable by its owner only (default: stdout)")
    args = parser.parse_args(list(arguments))
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    from nlp.labels import export_labels

    with _database(config) as database, _output(args.out) as out:
        count = export_labels(database, out)
    print(f"exported {count} labelled ideas", file=sys.stderr)
    return EXIT_OK


def _export(config: Config, args: argparse.Namespace) -> int:
    """`stadtdialog export feedback|summary`: what analysts need, pseudonymous and (by default) redacted."""
    from bot.analytics.pseudonyms import FEEDBACK_SCOPE, export_pseudonym
    from bot.app import field_infos
    from bot.feedback import summary, write_csv, write_jsonl
    fields = field_infos()
    keys = [f.key for f in fields]
    if args.field is not None and args.field not in keys:
        print(f"Unknown strategy field {args.field!r}; known: {', '.join(keys)}", file=sys.stderr)
        return EXIT_CONFIG
    since = None
    if args.since is not None:
        try:
            day = date.fromisoformat(args.since)
        except ValueError:
            print(f"--since: expected a day as YYYY-MM-DD, got {args.since!r}", file=sys.stderr)
            return EXIT_CONFIG
        since = datetime.combine(day, time.min, tzinfo=config.timezone).astimezone(UTC)
    with _database(config) as database, database.unit_of_work(read_only=True) as uow:
        from bot.campaigns.audience import staff_citizen_ids

        staff = staff_citizen_ids(uow.session, config.staff, config.pseudonym_secret)  # staff are no respondents
        rows = (row for row in uow.feedback.rows(since=since, field_key=args.field) if row.citizen not in staff)
        if args.export_command == "summary":
            print(summary(rows, {f.key: f.name["de"] for f in fields}))
            return EXIT_OK
        # The citizen column carries the `feedback`-scope pseudonym: it matches no other export.
        secret = config.pseudonym_secret
        rows = (replace(row, citizen=export_pseudonym(secret, row.citizen, FEEDBACK_SCOPE)) for row in rows)
        with _output(args.out) as out:
            if args.format == "jsonl":
                count = write_jsonl(rows, out, keep_text=args.no_redact)
            else:
                dialect = "excel" if args.excel else args.dialect
                count = write_csv(rows, out, keys, keep_text=args.no_redact, dialect=dialect, timezone=config.timezone)
    print(f"exported {count} rows", file=sys.stderr)
    return EXIT_OK


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """Standard output, or a new file only its owner can read (the rows are about citizens)."""
    if path is None:
        yield sys.stdout
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when the file existed before
    with open(descriptor, "w", encoding="utf-8", newline="") as out:
        yield out


def _housekeeping(config: Config) -> int:
    from bot.app import build_runtime

    runtime = build_runtime(config, classify=False)
    counts = asyncio.run(runtime.housekeeping())
    runtime.db.dispose()
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
