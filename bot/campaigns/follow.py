"""Following a launch: a Rich progress bar with ETA on a terminal, plain progress lines otherwise.

The figures come from the database (the running bot writes them); Ctrl-C only stops following.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from bot.campaigns.status import Progress
from bot.storage.repositories.campaigns import CANCELLED, CLOSED, RUNNING, SCHEDULED

POLL_S = 1.0
PLAIN_EVERY_S = 5.0
STALL_HINT_S = 60.0
EXIT_OK = 0


def finished(figures: Progress) -> bool:
    """Every invitation reached an end (sent or not), or the campaign ended."""
    status = figures.campaign.status
    return status in (CLOSED, CANCELLED) or (status == RUNNING and figures.waiting == 0)


def _line(figures: Progress) -> str:
    return (f"status={figures.campaign.status} invited={figures.invited} delivered={figures.delivered} "
            f"waiting={figures.waiting} unreachable={figures.unreachable} skipped={figures.skipped}")


def follow_launch(read: Callable[[], Progress], *, tty: bool | None = None) -> int:
    """Show delivered / invited until every invitation is settled or Ctrl-C (the campaign keeps running)."""
    campaign_id = read().campaign.id
    interactive = sys.stdout.isatty() if tty is None else tty
    try:
        figures = _rich(read) if interactive else _plain(read)
    except KeyboardInterrupt:
        print(f"\nStopped following. Campaign {campaign_id} keeps running in the bot; "
              f"follow again: stadtdialog campaign show {campaign_id} --follow")
        return EXIT_OK
    print(f"campaign {campaign_id}: {figures.delivered} of {figures.invited} invitations delivered "
          f"({figures.unreachable} unreachable, {figures.skipped} skipped); status {figures.campaign.status}")
    return EXIT_OK


def _stalled_hint(since: float) -> str | None:
    if time.monotonic() - since < STALL_HINT_S:
        return None
    return ("nothing has moved for a minute: is the bot running (stadtdialog run)? Quiet hours and the daily cap "
            "also hold invitations back.")


def _plain(read: Callable[[], Progress]) -> Progress:
    last, last_change, hinted, printed = "", time.monotonic(), False, 0.0
    while True:
        figures = read()
        line = _line(figures)
        changed = line != last
        if changed:
            last, last_change = line, time.monotonic()
        if changed or time.monotonic() - printed >= PLAIN_EVERY_S:
            print(line, flush=True)
            printed = time.monotonic()
        if finished(figures):
            return figures
        hint = None if hinted else _stalled_hint(last_change)
        if hint is not None and figures.campaign.status != SCHEDULED:
            print(hint, flush=True)
            hinted = True
        time.sleep(POLL_S)


def _rich(read: Callable[[], Progress]) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[detail]}"))
    with Progress(*columns) as bar:
        task = bar.add_task("waiting for the start", total=None, detail="")
        last, last_change, hinted = (-1, -1), time.monotonic(), False
        while True:
            figures = read()
            state = (figures.invited, figures.settled)
            if state != last:
                last, last_change = state, time.monotonic()
            scheduled = figures.campaign.status == SCHEDULED
            description = "waiting for the start" if scheduled and not figures.invited else "invitations"
            bar.update(task, total=figures.invited or None, completed=figures.settled, description=description,
                       detail=f"delivered {figures.delivered}, unreachable {figures.unreachable}")
            if finished(figures):
                return figures
            hint = None if hinted or scheduled else _stalled_hint(last_change)
            if hint is not None:
                bar.console.print(hint)
                hinted = True
            time.sleep(POLL_S)
