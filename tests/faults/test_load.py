"""A burst of 5,000 events with mixed fan-out, the worker's memory sampled throughout."""

from __future__ import annotations

import time

from devstack.processes import MemorySampler
from faults.harness import Stack, assert_nothing_lost, tag_events

EVENTS = 5_000
MIX = ["fan-0"] * 3 + ["fan-1"] * 4 + ["fan-2"] * 2 + ["fan-5"]
"""Per 10 events: 3 that match nothing, 4 to one webhook, 2 to two, 1 to five (1.3 deliveries each)."""
MEMORY_CEILING_MIB = 300
"""What the worker may take under this load (it peaks at about 180-200 MiB; see the summary)."""
GROWTH_LIMIT_MIB = 40
"""How much more the second half of the burst may take than the first: holding on to each event
(4 KiB of contact, several times that as Python objects) would pass it many times over."""


async def test_a_burst_of_5000_events_is_delivered_with_bounded_memory(stack: Stack) -> None:
    await stack.make_hooks([0, 1, 2, 5])
    worker = await stack.start_worker()
    events = tag_events((MIX * (EVENTS // len(MIX) + 1))[:EVENTS], contact_bytes=4096)

    started = time.monotonic()
    with MemorySampler(worker) as memory:
        at_rest = worker.rss_mb() or 0.0
        handles = await stack.send(events, concurrency=100)
        await stack.settle(handles, within=1200)
    took = time.monotonic() - started

    tally = await stack.reckon(f"burst of {EVENTS:,} events, mixed fan-out 0/1/2/5", events)
    tally.notes.append(
        f"worker memory {at_rest:.0f} MiB at rest, peak {memory.peak:.0f} MiB, "
        f"{memory.samples[-1][1]:.0f} MiB at the end; {took:.0f} s in all"
    )
    assert_nothing_lost(tally)
    half = len(memory.samples) // 2
    first, second = (max(mib for _, mib in part) for part in (memory.samples[:half], memory.samples[half:]))
    assert memory.peak < MEMORY_CEILING_MIB, tally.line()
    assert second - first < GROWTH_LIMIT_MIB, f"{first:.0f} MiB in the first half, {second:.0f} MiB in the second"
