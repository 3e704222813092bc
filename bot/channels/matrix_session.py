"""The Matrix login that survives restarts: one device, one key store, under `data_dir/matrix/`.

A restart must be the *same* device, otherwise the bot loses the Olm/Megolm sessions in its key store and can no
longer read what citizens encrypted for it. So the first login's user id, device id and access token are kept in
`session.json` (mode 0600, next to the random pickle key that encrypts nio's SqliteStore), and later starts restore
that login instead of creating a new device.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse

from bot.channels.base import ChannelStartError, ChannelUnreachableError
from bot.channels.matrix_send import http_status, is_transient

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
STORE_DIR = "store"
DEVICE_NAME = "stadtdialog"


class MatrixLoginError(ChannelStartError):
    """The homeserver refused the configured credentials (or none were configured)."""


class MatrixUnreachableError(ChannelUnreachableError):
    """The homeserver could not be reached at start; the runtime tries again later."""


@dataclass(frozen=True)
class MatrixSettings:
    """What the Matrix channel needs from the configuration."""

    homeserver: str
    user_id: str
    data_dir: Path
    password: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    allowed_servers: tuple[str, ...] = ()
    sync_timeout_ms: int = 30_000
    undecryptable_grace: float = 20.0
    """Seconds an undecryptable message waits for its room key before the citizen is told."""

    @property
    def matrix_dir(self) -> Path:
        return self.data_dir / "matrix"


@dataclass(frozen=True)
class StoredSession:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str = field(repr=False)
    pickle_key: str = field(repr=False)


def load_session(path: Path) -> StoredSession | None:
    """The stored login, or None when there is none (or it is unreadable, which means: log in anew)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return StoredSession(**{k: str(data[k]) for k in StoredSession.__dataclass_fields__})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("event=matrix_session_unreadable hint=logging_in_again")
        return None


def save_session(path: Path, session: StoredSession) -> None:
    """Write atomically with mode 0600: the file holds an access token and the key store's pickle key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(session), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def client_config(pickle_key: str) -> AsyncClientConfig:
    """Requests give up quickly instead of retrying forever inside nio: the outbox and the sync loop retry."""
    return AsyncClientConfig(
        pickle_key=pickle_key,
        max_limit_exceeded=0,
        max_timeouts=2,
        backoff_factor=0.5,
        request_timeout=20,
        encryption_enabled=True,
        store_sync_tokens=False,
    )


async def open_client(settings: MatrixSettings) -> AsyncClient:
    """A logged-in client with its key store loaded: restored from session.json, or a fresh login.

    Order: a stored session for the same user (and, if a token is configured, the same token); else the configured
    access token (device id from whoami); else a password login that reuses a stored device id when there is one.
    """
    directory = settings.matrix_dir
    store_path = directory / STORE_DIR
    store_path.mkdir(parents=True, exist_ok=True, mode=0o700)
    session_path = directory / SESSION_FILE
    stored = load_session(session_path)
    if stored is not None and stored.user_id != settings.user_id:
        raise MatrixLoginError("data_dir/matrix belongs to another Matrix user; use a separate data folder")
    usable = stored is not None and (not settings.access_token or settings.access_token == stored.access_token)
    if stored is not None and usable:
        client = _client(settings, store_path, stored.pickle_key, stored.device_id)
        client.restore_login(stored.user_id, stored.device_id, stored.access_token)
        return client
    pickle_key = stored.pickle_key if stored is not None else secrets.token_urlsafe(32)
    if settings.access_token:
        client = _client(settings, store_path, pickle_key, None)
        client.access_token = settings.access_token
        try:
            who = await client.whoami()
        except Exception:  # network: the caller turns it into "unreachable"; the session must not leak
            await client.close()
            raise
        if not isinstance(who, WhoamiResponse) or who.user_id != settings.user_id or not who.device_id:
            await client.close()
            if is_transient(who):
                raise MatrixUnreachableError(f"the homeserver could not check the token now: {_status(who)}")
            raise MatrixLoginError("the access token was refused or belongs to another user")
        client.restore_login(who.user_id, who.device_id, settings.access_token)
        save_session(session_path, StoredSession(settings.homeserver, who.user_id, who.device_id,
                                                 settings.access_token, pickle_key))
        return client
    if settings.password:
        device_id = stored.device_id if stored is not None else None
        return await password_login(settings, store_path, pickle_key, device_id)
    raise MatrixLoginError("neither a password nor an access token is configured")


async def password_login(
    settings: MatrixSettings, store_path: Path, pickle_key: str, device_id: str | None
) -> AsyncClient:
    """Log in with the password, keeping `device_id` when given (same device, same keys), and remember it."""
    client = _client(settings, store_path, pickle_key, device_id)
    try:
        response = await client.login(settings.password, device_name=DEVICE_NAME)
    except Exception:  # network: the caller turns it into "unreachable"; the session must not leak
        await client.close()
        raise
    if not isinstance(response, LoginResponse):
        await client.close()
        if is_transient(response):
            raise MatrixUnreachableError(f"the homeserver could not log in now: {_status(response)}")
        raise MatrixLoginError(f"password login failed: {_status(response)}")
    save_session(
        settings.matrix_dir / SESSION_FILE,
        StoredSession(settings.homeserver, response.user_id, response.device_id, response.access_token, pickle_key),
    )
    log.info("event=matrix_logged_in new_device=%s", device_id is None)
    return client


def _status(response: Any) -> str:
    http = http_status(response)
    return f"{getattr(response, 'status_code', None) or 'error'} (HTTP {http if http is not None else '?'})"


async def maintain_keys(client: AsyncClient) -> None:
    """What nio's sync_forever would do between syncs: keys upload/query/claim and pending to-device messages."""
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    await client.send_to_device_messages()


def _client(settings: MatrixSettings, store_path: Path, pickle_key: str, device_id: str | None) -> AsyncClient:
    return AsyncClient(settings.homeserver, settings.user_id, device_id=device_id or "",
                       store_path=str(store_path), config=client_config(pickle_key))
