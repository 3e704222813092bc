"""`stadtdialog followups list|cancel`: what is scheduled for citizens, and stopping it.

The listing shows pseudonyms (shortened), kinds, statuses, due times in the city's time zone and outcomes — never
channel ids or message texts. Cancelling only writes rows; the running bot simply no longer finds them due.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from bot.config import Config
from bot.storage.db import Database
from bot.storage.items import (
    FOLLOW_UP_HELD,
    FOLLOW_UP_PENDING,
    FOLLOW_UP_SKIPPED,
    OUTCOME_CANCELLED,
    OUTCOME_MISSED,
)
from bot.storage.repositories.claims import CANCELLABLE, FollowUpClaimRepository, FollowUpStaffRepository

PSEUDONYM_SHOWN = 12
EXIT_OK, EXIT_PROBLEMS = 0, 1


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `followups list` and `followups cancel` on the `stadtdialog` command."""
    followups = sub.add_parser("followups", help="scheduled follow-ups, reminders and invitations: list, cancel")
    actions = followups.add_subparsers(dest="followups_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="open rows soonest due first, then ended ones latest first; a count per status and outcome"
    )
    listing.add_argument("--citizen", metavar="PSEUDONYM", help="only this citizen (the pseudonym or its start)")
    listing.add_argument("--kind", help="only this kind, e.g. survey_followup, invitation")
    listing.add_argument("--status", help="only this status, e.g. pending, held, skipped")
    listing.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    cancel = actions.add_parser("cancel", help="cancel pending or held rows by id")
    cancel.add_argument("ids", nargs="+", type=int, metavar="ID")


def run(config: Config, database: Database, args: argparse.Namespace) -> int:
    """Carry out a parsed `followups` command; returns the exit code."""
    if args.followups_command == "cancel":
        return _cancel(database, args.ids)
    return _list(config, database, args)


def status_counts(session: Session) -> dict[str, int]:
    """Follow-up figures for `stadtdialog status`: waiting, held for a busy citizen, and missed while the bot
    was down (skipped after the grace period)."""
    counts = FollowUpClaimRepository(session).counts()
    return {
        "follow_ups_pending": sum(n for (status, _), n in counts.items() if status == FOLLOW_UP_PENDING),
        "follow_ups_held": sum(n for (status, _), n in counts.items() if status == FOLLOW_UP_HELD),
        "follow_ups_missed": counts.get((FOLLOW_UP_SKIPPED, OUTCOME_MISSED), 0),
    }


def _list(config: Config, database: Database, args: argparse.Namespace) -> int:
    with database.unit_of_work(read_only=True) as uow:
        rows = FollowUpStaffRepository(uow.session).listing(
            citizen_prefix=args.citizen, kind=args.kind, status=args.status, limit=max(1, args.limit)
        )
        counts = FollowUpClaimRepository(uow.session).counts()
    header = ("id", "kind", "status", f"due ({config.timezone.key})", "citizen", "outcome")
    table = [
        (
            str(row.id),
            row.kind,
            row.status,
            row.due_at.astimezone(config.timezone).strftime("%Y-%m-%d %H:%M"),
            row.citizen_id[:PSEUDONYM_SHOWN] + "…",
            row.outcome or "",
        )
        for row in rows
    ]
    if table:
        widths = [max(len(line[i]) for line in (header, *table)) for i in range(len(header))]
        for line in (header, *table):
            print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    else:
        print("no follow-ups match")
    summary = ", ".join(
        f"{status}{'/' + outcome if outcome else ''}={count}" for (status, outcome), count in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1] or "")
        )
    )
    print(f"all rows: {summary or 'none'}")
    return EXIT_OK


def _cancel(database: Database, ids: list[int]) -> int:
    now = datetime.now(UTC)
    with database.unit_of_work() as uow:
        repo = FollowUpStaffRepository(uow.session)
        before = repo.statuses(ids)
        cancelled = set(repo.cancel(ids, OUTCOME_CANCELLED, now))
    problems = 0
    for row_id in dict.fromkeys(ids):
        if row_id in cancelled:
            print(f"follow-up {row_id}: cancelled")
            continue
        problems += 1
        if row_id not in before:
            print(f"follow-up {row_id}: no such follow-up")
            continue
        status, outcome = before[row_id]
        if status in CANCELLABLE:  # changed between reading and cancelling (the bot just claimed it)
            print(f"follow-up {row_id}: is being delivered right now, not cancelled")
        elif status in ("running", "queued"):
            print(f"follow-up {row_id}: is being delivered right now ({status}), not cancelled")
        else:
            print(f"follow-up {row_id}: already ended ({status}{', ' + outcome if outcome else ''}), not cancelled")
    return EXIT_PROBLEMS if problems else EXIT_OK
