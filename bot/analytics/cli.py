"""`stadtdialog export responses|ideas|followups` and `stadtdialog report`: the analysts' commands.

Parsing and checking of the options, then: one read-only unit of work, a table from `tables`, a file from the
writers (`bot.analytics.writers`). Every problem an analyst can fix (unknown survey, campaign or channel, a bad
date, a missing folder) ends with a one-line message and exit code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.analytics.model import Codebook, Row
from bot.analytics.pseudonyms import LINKED_SCOPE
from bot.analytics.query import (
    ExportFilter,
    FilterError,
    check_filter,
    iter_follow_ups,
    iter_ideas,
    iter_responses,
    survey_versions,
    surveys_with_responses,
)
from bot.analytics.tables import field_names, followup_table, idea_table, response_table
from bot.analytics.writers import WriterError, private_folder, write_table
from bot.campaigns.audience import staff_citizen_ids
from bot.config import Config
from bot.storage.db import Database
from handlers.events import FieldInfo

log = logging.getLogger("bot.analytics")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FORMATS = ("csv", "xlsx", "jsonl", "sav")
DIALECTS = ("excel", "plain")
LANGUAGES = ("de", "en")
WHAT = ("responses", "ideas", "followups")

_Table = tuple[Codebook, Iterator[Row]]


class UsageError(Exception):
    """Something the analyst asked for that cannot be done; the message says what to change."""


# --------------------------------------------------------------------------------------------------- parser


def _filters(command: argparse.ArgumentParser, *, survey: bool) -> None:
    if survey:
        command.add_argument("--survey", metavar="KEY", help="only this survey (default: every survey, one file "
                                                             "each, into the folder --out)")
        command.add_argument("--campaign", metavar="NAME", help="only responses that came through this campaign "
                                                                "(its name, or #id)")
    command.add_argument("--since", metavar="YYYY-MM-DD", help="from this day on (in the city's time zone)")
    command.add_argument("--until", metavar="YYYY-MM-DD", help="up to and including this day")
    command.add_argument("--channel", choices=("telegram", "matrix", "terminal"), help="only citizens of this channel")


def add_export_commands(export_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `export responses`, `export ideas` and `export followups`."""
    helps = {
        "responses": "survey answers, one row per response, with a codebook (csv, xlsx, jsonl, sav)",
        "ideas": "ideas, one row per idea, with fields, the classifier's proposal and scores, and a codebook",
        "followups": "follow-up questions, one row per scheduled follow-up, with a codebook",
    }
    for what in WHAT:
        command = export_sub.add_parser(what, help=helps[what])
        _filters(command, survey=what != "ideas")
        command.add_argument("--format", choices=FORMATS, default="csv", help="file format (default csv)")
        command.add_argument("--dialect", choices=DIALECTS, default="excel",
                             help="CSV flavour: excel (default: German Excel, ';', decimal comma, BOM, local time) "
                                  "or plain (',', decimal point, ISO 8601)")
        command.add_argument("--no-redact", action="store_true",
                             help="texts as written (default: e-mail, phone, addresses, names hidden)")
        if what != "ideas":
            command.add_argument("--link-surveys", action="store_true",
                                 help="the same person gets the same pseudonym in every survey (logged)")
        command.add_argument("--out", type=Path, required=True, metavar="PATH",
                             help="file to write (owner-only); a folder when --survey is not given")


def add_report_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `report`."""
    report = sub.add_parser("report", help="one self-contained HTML report with charts (small numbers suppressed)")
    report.add_argument("--survey", metavar="KEY", help="only this survey (default: every survey)")
    report.add_argument("--campaign", metavar="NAME", help="only responses through this campaign (name or #id)")
    report.add_argument("--since", metavar="YYYY-MM-DD", help="from this day on (in the city's time zone)")
    report.add_argument("--until", metavar="YYYY-MM-DD", help="up to and including this day")
    report.add_argument("--lang", choices=LANGUAGES, default="de", help="language of the report (default de)")
    report.add_argument("--min-count", type=int, metavar="K",
                        help="suppress every number below K respondents (default STADTDIALOG_MIN_COUNT or 5)")
    report.add_argument("--out", type=Path, required=True, metavar="FILE", help="the HTML file to write")


# --------------------------------------------------------------------------------------------------- options


def parse_day(option: str, text: str | None, zone: ZoneInfo, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD day in the city's zone as a UTC instant: its start, or (`end`) the start of the next day."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: expected a day as YYYY-MM-DD, got {text!r}") from None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def export_filter(args: argparse.Namespace, zone: ZoneInfo) -> ExportFilter:
    """The filter the command-line options describe (dates checked)."""
    since = parse_day("--since", args.since, zone)
    until = parse_day("--until", args.until, zone, end=True)
    if since is not None and until is not None and until <= since:
        raise UsageError("--until is before --since: the period is empty")
    return ExportFilter(getattr(args, "survey", None), getattr(args, "campaign", None), since, until,
                        getattr(args, "channel", None))


def _field_infos() -> tuple[FieldInfo, ...]:
    """The strategy fields (as `bot.app.field_infos`, without importing the runtime)."""
    from handlers.fields import field_infos

    return field_infos()


def _target_file(out: Path, name: str) -> Path:
    """`out` itself, or `<out>/<name>` when `out` is an existing folder; its folder must exist."""
    if out.is_dir():
        return out / name
    if not out.parent.is_dir():
        raise UsageError(f"--out: the folder {out.parent} does not exist")
    return out


# --------------------------------------------------------------------------------------------------- export


def run_export(config: Config, database: Database, args: argparse.Namespace) -> int:
    """Carry out `export responses|ideas|followups`; returns the exit code."""
    try:
        return _export(config, database, args)
    except UsageError as exc:
        print(f"stadtdialog export {args.export_command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FilterError as exc:
        print(f"stadtdialog export {args.export_command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WriterError as exc:
        print(f"stadtdialog export {args.export_command}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _export(config: Config, database: Database, args: argparse.Namespace) -> int:
    what: str = args.export_command
    flt = export_filter(args, config.timezone)
    fields = field_names(_field_infos())
    secret = config.pseudonym_secret
    redact_text = not args.no_redact
    linked = bool(getattr(args, "link_surveys", False))
    extension = args.format

    def write(table: _Table, target: Path) -> int:
        codebook, rows = table
        return write_table(codebook, rows, args.format, target, dialect=args.dialect, timezone=config.timezone)

    written: list[tuple[Path, int]] = []
    with database.unit_of_work(read_only=True) as uow:
        session = uow.session
        check_filter(session, flt)
        flt = replace(flt, exclude=staff_citizen_ids(session, config.staff, secret))  # staff are no respondents
        if linked:
            log.warning("event=export_linked_pseudonyms what=%s survey=%s", what, flt.survey or "*")
        if args.no_redact:
            log.warning("event=export_unredacted what=%s", what)
        if what == "ideas":
            target = _target_file(args.out, f"ideas.{extension}")
            table = idea_table(fields, iter_ideas(session, flt), secret=secret, redact_text=redact_text)
            written.append((target, write(table, target)))
        else:
            if flt.survey is not None:
                keys = [flt.survey]
                folder = None
            else:
                keys = surveys_with_responses(session, flt)
                if args.out.exists() and not args.out.is_dir():
                    raise UsageError(f"--out: without --survey this is a folder (one file per survey), but {args.out}"
                                     " is a file")
                folder = private_folder(args.out)
            for key in keys:
                name = f"{key}.{extension}" if what == "responses" else f"{key}.followups.{extension}"
                target = folder / name if folder is not None else _target_file(args.out, name)
                versions = survey_versions(session, key)
                scope = LINKED_SCOPE if linked else key
                if what == "responses":
                    table = response_table(versions, fields, iter_responses(session, key, flt), secret=secret,
                                           scope=scope, redact_text=redact_text)
                else:
                    table = followup_table(versions, fields, iter_follow_ups(session, key, flt), secret=secret,
                                           scope=scope, redact_text=redact_text)
                written.append((target, write(table, target)))
    for target, count in written:
        log.info("event=export_written what=%s format=%s rows=%s", what, args.format, count)
        print(f"exported {count} rows to {target}", file=sys.stderr)
    if not written:
        print(f"no survey has responses in the chosen period; nothing written to {args.out}", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------------------------------- report


def run_report(config: Config, database: Database, args: argparse.Namespace) -> int:
    """Carry out `report`: build the HTML with `bot.analytics.report.build_report` and write it owner-only."""
    try:
        since = parse_day("--since", args.since, config.timezone)
        until = parse_day("--until", args.until, config.timezone, end=True)
        if since is not None and until is not None and until <= since:
            raise UsageError("--until is before --since: the period is empty")
        min_count = args.min_count if args.min_count is not None else config.min_count
        if min_count < 2:
            raise UsageError(f"--min-count: at least 2 (a count of one identifies a person), got {min_count}")
        if not args.out.parent.is_dir():
            raise UsageError(f"--out: the folder {args.out.parent} does not exist")
        with database.unit_of_work(read_only=True) as uow:
            check_filter(uow.session, ExportFilter(args.survey, args.campaign, since, until))
            staff = staff_citizen_ids(uow.session, config.staff, config.pseudonym_secret)
    except (UsageError, FilterError) as exc:
        print(f"stadtdialog report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from bot.analytics.report import build_report, write_report  # matplotlib loads for this command only

    try:
        html = build_report(
            database, survey=args.survey, campaign=args.campaign, since=since, until=until, lang=args.lang,
            min_count=min_count, timezone=config.timezone, fields=_field_infos(), now=datetime.now(UTC),
            exclude=staff,
        )
    except ValueError as exc:  # the report's ReportFilterError is a ValueError too
        print(f"stadtdialog report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        write_report(html, args.out)
    except WriterError as exc:
        print(f"stadtdialog report: {exc}", file=sys.stderr)
        return EXIT_FAILED
    log.info("event=report_written lang=%s min_count=%s", args.lang, min_count)
    print(f"report written to {args.out}", file=sys.stderr)
    return EXIT_OK
