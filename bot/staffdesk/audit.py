"""The staff audit log: one entry per staff request (views of citizens' data included) and per CLI command that
reads citizens' ideas or changes a status.

Entries name the employee (channel account or `cli:<OS user>`), never a citizen, and never hold citizens' texts:
`details` carries references (i_…, campaign ids, field keys), statuses and staff's own public notes only.
The housekeeping deletes entries older than `STADTDIALOG_AUDIT_RETENTION_DAYS` (employees' data).
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from bot.storage.db import UnitOfWork

OUTCOME_OK: Final = "ok"
OUTCOME_REFUSED: Final = "refused"
OUTCOME_ERROR: Final = "error"
OUTCOMES: Final = (OUTCOME_OK, OUTCOME_REFUSED, OUTCOME_ERROR)
ROLE_CLI: Final = "cli"
CHANNEL_CLI: Final = "cli"

# Column lengths of staff_audit (bot.storage.models.StaffAudit).
_ACTOR_MAX, _ROLE_MAX, _CHANNEL_MAX, _ACTION_MAX, _TARGET_MAX = 276, 20, 20, 40, 100


def _fit(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def record(
    uow: UnitOfWork,
    *,
    actor: str,
    role: str,
    channel: str,
    action: str,
    target: str | None,
    outcome: str,
    details: Mapping[str, Any] | None,
    now: datetime,
) -> None:
    """Append one entry in the caller's unit of work (so it is stored exactly when the action is).

    Never put citizens' texts into `details`. Over-long actors and targets are shortened to fit their columns.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    if not action or len(action) > _ACTION_MAX:
        raise ValueError(f"action must be 1-{_ACTION_MAX} characters, got {action!r}")
    uow.audit.add(
        at=now,
        actor=_fit(actor, _ACTOR_MAX),
        role=_fit(role, _ROLE_MAX),
        channel=_fit(channel, _CHANNEL_MAX),
        action=action,
        target=None if target is None else _fit(target, _TARGET_MAX),
        details=details,
        outcome=outcome,
    )


def cli_actor() -> str:
    """`cli:` + the OS user running the command (`cli:unknown` when the system cannot say)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return "cli:" + (user or "unknown")
