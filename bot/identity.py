"""Pseudonymous citizen ids: a keyed hash of channel + channel user id (the key never leaves the config)."""

from __future__ import annotations

import hashlib
import hmac


def pseudonym(secret: bytes, channel: str, channel_user_id: str) -> str:
    """The stable pseudonymous id of a channel user; without the secret it cannot be linked back."""
    digest = hmac.new(secret, f"{channel}\x1f{channel_user_id}".encode(), hashlib.sha256).hexdigest()
    return "c_" + digest[:30]
