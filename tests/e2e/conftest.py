"""Fixtures for the end-to-end tests against emulated servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.telegram_api import TelegramApiServer

# --- telegram_api (owned by tests/e2e/telegram_api.py) ------------------------------------------------------------


@pytest.fixture
async def telegram_api() -> AsyncIterator[TelegramApiServer]:
    """A started, strict Bot API server on 127.0.0.1 for one test; stopped afterwards."""
    server = TelegramApiServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


# --- end telegram_api ---------------------------------------------------------------------------------------------


# --- synapse_server: one real homeserver for the whole session (tests/e2e/synapse.py) ---------------------------
from tests.e2e.synapse import synapse_server  # noqa: E402, F401  (a fixture, registered by being imported here)
# --- end synapse_server
