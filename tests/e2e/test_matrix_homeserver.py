"""The test homeserver itself: Synapse starts from the fixture, accounts are created through the shared-secret
admin API, and two nio clients can talk end-to-end encrypted — the ground every Matrix bot test stands on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, JoinResponse, LoginResponse, SyncResponse

from tests.e2e.matrix_driver import MatrixCitizen
from tests.e2e.synapse import Synapse, SynapseError, unique_name

pytestmark = pytest.mark.e2e


async def test_encrypted_direct_message_reaches_another_account_decrypted(
    synapse_server: Synapse, tmp_path: Path
) -> None:
    other = synapse_server.register(unique_name("other"))
    citizen = await MatrixCitizen.join(synapse_server, tmp_path, other.user_id)
    receiver = AsyncClient(synapse_server.url, other.user_id, store_path=str(tmp_path / "receiver"),
                           config=AsyncClientConfig(encryption_enabled=True))
    (tmp_path / "receiver").mkdir()
    try:
        assert isinstance(await receiver.login(other.password), LoginResponse)
        await receiver.keys_upload()
        first = await receiver.sync(timeout=0, full_state=True)
        assert isinstance(first, SyncResponse)

        room_id = await citizen.open_dm()
        invite = await _sync_until(receiver, lambda r: room_id in r.rooms.invite)
        member = next(e for e in invite.rooms.invite[room_id].invite_state
                      if isinstance(e, InviteMemberEvent) and e.state_key == other.user_id)
        assert member.content.get("is_direct") is True
        assert isinstance(await receiver.join(room_id), JoinResponse)
        await _sync_until(receiver, lambda r: room_id in r.rooms.join)
        await citizen.wait_until(citizen.bot_is_member)

        await citizen.say("Hallo verschlüsselt")
        message = await _sync_until(receiver, lambda r: any(
            getattr(e, "body", None) == "Hallo verschlüsselt"
            for e in (r.rooms.join.get(room_id).timeline.events if room_id in r.rooms.join else [])
        ))
        event = next(e for e in message.rooms.join[room_id].timeline.events if getattr(e, "body", None))
        assert event.decrypted is True
        assert receiver.rooms[room_id].encrypted
    finally:
        await citizen.close()
        await receiver.close()


async def test_registering_the_same_name_twice_is_refused(synapse_server: Synapse) -> None:
    name = unique_name("twice")
    synapse_server.register(name)
    with pytest.raises(SynapseError):
        synapse_server.register(name)


async def _sync_until(client: AsyncClient, predicate: object, timeout: float = 20.0) -> SyncResponse:
    async with asyncio.timeout(timeout):
        while True:
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()
            response = await client.sync(timeout=500)
            if isinstance(response, SyncResponse) and predicate(response):  # type: ignore[operator]
                return response
