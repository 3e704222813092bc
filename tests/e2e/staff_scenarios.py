"""Staff in the chat end to end: the parts the Telegram and the Matrix staff tests share.

Everything here talks to the bot through the channel-neutral `ChatDriver` of `tests/e2e/scenarios.py` (Telegram
and Matrix implement it) or reads what the bot stored; delivering due rows and counting what reached a citizen
stay in the channel's own test module. Staff commands come from `handlers.staff.COMMANDS`, so a command added there
is tried by the non-staff tests without editing them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.analytics.pseudonyms import idea_pseudonym
from bot.campaigns import service
from bot.campaigns.service import CampaignSpec
from bot.runtime import Runtime
from bot.storage import models as m
from handlers.staff import COMMANDS as STAFF_COMMANDS
from tests.e2e.export_checks import run_cli
from tests.e2e.scenarios import MOBILITY, BotMessage, ChatDriver, newest_with, say, tap

UNKNOWN = "/gibtsnicht"
"""A command nobody has: what a citizen gets for it is what a non-staff account must get for a staff command."""
CAMPAIGN_NAME = "Quartierscheck Ostersbaum"
"""A campaign name that appears nowhere else, so finding it in a citizen's chat means staff data leaked."""
NEEDS_STAFF = "Das dürfen nur Mitarbeitende mit der Rolle „staff“"
FIELD = "umwelt"

Visible = list[tuple[str, tuple[tuple[str, str], ...]]]


def visible(messages: Sequence[BotMessage]) -> Visible:
    """What a reply shows: texts and buttons (payload, label), without the channel's message ids."""
    return [(message.text, message.buttons) for message in messages]


def texts_of(messages: Sequence[BotMessage]) -> str:
    return "\n".join(message.text for message in messages)


# --- drafts, ideas, references ----------------------------------------------------------------------------------


def create_draft(runtime: Runtime, channels: Sequence[str], now: datetime, name: str = CAMPAIGN_NAME) -> int:
    """A draft campaign for the mobility survey, stored as `stadtdialog campaign create` stores it."""
    with runtime.db.unit_of_work() as uow:
        campaign = service.create_campaign(
            uow, CampaignSpec(MOBILITY, name=name, channels=list(channels), starts_at=now,
                              ends_at=now + timedelta(days=5), created_by="cli:e2e"),
            runtime.catalog, [f.key for f in runtime.fields], now,
        )  # fmt: skip
        assert campaign.status == "draft", campaign.status
        return int(campaign.id)


def campaign_status(runtime: Runtime, campaign_id: int) -> str:
    with runtime.db.unit_of_work(read_only=True) as uow:
        campaign = uow.campaigns.get(campaign_id)
        assert campaign is not None
        return str(campaign.status)


def invitations(runtime: Runtime, campaign_id: int) -> int:
    """How many invitation rows the campaign has written (one per invited citizen)."""
    with runtime.db.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(
            select(m.FollowUp.id).where(m.FollowUp.campaign_id == campaign_id, m.FollowUp.kind == "invitation")
        ).all()
    return len(rows)


@dataclass(frozen=True)
class StoredIdea:
    idea_id: str
    ref: str  # i_… as staff, the CLI and the exports name it
    text: str
    status: str
    status_note: str | None


def ideas_of(runtime: Runtime, secret: bytes, citizen_id: str) -> list[StoredIdea]:
    """A citizen's stored ideas, oldest first, with the reference staff use."""
    with runtime.db.unit_of_work(read_only=True) as uow:
        rows = uow.session.execute(
            select(m.Idea.id, m.Idea.text, m.Idea.status, m.Idea.status_note)
            .where(m.Idea.citizen_id == citizen_id).order_by(m.Idea.created_at)
        ).all()
    return [StoredIdea(row.id, idea_pseudonym(secret, row.id), row.text, row.status, row.status_note) for row in rows]


async def file_idea(chat: ChatDriver, text: str, *, idea_news: bool | None) -> list[BotMessage]:
    """/idee as `scenarios.submit_idea` files it; then the question that follows a filed idea ("Bescheid bei
    Neuigkeiten?") answered yes or no (None: left alone)."""
    from tests.e2e.scenarios import submit_idea

    thanks = await submit_idea(chat, text, FIELD)
    if idea_news is None:
        return thanks
    answer = f"oi:idea_news:{'yes' if idea_news else 'no'}"
    assert newest_with(thanks, answer) is not None, f"no idea-news question after the idea: {visible(thanks)}"
    return [*thanks, *await tap(chat, answer)]


# --- what staff read ---------------------------------------------------------------------------------------------

_FIGURE = {key: re.compile(rf"^{label}: (\d+)", re.MULTILINE) for key, label in (
    ("invited", "Eingeladen"), ("delivered", "Zugestellt"), ("started", "Begonnen"), ("completed", "Abgeschlossen"))}


def figures(text: str) -> dict[str, int]:
    """The live figures of a /kampagne answer (invited, delivered, started, completed)."""
    found = {key: pattern.search(text) for key, pattern in _FIGURE.items()}
    missing = [key for key, match in found.items() if match is None]
    assert not missing, f"figures {missing} missing in: {text}"
    return {key: int(match.group(1)) for key, match in found.items() if match is not None}


def quoted_idea(text: str) -> str:
    """The idea's text in a staff view of one idea (between „ and “)."""
    match = re.search(r"„(.*?)“", text, re.DOTALL)
    assert match is not None, f"no quoted idea text in: {text}"
    return match.group(1)


def with_buttons(reply: Sequence[BotMessage], button: str) -> BotMessage:
    """One staff answer as a whole: the text of every message of `reply` (Matrix puts one line of a message with
    buttons into a poll and the rest into a message above it) with the buttons of the one offering `button`."""
    message = newest_with(reply, button)
    assert message is not None, f"no button {button!r} in: {visible(reply)}"
    return BotMessage(message.ref, texts_of(reply), message.buttons)


async def campaign_view(staff: ChatDriver, campaign_id: int) -> BotMessage:
    """/kampagne N; the answer with the figures and its buttons ("Aktualisieren" at least)."""
    return with_buttons(await say(staff, f"/kampagne {campaign_id}"), f"sf:c:{campaign_id}")


async def launch_from_chat(staff: ChatDriver, runtime: Runtime, campaign_id: int, audience: int) -> list[BotMessage]:
    """/kampagnen → the campaign → "Starten …" → the preview naming `audience` → "Ja, starten"; returns the answer.
    Each step must show what staff need to decide, and the campaign must still be a draft before the confirmation."""
    listing = await say(staff, "/kampagnen")
    assert CAMPAIGN_NAME in texts_of(listing) and "Entwurf" in texts_of(listing), visible(listing)
    view = with_buttons(await tap(staff, f"sf:c:{campaign_id}"), f"sf:lp:{campaign_id}")
    assert view.button("Starten …") == f"sf:lp:{campaign_id}"
    assert figures(view.text) == {"invited": 0, "delivered": 0, "started": 0, "completed": 0}, view.text
    preview = with_buttons(await tap(staff, "Starten …"), f"sf:L:{campaign_id}")
    assert f"Eingeladen würden jetzt {audience} Personen" in preview.text, preview.text
    assert preview.button("Ja, starten") == f"sf:L:{campaign_id}" and preview.button("Abbrechen") == "sf:no"
    assert campaign_status(runtime, campaign_id) == "draft", "the preview launched the campaign"
    launched = await tap(staff, "Ja, starten")
    assert f"Kampagne #{campaign_id} ist gestartet" in texts_of(launched), visible(launched)
    return launched


async def set_status(staff: ChatDriver, idea: StoredIdea, status: str, label: str, note: str | None) -> str:
    """/status i_… → the status button → the note (typed, or "Ohne Notiz") → the preview → "Speichern und senden";
    returns the preview's text (what the author will read)."""
    view = with_buttons(await say(staff, f"/status {idea.ref}"), f"sf:s:{idea.idea_id}:{status}")
    assert view.button(label) == f"sf:s:{idea.idea_id}:{status}", view.buttons
    asked = await tap(staff, f"sf:s:{idea.idea_id}:{status}")
    assert newest_with(asked, "sf:no") is not None, visible(asked)
    change = f"{idea.idea_id}:{status}"
    confirm = with_buttons(await (say(staff, note) if note is not None else tap(staff, f"sf:nn:{change}")),
                           f"sf:S:{change}")  # fmt: skip
    assert confirm.button("Speichern und senden") == f"sf:S:{change}", confirm
    saved = await tap(staff, f"sf:S:{change}")
    assert f"Gespeichert: Idee {idea.ref} ist jetzt „{label}“" in texts_of(saved), visible(saved)
    return confirm.text


# --- non-staff accounts --------------------------------------------------------------------------------------------


def staff_command_calls(campaign_id: int, idea_ref: str) -> list[str]:
    """Every staff command (German names and English aliases) bare and with the argument it takes."""
    calls = []
    for command in sorted(STAFF_COMMANDS):
        argument = idea_ref if command in ("status", "idea_status") else (
            FIELD if command in ("ideen_neu", "new_ideas", "ideenneu") else str(campaign_id))
        calls += [f"/{command}", f"/{command} {argument}"]
    return calls


async def same_as_unknown(chat: ChatDriver, calls: Sequence[str]) -> list[str]:
    """Send /gibtsnicht, every call, /gibtsnicht again (one conversation state: each reply leaves it as it was);
    the calls whose reply differs from the unknown command's — and a changed state — as problems."""
    reference = visible(await say(chat, UNKNOWN))
    problems = [f"{call!r} → {got!r}, but {UNKNOWN} → {reference!r}"
                for call in calls if (got := visible(await say(chat, call))) != reference]  # fmt: skip
    again = visible(await say(chat, UNKNOWN))
    if again != reference:
        problems.append(f"the state changed: {UNKNOWN} first → {reference!r}, then → {again!r}")
    return problems


def leaks(received: str, needles: Sequence[str]) -> list[str]:
    """Staff data (campaign names, idea references, figures) found in what a non-staff account received."""
    found = [needle for needle in needles if needle in received]
    if re.search(r"\bi_[0-9a-f]{6,}", received):
        found.append("an idea reference i_…")
    if re.search(r"^(Eingeladen|Zugestellt|Begonnen|Abgeschlossen): \d", received, re.MULTILINE):
        found.append("campaign figures")
    return found


# --- the audit log -------------------------------------------------------------------------------------------------


def audit_log(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """`stadtdialog audit --json`, oldest first (one JSON object per line)."""
    run = run_cli(env, ["audit", "--json"])
    assert run.code == 0, run
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def actions_of(entries: Sequence[Mapping[str, Any]], actor: str) -> list[tuple[str, str | None, str]]:
    """(action, target, outcome) of one actor's audit entries, oldest first."""
    return [(e["action"], e["target"], e["outcome"]) for e in entries if e["actor"] == actor]


def audit_problems(entries: Sequence[Mapping[str, Any]], actor: str, role: str, channel: str) -> list[str]:
    """Entries of `actor` that name another role or channel, or carry no time."""
    return [f"{e}" for e in entries if e["actor"] == actor
            and (e["role"] != role or e["channel"] != channel or not e.get("at"))]  # fmt: skip
