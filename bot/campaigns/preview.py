"""`campaign launch --dry-run`: who would be invited, how long sending takes, and the first message exactly as
each channel renders it (the pure core makes the invitation; the channels' own renderers turn it into the wire
form). Nothing is written."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.campaigns.audience import Member
from bot.config import Config
from bot.decisions import DecisionStore
from bot.storage.items import OPT_IN_SURVEYS
from bot.storage.repositories.campaigns import INVITATION, Campaign
from handlers.dialogue import handle
from handlers.events import (
    CitizenState,
    FieldInfo,
    Inbound,
    InboundKind,
    Outbound,
    Texts,
)
from surveys.catalog import SurveyCatalog

PREVIEW_CHAT = "0"


@dataclass(frozen=True)
class ChannelPlan:
    """How many invitations one channel sends and how long that takes at its configured rate."""

    channel: str
    count: int
    rate: float  # messages per second; 0 = unlimited

    @property
    def duration(self) -> timedelta | None:
        """Sending time at the channel's rate (None: unlimited, as fast as the server answers)."""
        return None if self.rate <= 0 else timedelta(seconds=self.count / self.rate)


def channel_rate(config: Config, channel: str) -> float:
    """The configured overall send rate of a channel (0 = unlimited)."""
    return {"telegram": config.telegram_rate, "matrix": config.matrix_rate}.get(channel, 0.0)


def plans(members: Sequence[Member], config: Config) -> list[ChannelPlan]:
    counts = Counter(member.channel for member in members)
    return [ChannelPlan(channel, count, channel_rate(config, channel)) for channel, count in sorted(counts.items())]


def invitation_messages(
    campaign: Campaign, version: int, language: str, catalog: SurveyCatalog, texts: Texts,
    fields: Sequence[FieldInfo], config: Config, now: datetime,
) -> tuple[Outbound, ...]:
    """What the core sends a consented, opted-in, idle citizen for this campaign's invitation."""
    payload = {**replace(campaign, survey_version=version).invitation_payload(), "follow_up_id": 0}
    inbound = Inbound(
        kind=InboundKind.FOLLOW_UP,
        channel="preview",
        user_id=PREVIEW_CHAT,
        chat_id=PREVIEW_CHAT,
        event_id="preview",
        received_at=now,
        payload=INVITATION,
        args=json.dumps(payload),
    )
    state = CitizenState(
        language=language,
        language_chosen=True,
        consent_version=config.consent_version,
        consent_at=now,
        training_consent=False,
        flow="menu",
        opt_ins={OPT_IN_SURVEYS: ()},
    )
    ctx = replace(DecisionStore(config, texts, fields, lambda: catalog).context(now), new_id="preview")
    return handle(inbound, state, ctx).messages


def telegram_payloads(message: Outbound) -> list[dict[str, object]]:
    """The sendMessage parameters the Telegram channel sends (text parts; the keyboard on the last)."""
    from bot.channels.telegram_render import keyboard, split_text

    parts = split_text(message.text)
    markup = keyboard(message)
    return [
        {"chat_id": "<chat>", "text": part, **({"reply_markup": markup.to_dict()} if markup and i == len(parts) - 1
                                                else {})}
        for i, part in enumerate(parts)
    ]


def matrix_events(message: Outbound) -> list[dict[str, object]]:
    """The Matrix events (type and content) the Matrix channel sends."""
    from bot.channels.matrix_render import render

    return [{"type": event.type, "content": event.content} for event in render(message)]


def terminal_text(message: Outbound) -> str:
    """What the terminal chat prints."""
    from bot.channels.terminal import TerminalChannel

    out = io.StringIO()
    channel = TerminalChannel(stdout=out)
    asyncio.run(channel.send(PREVIEW_CHAT, message))
    return out.getvalue().rstrip("\n")


def render_messages(messages: Sequence[Outbound], channels: Sequence[str]) -> str:
    """Every message as each of `channels` renders it."""
    if not messages:
        return "(no message: the dialogue core produced nothing for this invitation)"
    blocks: list[str] = []
    for channel in channels:
        blocks.append(f"--- {channel} ---")
        for message in messages:
            if channel == "telegram":
                blocks.extend(json.dumps(p, ensure_ascii=False, indent=2) for p in telegram_payloads(message))
            elif channel == "matrix":
                blocks.extend(json.dumps(e, ensure_ascii=False, indent=2) for e in matrix_events(message))
            else:
                blocks.append(terminal_text(message))
    return "\n".join(blocks)


def describe_duration(plan: ChannelPlan) -> str:
    duration = plan.duration
    if duration is None:
        return "unlimited rate: as fast as the server accepts"
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
    return f"~{text} at {plan.rate:g} msg/s"
