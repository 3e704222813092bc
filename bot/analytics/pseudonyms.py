"""Pseudonyms in analyst exports: keyed hashes, different per scope, so two files cannot be joined on a person.

The stored citizen id (`c_…`) is itself a pseudonym, but the same in every table; an export shows a second,
scope-bound hash of it instead. Scopes: the survey key (default for responses and follow-ups), `linked` (with
`--link-surveys`: the same person has the same pseudonym in every survey file), `ideas`, `feedback`. Response and
idea ids are hashed too, so no export repeats an id the database or the bot's messages use.
"""

from __future__ import annotations

import hashlib
import hmac

LINKED_SCOPE = "linked"
IDEAS_SCOPE = "ideas"
FEEDBACK_SCOPE = "feedback"
RESPONSE_SCOPE = "response"
IDEA_ID_SCOPE = "idea"


def _digest(secret: bytes, scope: str, value: str) -> str:
    message = f"export\x1f{scope}\x1f{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:16]


def export_pseudonym(secret: bytes, citizen_id: str, scope: str) -> str:
    """The respondent's pseudonym in an export of `scope`: "p_" + 16 hex digits."""
    return "p_" + _digest(secret, scope, citizen_id)


def response_pseudonym(secret: bytes, response_id: str) -> str:
    """A response's id in exports: "r_" + 16 hex digits (the same in every export, it names no person)."""
    return "r_" + _digest(secret, RESPONSE_SCOPE, response_id)


def idea_pseudonym(secret: bytes, idea_id: str) -> str:
    """An idea's id in exports: "i_" + 16 hex digits."""
    return "i_" + _digest(secret, IDEA_ID_SCOPE, idea_id)
