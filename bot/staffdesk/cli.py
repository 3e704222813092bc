"""`stadtdialog idea list|show|status` and `stadtdialog audit`: staff's idea desk and the audit log on the command line
(`idea moderate` and `idea merge`: `bot.staffdesk.moderation_cli`).

Reading citizens' ideas and changing a status are written to the staff audit log (actor `cli:<OS user>`, role and
channel "cli"), in the same transaction as the change. The CLI never sends: a status change writes the author's
"idea_news" follow_ups row, which the running bot delivers (opt-in, quiet hours, daily cap, /pause apply).
Bad input (unknown idea, status, field or day, a missing or too long note) ends with one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from bot.staffdesk import audit
from bot.staffdesk.idea_status import STATUS_LABELS, IdeaStatusError, excerpt, parse_status

if TYPE_CHECKING:  # storage is imported lazily: `stadtdialog --help` stays quick
    from bot.config import Config
    from bot.storage.db import Database, UnitOfWork
    from bot.storage.items import StoredIdea

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
LIST_LIMIT = 20
NO_FIELD = "none"
"""`--field none`: ideas filed without a strategy field."""


class UsageError(Exception):
    """Input the user must change; the message says what."""


def add_idea_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`idea list|show|status`."""
    idea = sub.add_parser("idea", help="citizens' ideas: list, show, set a status (the author hears of it)")
    actions = idea.add_subparsers(dest="idea_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the latest ideas with reference, status and the start of the text")
    listing.add_argument("--field", help=f"only this strategy field (its key; {NO_FIELD!r}: filed without one)")
    listing.add_argument("--status", help="only this status (new, review, planned, done, rejected or German name)")
    listing.add_argument("--limit", type=int, default=LIST_LIMIT, help=f"at most N ideas (default {LIST_LIMIT})")
    listing.add_argument("--json", action="store_true", help="one JSON object per line, with the full text")
    show = actions.add_parser("show", help="one idea in full, with its status history")
    show.add_argument("ref", metavar="REF", help="the idea's reference i_… (or a unique prefix of 6+ digits)")
    status = actions.add_parser("status", help="set an idea's status with a public note; the author is told")
    status.add_argument("ref", metavar="REF", help="the idea's reference i_… (or a unique prefix of 6+ digits)")
    status.add_argument("status", metavar="STATUS",
                        help='new, review, planned, done, rejected, or "in Prüfung", "wird umgesetzt", …')
    status.add_argument("--note", help="the public note in German (mandatory for rejected)")
    status.add_argument("--note-en", help="the same note in English (optional)")
    from bot.staffdesk import moderation_cli

    moderation_cli.add_arguments(actions)


def add_audit_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`audit [--since DAY] [--json]`."""
    log = sub.add_parser("audit", help="the staff audit log: who did what, when, in which role, from where")
    log.add_argument("--since", metavar="YYYY-MM-DD", help="from this day on (in the city's time zone)")
    log.add_argument("--json", action="store_true", help="one JSON object per line")


def run(config: Config, database: Database, args: argparse.Namespace) -> int:
    """Dispatch a parsed `idea …` or `audit` command; returns the exit code."""
    command: Callable[[Config, Database, argparse.Namespace], int]
    from bot.staffdesk import moderation_cli

    commands = {**COMMANDS, **moderation_cli.COMMANDS}
    command = _audit if args.command == "audit" else commands[args.idea_command]
    try:
        return command(config, database, args)
    except UsageError as exc:
        name = "audit" if args.command == "audit" else f"idea {args.idea_command}"
        print(f"stadtdialog {name}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _now() -> datetime:
    return datetime.now(UTC)


def _record(uow: UnitOfWork, action: str, target: str | None, outcome: str, details: dict[str, Any]) -> None:
    audit.record(uow, actor=audit.cli_actor(), role=audit.ROLE_CLI, channel=audit.CHANNEL_CLI, action=action,
                 target=target, outcome=outcome, details=details, now=_now())


def _resolve(uow: UnitOfWork, ref: str, secret: bytes) -> str:
    from bot.staffdesk.idea_status import resolve_idea

    try:
        return resolve_idea(uow, ref, secret)
    except IdeaStatusError as exc:
        raise UsageError(str(exc)) from None


def _field_keys() -> list[str]:
    from nlp.fields import load_fields

    return [f.key for f in load_fields()]


# --------------------------------------------------------------------------------------------------- idea list


def _list(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.analytics.pseudonyms import idea_pseudonym

    field = args.field
    if field is not None and field != NO_FIELD and field not in (keys := _field_keys()):
        raise UsageError(f"unknown strategy field {field!r}; known: {', '.join(keys)}, or {NO_FIELD}")
    try:
        status = None if args.status is None else parse_status(args.status)
    except IdeaStatusError as exc:
        raise UsageError(str(exc)) from None
    if args.limit < 1:
        raise UsageError(f"--limit: at least 1, got {args.limit}")
    secret = config.pseudonym_secret
    with database.unit_of_work() as uow:
        ideas = uow.ideas.latest(field="" if field == NO_FIELD else field, status=status, limit=args.limit)
        _record(uow, "idea_list", field, audit.OUTCOME_OK,
                {"field": field, "status": status, "limit": args.limit, "shown": len(ideas)})
    if args.json:
        for idea in ideas:
            print(json.dumps(_idea_json(idea, idea_pseudonym(secret, idea.id)), ensure_ascii=False))
        return EXIT_OK
    if not ideas:
        print("no ideas match")
        return EXIT_OK
    print(f"{'reference':<18}  {'filed':<16}  {'status':<15}  {'field':<14}  text")
    for idea in ideas:
        print(f"{idea_pseudonym(secret, idea.id):<18}  {config.local_minute(idea.created_at):<16}  "
              f"{STATUS_LABELS[idea.status][0] if idea.status in STATUS_LABELS else idea.status:<15}  "
              f"{idea.field or '—':<14}  {excerpt(idea.text, 60)}")
    return EXIT_OK


def _idea_json(idea: StoredIdea, ref: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "created_at": idea.created_at.isoformat(),
        "status": idea.status,
        "status_note": idea.status_note,
        "status_note_en": idea.status_note_en,
        "status_at": None if idea.status_at is None else idea.status_at.isoformat(),
        "fields": list(idea.fields),
        "text": idea.text,
    }


# --------------------------------------------------------------------------------------------------- idea show


def _show(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.analytics.pseudonyms import idea_pseudonym
    from bot.storage.items import OPT_IN_IDEA_NEWS

    with database.unit_of_work() as uow:
        idea_id = _resolve(uow, args.ref, config.pseudonym_secret)
        idea = uow.ideas.get(idea_id)
        assert idea is not None  # resolved in this transaction
        history = uow.ideas.history(idea_id)
        opted_in = idea.citizen_id is not None and OPT_IN_IDEA_NEWS in uow.opt_ins.current(idea.citizen_id)
        ref = idea_pseudonym(config.pseudonym_secret, idea_id)
        _record(uow, "idea", ref, audit.OUTCOME_OK, {})
    print(f"idea      {ref}")
    print(f"filed     {config.local_minute(idea.created_at)} ({config.timezone.key})")
    print(f"fields    {', '.join(idea.fields) or '—'}")
    print(f"status    {_status_text(idea.status)} since {config.local_minute(idea.status_at or idea.created_at)}")
    if idea.status_note:
        print(f"note      {idea.status_note}")
    if idea.status_note_en:
        print(f"note (en) {idea.status_note_en}")
    print(f"news      {'the author opted in to idea news' if opted_in else 'the author did not opt in to idea news'}")
    print()
    print(idea.text)
    if history:
        print()
        print("history")
        for change in history:
            note = f": {change.note}" if change.note else ""
            print(f"  {config.local_minute(change.changed_at)}  {_status_text(change.status)} ({change.source}){note}")
    return EXIT_OK


def _status_text(status: str) -> str:
    return f"{STATUS_LABELS[status][0]} [{status}]" if status in STATUS_LABELS else status


# --------------------------------------------------------------------------------------------------- idea status


def _status(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.staffdesk.idea_status import set_idea_status

    try:
        status = parse_status(args.status)
    except IdeaStatusError as exc:
        raise UsageError(str(exc)) from None
    secret = config.pseudonym_secret
    error: IdeaStatusError | None
    with database.unit_of_work() as uow:
        idea_id = _resolve(uow, args.ref, secret)
        try:
            change = set_idea_status(uow, idea_id, status, args.note, args.note_en, now=_now(), source="cli",
                                     secret=secret)
        except IdeaStatusError as exc:  # raised before anything was written: only the attempt is recorded
            from bot.analytics.pseudonyms import idea_pseudonym

            _record(uow, "idea_status", idea_pseudonym(secret, idea_id), audit.OUTCOME_REFUSED,
                    {"status": status, "error": exc.code})
            error = exc
        else:
            _record(uow, "idea_status", change.ref, audit.OUTCOME_OK,
                    {"from": change.old_status, "to": change.status, "note": change.note, "note_en": change.note_en})
            error = None
    if error is not None:
        print(f"stadtdialog idea status: {error}", file=sys.stderr)
        return EXIT_PROBLEMS if error.code == "unchanged" else EXIT_USAGE
    print(f"idea {change.ref}: {_status_text(change.old_status)} → {_status_text(change.status)}")
    print("the running bot tells the author if they opted in to idea news (quiet hours, daily cap and /pause apply)")
    return EXIT_OK


# --------------------------------------------------------------------------------------------------- audit


def _audit(config: Config, database: Database, args: argparse.Namespace) -> int:
    since = None
    if args.since is not None:
        try:
            day = date.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since: expected a day as YYYY-MM-DD, got {args.since!r}") from None
        since = datetime.combine(day, time.min, tzinfo=config.timezone).astimezone(UTC)
    with database.unit_of_work(read_only=True) as uow:
        entries = uow.audit.between(since=since)
    if args.json:
        for entry in entries:
            print(json.dumps({"at": entry.at.isoformat(), "actor": entry.actor, "role": entry.role,
                              "channel": entry.channel, "action": entry.action, "target": entry.target,
                              "outcome": entry.outcome, "details": entry.details}, ensure_ascii=False))
        return EXIT_OK
    if not entries:
        print("no audit entries" + ("" if since is None else f" since {args.since}"))
        return EXIT_OK
    rows: Sequence[tuple[str, ...]] = [
        (config.local_minute(e.at), e.actor, e.role, e.channel, e.action, e.target or "—", e.outcome,
         json.dumps(e.details, ensure_ascii=False, sort_keys=True) if e.details else "")
        for e in entries
    ]
    header = ("at", "actor", "role", "channel", "action", "target", "outcome", "details")
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return EXIT_OK


COMMANDS: dict[str, Callable[[Config, Database, argparse.Namespace], int]] = {
    "list": _list,
    "show": _show,
    "status": _status,
}
