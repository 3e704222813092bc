"""`stadtdialog campaign …` and `stadtdialog survey close|reopen`: parse, call the service, print.

The CLI never sends: it writes rows that the running bot picks up within seconds (see bot/campaigns/tick.py).
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.campaigns import CHANNELS, LANGUAGES

if TYPE_CHECKING:  # the commands import storage lazily: `stadtdialog survey validate` stays quick
    from bot.campaigns import status
    from bot.config import Config
    from bot.storage.db import Database

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
FOLLOW_INTERVAL_S = 2.0


def add_survey_commands(survey_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`survey close KEY`, `survey reopen KEY`."""
    close = survey_sub.add_parser("close", help="stop offering a survey (citizens in the middle may finish)")
    close.add_argument("key")
    reopen = survey_sub.add_parser("reopen", help="offer a closed survey again")
    reopen.add_argument("key")


def add_campaign_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`campaign create|list|show|launch|test|close|cancel`."""
    campaign = sub.add_parser("campaign", help="invite opted-in citizens to a survey: create, launch, follow, close")
    actions = campaign.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="a draft campaign for a survey (see docs/campaigns.md)")
    create.add_argument("--survey", required=True, help="the survey's key (stadtdialog survey list)")
    create.add_argument("--name", help="a name staff recognise (default: the survey's title)")
    create.add_argument("--channel", action="append", default=[], help="only this channel (repeatable)")
    create.add_argument("--language", action="append", default=[], choices=LANGUAGES,
                        help="only citizens using this language (repeatable)")
    create.add_argument("--field", action="append", default=[],
                        help="strategy field(s) of a survey whose file names none (for opted-in field subscribers)")
    create.add_argument("--start", help='"YYYY-MM-DD HH:MM" in the city time zone (default: now)')
    create.add_argument("--end", help='"YYYY-MM-DD HH:MM" in the city time zone (default: 14 days after the start)')
    create.add_argument("--remind-after-days", type=int, help="one reminder N days after the start")
    actions.add_parser("list", help="all campaigns with their status")
    show = actions.add_parser("show", help="a campaign's figures: invited, delivered, started, completed …")
    show.add_argument("id", type=int)
    show.add_argument("--follow", action="store_true", help="refresh every 2 s until Ctrl-C")
    launch = actions.add_parser("launch", help="schedule a draft; the running bot starts it at its start time")
    launch.add_argument("id", type=int)
    launch.add_argument("--dry-run", action="store_true", help="show audience, timing and the first message only")
    launch.add_argument("--no-follow", action="store_true", help="do not show the progress bar (for scripts)")
    test = actions.add_parser("test", help="send the invitation to one staff member first")
    test.add_argument("id", type=int)
    test.add_argument("--to", required=True, metavar="CHANNEL:USER", help="a STADTDIALOG_STAFF entry")
    for name, text in (("close", "end a running campaign: no more invitations or reminders"),
                       ("cancel", "stop a draft, scheduled or running campaign")):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=int)


def run(config: Config, database: Database, args: argparse.Namespace) -> int:
    """Dispatch a parsed `campaign …` or `survey close|reopen` command; CampaignError → message, exit 1."""
    from bot.campaigns.service import CampaignError

    try:
        if args.command == "survey":
            return _survey(config, database, args)
        command: Callable[[Config, Database, argparse.Namespace], int] = COMMANDS[args.campaign_command]
        return command(config, database, args)
    except CampaignError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS


def _now() -> datetime:
    return datetime.now(UTC)


def _duration(span: timedelta) -> str:
    """`2 days`, `6 hours`, `90 minutes` — how staff say it."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _survey(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.campaigns import service

    with database.unit_of_work() as uow:
        if args.survey_command == "reopen":
            service.reopen_survey(uow, args.key, _now())
            print(f"survey {args.key} is offered again")
            return EXIT_OK
        ended = service.close_survey(uow, args.key, _now())
    print(f"survey {args.key} closed: no longer offered; citizens in the middle may finish within "
          f"{_duration(config.survey_close_grace)}")
    for campaign, cancelled in ended:
        print(f"  campaign {campaign.id} ({campaign.name}) is now {campaign.status}; {cancelled} invitations or "
              "reminders cancelled")
    return EXIT_OK


def _create(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.app import field_infos
    from bot.campaigns import service
    from bot.survey_sync import load_catalog

    tz = config.timezone
    spec = service.CampaignSpec(
        survey_key=args.survey,
        name=args.name,
        channels=args.channel,
        languages=args.language,
        fields=args.field,
        starts_at=None if args.start is None else service.parse_local_time(args.start, tz),
        ends_at=None if args.end is None else service.parse_local_time(args.end, tz),
        remind_after_days=args.remind_after_days,
        created_by=_who(),
    )
    catalog = load_catalog(database)
    with database.unit_of_work() as uow:
        campaign = service.create_campaign(uow, spec, catalog, [f.key for f in field_infos()], _now())
    print(f"campaign {campaign.id} created (draft): {campaign.name}")
    print(f"  {config.local_minute(campaign.starts_at)} → {config.local_minute(campaign.ends_at)} ({tz.key})")
    print(f"next: stadtdialog campaign launch {campaign.id} --dry-run")
    return EXIT_OK


def _who() -> str | None:
    try:
        return getpass.getuser()[:100]
    except (OSError, KeyError):
        return None


def _list(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.campaigns.status import invitation_counts

    with database.unit_of_work(read_only=True) as uow:
        campaigns = uow.campaigns.all()
        counts = invitation_counts(uow)
    if not campaigns:
        print("no campaigns yet: stadtdialog campaign create --survey KEY")
        return EXIT_OK
    print(f"{'id':>4}  {'status':<10} {'survey':<24} {'start':<16} {'end':<16} {'invited':>8} {'delivered':>9}  name")
    for c in campaigns:
        invited, delivered = counts.get(c.id, (0, 0))
        print(f"{c.id:>4}  {c.status:<10} {c.survey_key:<24} {config.local_minute(c.starts_at):<16} "
              f"{config.local_minute(c.ends_at):<16} {invited:>8} {delivered:>9}  {c.name}")
    return EXIT_OK


def _figures(config: Config, database: Database, campaign_id: int) -> status.Progress:
    from bot.campaigns import service, status
    from bot.campaigns.audience import staff_citizens

    with database.unit_of_work(read_only=True) as uow:
        staff = staff_citizens(uow, config.staff, config.pseudonym_secret)
        return status.progress(uow, service.get_campaign(uow, campaign_id), staff)


def _show(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.campaigns import status

    figures = _figures(config, database, args.id)
    print(status.render(figures, config.timezone), flush=True)
    if not args.follow:
        return EXIT_OK
    try:
        while True:
            time.sleep(FOLLOW_INTERVAL_S)
            figures = _figures(config, database, args.id)
            stamp = datetime.now(config.timezone).strftime("%H:%M:%S")
            print(f"\n[{stamp}]\n{status.render(figures, config.timezone)}", flush=True)
    except KeyboardInterrupt:
        print()
    return EXIT_OK


def _launch(config: Config, database: Database, args: argparse.Namespace) -> int:
    if args.dry_run:
        return _dry_run(config, database, args.id)
    from bot.campaigns import service
    from bot.survey_sync import load_catalog

    catalog = load_catalog(database)
    with database.unit_of_work() as uow:
        campaign = service.launch_campaign(uow, args.id, catalog, _now())
    print(f"campaign {campaign.id} scheduled (survey {campaign.survey_key} v{campaign.survey_version}); the running "
          f"bot starts it at {config.local_minute(campaign.starts_at)} and sends at each channel's rate")
    if args.no_follow:
        return EXIT_OK
    from bot.campaigns.follow import follow_launch

    return follow_launch(lambda: _figures(config, database, campaign.id))


def _dry_run(config: Config, database: Database, campaign_id: int) -> int:
    from bot.app import field_infos
    from bot.campaigns import preview, service
    from bot.campaigns.audience import audience
    from bot.survey_sync import load_catalog
    from handlers.texts import load_texts

    catalog = load_catalog(database)
    now = _now()
    with database.unit_of_work(read_only=True) as uow:
        campaign = service.get_campaign(uow, campaign_id)
        version = campaign.survey_version or service.offered_version(uow, catalog, campaign.survey_key)
        pinned = replace(campaign, survey_version=version)
        members = audience(uow, pinned, catalog, consent_version=config.consent_version, staff=config.staff,
                           secret=config.pseudonym_secret)
    print(f"DRY RUN — campaign {campaign.id} ({campaign.status}): {campaign.name}; nothing is written or sent")
    print(f"survey {campaign.survey_key} v{version}; start {config.local_minute(campaign.starts_at)}, "
          f"end {config.local_minute(campaign.ends_at)} ({config.timezone.key})")
    print(f"audience: {len(members)} citizens (opted in to surveys, current consent, reachable, not staff)")
    counts = Counter((m.channel, m.language) for m in members)
    for (channel, language), count in sorted(counts.items()):
        print(f"  {channel:<10} {language:<3} {count:>7}")
    for plan in preview.plans(members, config):
        print(f"  {plan.channel}: {plan.count} invitations, {preview.describe_duration(plan)}")
    if config.quiet_hours is not None:
        quiet = config.quiet_hours
        print(f"  quiet hours {quiet.start:%H:%M}–{quiet.end:%H:%M} move invitations to the morning; "
              f"at most {config.daily_cap} unsolicited message(s) per citizen and day")
    texts, fields = load_texts(), field_infos()
    channels = campaign.filter("channels") or list(CHANNELS)
    languages = campaign.filter("languages") or sorted({m.language for m in members} | {"de"})
    for language in languages:
        messages = preview.invitation_messages(pinned, version, language, catalog, texts, fields, config, now)
        print(f"\n=== first message ({language}) ===")
        print(preview.render_messages(messages, channels))
    return EXIT_OK


def _test(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.campaigns import service
    from bot.survey_sync import load_catalog

    catalog = load_catalog(database)
    with database.unit_of_work() as uow:
        row = service.send_test(uow, args.id, args.to, config.staff, config.consent_version, catalog, _now())
    print(f"test invitation for campaign {args.id} written (follow-up {row}); the running bot sends it to {args.to} "
          "within seconds")
    return EXIT_OK


def _close(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.campaigns import service

    with database.unit_of_work() as uow:
        campaign, cancelled = service.close_campaign(uow, args.id, _now())
    print(f"campaign {campaign.id} closed: no more invitations or reminders ({cancelled} not yet sent cancelled)")
    return EXIT_OK


def _cancel(config: Config, database: Database, args: argparse.Namespace) -> int:
    from bot.campaigns import service

    with database.unit_of_work() as uow:
        campaign, cancelled = service.cancel_campaign(uow, args.id, _now())
    print(f"campaign {campaign.id} cancelled ({cancelled} invitations or reminders not yet sent cancelled)")
    return EXIT_OK


COMMANDS: dict[str, Callable[[Config, Database, argparse.Namespace], int]] = {
    "create": _create,
    "list": _list,
    "show": _show,
    "launch": _launch,
    "test": _test,
    "close": _close,
    "cancel": _cancel,
}
