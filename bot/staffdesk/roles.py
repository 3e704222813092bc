"""Who is staff: the role of a chat sender (`STADTDIALOG_STAFF`) and the citizen ids staff have, so staff never
count in citizen figures or audiences."""

from __future__ import annotations

from collections.abc import Mapping

from bot.campaigns import audience
from bot.storage.db import UnitOfWork

FULL_TEXT_CHANNELS = frozenset({"matrix", "terminal"})
"""Channels where staff may see citizens' texts in full: Matrix when the room is end-to-end encrypted, the terminal
(it is local). Elsewhere (Telegram: not end-to-end encrypted, servers outside the EU) and in an unencrypted Matrix
room texts are redacted and shortened."""


def full_text(channel: str, encrypted: bool) -> bool:
    """Whether staff writing from `channel` (`encrypted`: through an end-to-end encrypted room) see full texts."""
    return channel == "terminal" or (channel in FULL_TEXT_CHANNELS and encrypted)


def role_of(staff: Mapping[str, str], channel: str, user_id: str) -> str | None:
    """The sender's role ("staff" / "analyst") from the allowlist keyed `channel:user id`; None for everyone else."""
    return staff.get(f"{channel}:{user_id}")


def staff_citizens(uow: UnitOfWork, staff: Mapping[str, str], secret: bytes) -> set[str]:
    """Pseudonymous citizen ids of staff (the same set campaign audiences leave out)."""
    return audience.staff_citizens(uow, staff, secret)
