"""`stadtdialog idea moderate` and `stadtdialog idea merge`: the moderation queue and merging on the command line.

Proposals are shown redacted (`nlp.redact`), exactly as in the staff chat; approving without `--text` publishes
that redacted text. Every look at the queue and every decision is written to the staff audit log (actor
`cli:<OS user>`) in the same transaction — references and codes only, never a citizen's text. The CLI never sends:
the author's news is a follow_ups row the running bot delivers.

    idea moderate                       interactive on a terminal: a(pprove) e(dit) r(eject) s(kip) q(uit)
    idea moderate --list [--json]       the pending proposals, oldest first
    idea moderate REF --approve [--text T]
    idea moderate REF --reject --reason R
    idea merge FROM INTO [--dry-run | --yes]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.staffdesk import audit
from bot.staffdesk.cli import EXIT_OK, EXIT_PROBLEMS, UsageError, _now, _record, _resolve

if TYPE_CHECKING:
    from bot.config import Config
    from bot.ideaboard.publication import Proposal
    from bot.storage.db import Database


def add_arguments(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`idea moderate` and `idea merge` (called by `bot.staffdesk.cli.add_idea_command`)."""
    moderate = actions.add_parser("moderate", help="the moderation queue: approve, edit or reject proposals")
    moderate.add_argument("ref", metavar="REF", nargs="?", help="the idea's reference i_… (to decide on it)")
    moderate.add_argument("--list", action="store_true", help="list the pending proposals (redacted)")
    moderate.add_argument("--json", action="store_true", help="with --list: one JSON object per line")
    moderate.add_argument("--approve", action="store_true", help="publish REF (its redacted text or --text)")
    moderate.add_argument("--text", help="with --approve: the public wording to publish instead")
    moderate.add_argument("--reject", action="store_true", help="decline REF; --reason is told to the author")
    moderate.add_argument("--reason", help="with --reject: why (told to the author)")
    merge = actions.add_parser("merge", help="merge idea FROM into idea INTO (supporters carry over)")
    merge.add_argument("source", metavar="FROM", help="the idea that becomes part of the other (i_…)")
    merge.add_argument("target", metavar="INTO", help="the idea it is merged into (i_…)")
    merge.add_argument("--dry-run", action="store_true", help="only show what would happen")
    merge.add_argument("--yes", action="store_true", help="merge without asking (needed when not on a terminal)")


def _ref(config: Config, idea_id: str) -> str:
    from bot.analytics.pseudonyms import idea_pseudonym

    return idea_pseudonym(config.pseudonym_secret, idea_id)


def _proposal_json(config: Config, proposal: Proposal) -> dict[str, Any]:
    return {"ref": _ref(config, proposal.idea_id), "created_at": proposal.created_at.isoformat(),
            "field": proposal.field, "consent": proposal.consent, "text": proposal.proposed}  # fmt: skip


def moderate(config: Config, database: Database, args: argparse.Namespace) -> int:
    """Dispatch `idea moderate`."""
    if args.list:
        return _list(config, database, args.json)
    if args.ref is not None:
        if args.approve == args.reject:
            raise UsageError("give exactly one of --approve or --reject with REF")
        if args.reject and not (args.reason or "").strip():
            raise UsageError("--reject needs --reason (the author is told why)")
        with database.unit_of_work() as uow:
            idea_id = _resolve(uow, args.ref, config.pseudonym_secret)
        return _decide(config, database, idea_id, "approve" if args.approve else "reject", args.text or args.reason)
    if not sys.stdin.isatty():
        raise UsageError("not on a terminal: use --list, or REF --approve [--text T] / REF --reject --reason R")
    return _interactive(config, database)


def _list(config: Config, database: Database, as_json: bool) -> int:
    from bot.ideaboard import publication

    with database.unit_of_work() as uow:
        proposals = publication.pending(uow)
        _record(uow, "moderation_list", None, audit.OUTCOME_OK, {"shown": len(proposals)})
    for proposal in proposals:
        if as_json:
            print(json.dumps(_proposal_json(config, proposal), ensure_ascii=False))
        else:
            print(f"{_ref(config, proposal.idea_id):<18}  {config.local_minute(proposal.created_at):<16}  "
                  f"{proposal.field or '—':<14}  {proposal.proposed}")  # fmt: skip
    if not proposals and not as_json:
        print("no proposal is waiting")
    return EXIT_OK


def _decide(config: Config, database: Database, idea_id: str, decision: str, text: str | None) -> int:
    from bot.ideaboard import publication
    from bot.ideaboard.publication import PublicationError

    ref = _ref(config, idea_id)
    action = f"publication_{decision}"
    error: PublicationError | None = None
    with database.unit_of_work() as uow:
        try:
            if decision == "approve":
                public = publication.approve(uow, idea_id, text, _now())
                _record(uow, action, ref, audit.OUTCOME_OK, {"edited": text is not None})
            else:
                publication.reject(uow, idea_id, text or "", _now())
                # the reason's length only: the audit log holds no free text about ideas
                _record(uow, action, ref, audit.OUTCOME_OK, {"reason_length": len((text or "").strip())})
        except PublicationError as exc:
            _record(uow, action, ref, audit.OUTCOME_REFUSED, {"error": exc.code})
            error = exc
    if error is not None:
        print(f"stadtdialog idea moderate: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    if decision == "approve":
        print(f"idea {ref}: published as: {public}")
    else:
        print(f"idea {ref}: rejected")
    print("the running bot tells the author (quiet hours and /pause apply)")
    return EXIT_OK


def _interactive(config: Config, database: Database) -> int:
    from bot.ideaboard import publication

    after: str | None = None
    seen: set[str] = set()
    while True:
        with database.unit_of_work() as uow:
            proposal = publication.next_proposal(uow, after)
            shown = None if proposal is None else _ref(config, proposal.idea_id)
            waiting = 0 if proposal is None else proposal.waiting
            _record(uow, "moderation", shown, audit.OUTCOME_OK, {"waiting": waiting})
        if proposal is None:
            print("no (further) proposal is waiting")
            return EXIT_OK
        print(f"\n{shown}  filed {config.local_minute(proposal.created_at)}  field {proposal.field or '—'}  "
              f"({proposal.waiting} waiting; text redacted)")  # fmt: skip
        print(proposal.proposed)
        choice = _ask("[a]pprove  [e]dit wording  [r]eject  [s]kip  [q]uit: ").strip().lower()[:1]
        if choice == "q":
            return EXIT_OK
        if choice == "s":
            seen.add(proposal.idea_id)
            after = proposal.idea_id
            if len(seen) >= proposal.waiting:
                print("every waiting proposal was skipped")
                return EXIT_OK
            continue
        if choice == "a":
            _decide(config, database, proposal.idea_id, "approve", None)
        elif choice == "e":
            wording = _ask("public wording: ").strip()
            if wording:
                _decide(config, database, proposal.idea_id, "approve", wording)
        elif choice == "r":
            reason = _ask("reason (told to the author): ").strip()
            if reason:
                _decide(config, database, proposal.idea_id, "reject", reason)
        after = None


def _ask(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return "q"


def merge(config: Config, database: Database, args: argparse.Namespace) -> int:
    """`idea merge FROM INTO`: the preview, then (after a yes on the terminal, or with --yes) the merge."""
    from bot.ideaboard import publication
    from bot.ideaboard.publication import PublicationError

    secret = config.pseudonym_secret
    with database.unit_of_work() as uow:
        source, target = _resolve(uow, args.source, secret), _resolve(uow, args.target, secret)
        refs = f"{_ref(config, source)}:{_ref(config, target)}"
        try:
            plan = publication.merge_plan(uow, source, target)
        except PublicationError as exc:
            _record(uow, "merge_preview", refs, audit.OUTCOME_REFUSED, {"error": exc.code})
            raise UsageError(str(exc)) from None
        _record(uow, "merge_preview", refs, audit.OUTCOME_OK, {})
    print(f"merge {_ref(config, source)} into {_ref(config, target)} (texts redacted)")
    print(f"  FROM: {plan.source_text}")
    print(f"  INTO: {plan.target_text}")
    print(f"  supporters carried over: {plan.supporters_moved}; already supporting both: {plan.supporters_already}")
    print(f"  the author of FROM {'becomes a supporter of INTO and ' if plan.author_becomes_supporter else ''}"
          f"is told; INTO's text is {'shown (published)' if plan.target_public else 'not shown (unpublished)'}")
    if args.dry_run:
        return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("not on a terminal: add --yes to merge (or --dry-run to only look)")
        if _ask("merge now? [y/N] ").strip().lower() not in ("y", "yes", "j", "ja"):
            print("nothing changed")
            return EXIT_OK
    with database.unit_of_work() as uow:
        try:
            done = publication.merge(uow, source, target, _now())
        except PublicationError as exc:
            _record(uow, "merge", refs, audit.OUTCOME_ERROR, {"error": exc.code})
            print(f"stadtdialog idea merge: {exc}", file=sys.stderr)
            return EXIT_PROBLEMS
        _record(uow, "merge", refs, audit.OUTCOME_OK, {"moved": done.supporters_moved})
    print(f"merged; supporters carried over: {done.supporters_moved}")
    return EXIT_OK


COMMANDS: dict[str, Callable[[Config, Database, argparse.Namespace], int]] = {"moderate": moderate, "merge": merge}
