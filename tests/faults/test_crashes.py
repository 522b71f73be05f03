"""Processes that die: a worker killed mid-delivery, one of two workers killed, the Temporal server
stopped and started again, the store's PostgreSQL stopped and started again."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from devstack.processes import PostgresServer
from devstack.receiver import Answer
from faults.harness import Stack, assert_nothing_lost, running_stack, tag_events


async def test_a_worker_killed_mid_delivery_loses_nothing(stack: Stack) -> None:
    await stack.make_hooks([3])
    stack.receiver.default = Answer(delay=1.0)  # so that deliveries are under way when it dies
    worker = await stack.start_worker()
    events = tag_events(["fan-3"] * 100)
    handles = await stack.send(events)

    await stack.received(150)
    worker.stop(signal.SIGKILL)
    stack.note("the worker was killed mid-request")
    stack.receiver.default = Answer()
    await stack.start_worker()
    await stack.settle(handles, within=120)

    tally = await stack.reckon("worker killed (SIGKILL) during 300 deliveries, restarted", events)
    assert_nothing_lost(tally)


async def test_one_of_two_workers_killed_the_other_carries_on(stack: Stack) -> None:
    await stack.make_hooks([0, 1, 4])
    stack.receiver.default = Answer(delay=0.5)
    first = await stack.start_worker()
    await stack.start_worker()
    events = tag_events(["fan-0", "fan-1", "fan-4"] * 40)
    handles = await stack.send(events)

    await stack.received(80)
    first.stop(signal.SIGKILL)
    stack.note("one of two workers was killed mid-request")
    await stack.settle(handles, within=120)

    tally = await stack.reckon("two workers, one killed (SIGKILL), not restarted", events)
    assert_nothing_lost(tally)


async def test_the_temporal_server_killed_and_restarted_keeps_deliveries_and_retries(stack: Stack) -> None:
    await stack.make_hooks([2])
    stack.receiver.default = Answer(503)  # every delivery is between retries when the server stops
    await stack.start_worker()
    events = tag_events(["fan-2"] * 50)
    handles = await stack.send(events)

    await stack.received(60)
    with stack.outage("the Temporal server was down"):
        stack.server.stop(signal.SIGKILL)
        stack.receiver.default = Answer()
        await asyncio.sleep(3)
        stack.server.start()
    later = tag_events(["fan-2"] * 10)
    handles += await stack.send(later)
    await stack.settle(handles, within=120)

    tally = await stack.reckon(
        "Temporal server killed (SIGKILL), restarted 3 s later on its database file", events + later
    )
    assert_nothing_lost(tally)
    assert sum(1 for r in stack.receiver.requests if r.answer.status == 503) >= 60


async def test_the_store_stopped_and_started_again_loses_nothing(tmp_path: Path, own_postgres: PostgresServer) -> None:
    async with running_stack(tmp_path, own_postgres.url) as stack:
        await stack.make_hooks([1, 3])
        stack.receiver.default = Answer(delay=0.2)
        await stack.start_worker()
        events = tag_events(["fan-1", "fan-3"] * 40)
        handles = await stack.send(events)

        await stack.received(40)
        with stack.outage("the store's PostgreSQL was down"):
            own_postgres.stop(crash=True)
            await asyncio.sleep(5)
            own_postgres.start()
        await stack.settle(handles, within=120)

        tally = await stack.reckon("store (PostgreSQL) stopped for 5 s mid-delivery, started again", events)
        assert_nothing_lost(tally)
