"""Receivers that fail: down (connections refused), then slow (answering after the request
timeout), then back."""

from __future__ import annotations

import asyncio

from devstack.receiver import Answer
from faults.harness import REQUEST_TIMEOUT, Stack, assert_nothing_lost, tag_events


async def test_a_receiver_down_then_slow_then_back_gets_everything(stack: Stack) -> None:
    await stack.make_hooks([1, 2])
    await stack.start_worker()
    events = tag_events(["fan-1", "fan-2"] * 20)

    with stack.outage("the receiver was down"):
        stack.receiver.stop()
        handles = await stack.send(events)
        await asyncio.sleep(3)
    stack.receiver.default = Answer(delay=REQUEST_TIMEOUT.total_seconds() + 0.5)
    stack.receiver.start()
    await stack.received(30)
    stack.receiver.default = Answer()
    await stack.settle(handles, within=120)

    tally = await stack.reckon("receiver down 3 s, then slower than the 2 s timeout, then back", events)
    assert_nothing_lost(tally)
    late = [r for r in stack.receiver.requests if r.answer.delay]
    assert len(late) >= 30, "the slow phase should have taken requests"
