"""Assembling the bot from a Config: database, surveys, texts, taxonomy, channels, scheduler."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from contextlib import suppress

from bot.channels.base import Channel
from bot.classify import load_classifier
from bot.config import Config
from bot.runtime import Runtime, utcnow
from bot.scheduler import build_scheduler
from bot.storage.db import Database
from bot.survey_sync import import_surveys, load_catalog
from handlers.events import FieldInfo
from handlers.fields import field_infos as handler_fields
from handlers.texts import load_texts

log = logging.getLogger(__name__)


def field_infos() -> tuple[FieldInfo, ...]:
    """The taxonomy as the dialogue core sees it."""
    return handler_fields()


def build_runtime(config: Config, channels: Sequence[Channel] = (), *, classify: bool = True) -> Runtime:
    """Load the classifier, migrate the database, import the survey folder and wire a runtime with `channels` (not
    started). A missing or outdated classifier model raises ConfigError before anything is touched; maintenance
    commands that handle no messages pass `classify=False`."""
    classifier = load_classifier(config) if classify else None
    database = Database(config.database_url)
    database.migrate()
    fields = field_infos()
    import_surveys(database, config.survey_dir, {f.key for f in fields}, utcnow(), deactivate_missing=True)
    runtime = Runtime(
        config, database, texts=load_texts(), fields=fields, catalog=load_catalog(database), classifier=classifier
    )
    for channel in channels:
        runtime.add_channel(channel)
    return runtime


def configured_channels(config: Config) -> list[Channel]:
    """Every channel with credentials; the terminal chat when there is none."""
    channels: list[Channel] = []
    if config.telegram_enabled:
        from bot.channels.telegram import TelegramChannel

        channels.append(TelegramChannel.from_config(config))
    if config.matrix_enabled:
        try:
            from bot.channels.matrix import MatrixChannel  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            log.error("event=matrix_unavailable hint=matrix_channel_not_installed")
        else:
            channels.append(MatrixChannel.from_config(config))
    if not channels:
        from bot.channels.terminal import TerminalChannel

        channels.append(TerminalChannel(export_dir=config.data_dir / "exports"))
    return channels


async def serve(config: Config) -> None:
    """Run until SIGINT/SIGTERM (or the terminal chat ends); pending work stays stored for the next start."""
    channels = configured_channels(config)
    runtime = await asyncio.to_thread(build_runtime, config, channels)
    scheduler = build_scheduler(runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    relays = [
        asyncio.create_task(_relay(done, stop))
        for done in (getattr(channel, "finished", None) for channel in channels)
        if isinstance(done, asyncio.Event)
    ]
    relays.append(asyncio.create_task(_relay(runtime.fatal, stop)))  # a channel that can never start
    try:
        await runtime.start()
        scheduler.start()
        log.info("event=started channels=%s", ",".join(runtime.channels))
        await stop.wait()
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        for relay in relays:
            relay.cancel()
        with suppress(TimeoutError):
            await runtime.wait_idle(timeout=5)
        await runtime.stop()
        runtime.db.dispose()
        log.info("event=stopped")
    if runtime.fatal_error is not None:
        raise runtime.fatal_error


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()
