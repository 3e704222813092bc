"""Group commit: requests arriving while a batch runs share the next batch; failures reach every requester."""

from __future__ import annotations

import asyncio

import pytest

from bot.group_commit import GroupCommit


async def test_requests_arriving_during_a_batch_are_served_together_in_the_next_one() -> None:
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def run(requests: list[int]) -> list[int]:
        batches.append(requests)
        if len(batches) == 1:
            await release.wait()
        return [request * 10 for request in requests]

    group: GroupCommit[int, int] = GroupCommit(run, parallel=1, max_batch=3)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)
    later = [asyncio.create_task(group.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30, 40, 50, 60]
    assert batches == [[1], [2, 3, 4], [5, 6]], "the first runs at once; the rest wait and are batched (max 3)"


async def test_a_failing_batch_fails_each_of_its_requests_and_the_next_batch_still_runs() -> None:
    calls = 0

    async def run(requests: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database gone")
        return requests

    group: GroupCommit[str, str] = GroupCommit(run, parallel=1, max_batch=10)
    with pytest.raises(RuntimeError):
        await group.submit("a")
    assert await group.submit("b") == "b"
    await group.stop()
