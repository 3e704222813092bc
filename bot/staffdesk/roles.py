"""Who is staff: the role of a chat sender (`STADTDIALOG_STAFF`) and where they may read citizens' texts in full.
The citizen ids staff have (left out of every figure and audience) are `bot.campaigns.audience.staff_citizens`."""

from __future__ import annotations

from collections.abc import Mapping

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

