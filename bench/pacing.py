"""What pacing costs: billable actions, worker CPU, wall time and deliveries per second per event
for webhooks with a rate limit, a concurrency cap or ordered delivery, each beside an unlimited
webhook measured in the same run, on the same dev server (persisting to a file) and the same
`webhooks worker` process. Part of `make bench`.

The same number of events goes to one webhook in each case, through the API's intake, 50 under
way at once as in `bench.pipeline`'s bursts, each with a contact of its own unless said otherwise:

- unlimited: the reference, measured first, in the middle and last, and averaged (the server's file
  grows during the run, and this shared machine's load moves a run's worker CPU by a fifth);
- max_per_second 1000 with a burst of 100, which never binds (the cost of checking); and a rate
  well under what the pipeline delivers here (0.6 times the reference's, at least 10, burst 10),
  so that most deliveries are held once (the cost of holding);
- max_in_flight 5 against a receiver that takes 50 ms to answer, and an unlimited webhook against
  that same receiver beside it;
- ordered, a contact per event (order never binds: the cost of checking); and ordered with ten
  events for each contact, sent in rounds (the first event of every contact at once, then the
  second once the intake took those...), so that a contact's event often finds the one before it
  still under way, or not yet matched by a worker. Every contact's events are started in the
  order they occurred: a delivery that arrives after a later event of its contact is counted
  (disorder), and there should be none.

Actions are counted from the workflows' histories as Temporal Cloud bills them
(devstack.billing: each activity attempt, though a history records only the last one's start;
a durable attempt held again at its turn ends in a retry). Holds are counted there
too: a first attempt that was held sleeps on a timer (no attempt fails here: the receivers answer
200), and a durable attempt held again is a retry; a durable attempt that waits in place for a
turn under two seconds away leaves no trace in the history and costs no action. The ledger's
attempts show that no hold used up an attempt. Worker CPU is the worker process's (user +
system, /proc) over the case, from the first event's start to the last workflow's end.

Prints a table and writes bench/results/pacing.json.

    python -m bench.pacing [--events 400]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle

from bench.pipeline import drive, exactly_once, per_second
from bench.rig import Rig, cpu_seconds, running_rig
from bench.sink import Arrival
from core.config import Settings
from devstack.billing import billable_actions
from devstack.processes import WorkerProcess
from devstack.receiver import Answer, Receiver
from models.events import parse_event
from models.samples import sample_event
from models.tables import Delivery, DeliveryStatus, WebhookCreate
from services.events import accept_event
from services.webhooks import create_webhook
from store.migrate import upgrade
from store.queries import Store

RESULTS = Path(__file__).parent / "results"
EVENTS = 400
"""Events per case: ten runs of this many (the warm-up and three of the reference's among them)
take about two minutes on this two-core machine when nothing else runs on it."""
PER_CONTACT = 10
"""Events per contact in the ordered case where order binds."""
SLOW_ANSWER = 0.05
"""Seconds the slow receiver takes to answer."""
BINDING_SHARE = 0.6
BINDING_FLOOR = 10
"""The binding rate, as a share of the reference's deliveries per second in this run (first
measured), and the least it is (a first reference slowed by the machine's other work would
otherwise make the case long)."""
PER_HOLD_FROM = 0.2
"""What a hold adds is worked out where at least this share of deliveries was held."""
WARM_UP = 30
HISTORIES_AT_ONCE = 20
OCCURRED = datetime(2026, 11, 24, 10, tzinfo=UTC)
REFERENCE = "unlimited"
Start = Callable[[int], Awaitable[WorkflowHandle[Any, Any]]]


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    limits: dict[str, Any] = field(default_factory=dict)
    """The webhook's pacing fields, as WebhookCreate takes them."""
    per_contact: int | None = None
    """Events per contact, sent in rounds (None: a contact of its own per event, in one burst)."""
    slow: bool = False
    """Answered by the slow receiver rather than the sink."""


CASES = (
    Case(REFERENCE, "unlimited (reference)"),
    Case("rate-check", "max_per_second 1000, burst 100", {"max_per_second": 1000, "burst": 100}),
    Case("rate-hold", "max_per_second {rate:g}, burst 10", {"burst": 10}),  # the rate from the reference's
    Case("slow", "unlimited, receiver 50 ms", slow=True),
    Case("in-flight", "max_in_flight 5, receiver 50 ms", {"max_in_flight": 5}, slow=True),
    Case("ordered-check", "ordered, a contact per event", {"ordered": True}),
    Case("ordered-hold", f"ordered, {PER_CONTACT} events per contact", {"ordered": True}, per_contact=PER_CONTACT),
)


@dataclass
class Measured:
    events: int
    wall_s: float
    worker_cpu_s: float
    deliveries_per_s: float
    actions: int
    held: int
    """First attempts held back (each a timer, then the durable activity at its turn)."""
    held_again: int
    """Durable attempts held again at their turn (each a retry of the activity)."""
    ledger_attempts: int
    out_of_order: int | None = None
    """With several events per contact: deliveries that arrived after a later event of their
    contact (started after theirs)."""


def retries(events: Sequence[HistoryEvent]) -> int:
    """Activity attempts past each activity's first: a history keeps only the last one's start."""
    return sum(
        e.activity_task_started_event_attributes.attempt - 1
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    )


async def histories(handles: Sequence[WorkflowHandle[Any, Any]]) -> list[list[HistoryEvent]]:
    gate = asyncio.Semaphore(HISTORIES_AT_ONCE)

    async def one(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
        async with gate:
            return list((await handle.fetch_history()).events)

    return list(await asyncio.gather(*(one(h) for h in handles)))


async def in_rounds(start: Start, placed: Sequence[tuple[str, int]]) -> list[WorkflowHandle[Any, Any]]:
    """The k-th event of every contact at once, the next round as soon as the intake took them."""
    handles: dict[int, WorkflowHandle[Any, Any]] = {}
    for k in sorted({seq for _, seq in placed}):
        ids = [i for i, (_, seq) in enumerate(placed) if seq == k]
        handles.update(zip(ids, await asyncio.gather(*(start(i) for i in ids)), strict=True))
    return [handles[i] for i in range(len(placed))]


def disorder(arrivals: Sequence[Arrival], placed: dict[str, tuple[str, int]]) -> int:
    """Deliveries that arrived after a later event of their contact."""
    latest: dict[str, int] = {}
    late = 0
    for arrival in sorted(arrivals, key=lambda a: a.at):
        assert arrival.event_id is not None
        contact, seq = placed[arrival.event_id]
        if latest.get(contact, -1) > seq:
            late += 1
        else:
            latest[contact] = seq
    return late


class Bench:
    def __init__(self, rig: Rig, store: Store, worker: WorkerProcess, task_queue: str, slow: Receiver) -> None:
        self.rig = rig
        self.store = store
        self.worker = worker
        self.task_queue = task_queue
        self.slow = slow

    async def run(self, case: Case, events: int) -> Measured:
        """Send `events` events to a webhook of the case's own, in a workspace of its own; wait for
        every workflow to end; count what they cost."""
        run = f"{case.key}-{uuid.uuid4().hex[:6]}"
        workspace = f"ws_{run}"
        url = self.slow.url(f"/{run}") if case.slow else self.rig.sink.url(f"/{run}")
        create = WebhookCreate(name=run, event_type="tag.applied", url=url, **case.limits)
        hook = await create_webhook(self.store, workspace, create, allow_private=True)
        # Each event's contact and its place among that contact's events (its occurred_at).
        per_contact = case.per_contact or 1
        placed = [(f"c_{i // per_contact}", i % per_contact) for i in range(events)]

        async def start(i: int) -> WorkflowHandle[Any, Any]:
            contact, seq = placed[i]
            raw = sample_event("tag.applied", event_id=f"evt_{run}_{i}", workspace_id=workspace, contact_id=contact)
            raw["occurred_at"] = (OCCURRED + timedelta(seconds=seq)).isoformat()
            return await accept_event(self.store, self.rig.client, self.task_queue, parse_event(raw))

        sink_mark, slow_mark = await self.rig.sink.count(), len(self.slow.requests)
        cpu, began, t0 = cpu_seconds(self.worker.pid), time.time(), time.monotonic()
        handles = await (in_rounds(start, placed) if case.per_contact else drive(start, events, None))
        await asyncio.gather(*(h.result() for h in handles))
        wall, cpu = time.monotonic() - t0, cpu_seconds(self.worker.pid) - cpu

        arrivals = await self.arrivals(case, sink_mark, slow_mark)
        exactly_once(arrivals, events)
        found = await histories(handles)
        async with self.store.engine.connect() as conn:
            ledger = (
                await conn.execute(
                    select(col(Delivery.status), func.count(), func.sum(col(Delivery.attempts)))
                    .where(col(Delivery.webhook_id) == hook.id)
                    .group_by(col(Delivery.status))
                )
            ).all()
        statuses = {status: n for status, n, _ in ledger}
        if statuses != {DeliveryStatus.DELIVERED: events}:
            raise AssertionError(f"{case.key}: every delivery should be delivered; the ledger has {statuses}")
        measured = Measured(
            events=events,
            wall_s=wall,
            worker_cpu_s=cpu,
            deliveries_per_s=per_second(arrivals, began),
            actions=sum(billable_actions(h) for h in found),
            held=Counter(e.event_type for h in found for e in h)[EventType.EVENT_TYPE_TIMER_STARTED],
            held_again=sum(retries(h) for h in found),
            ledger_attempts=sum(attempts for _, _, attempts in ledger),
        )
        if case.per_contact:
            by_event = {f"evt_{run}_{i}": place for i, place in enumerate(placed)}
            measured.out_of_order = disorder(arrivals, by_event)
        return measured

    async def arrivals(self, case: Case, sink_mark: int, slow_mark: int) -> list[Arrival]:
        """The case's requests, as the sink records them (the slow receiver's, in the same shape)."""
        if not case.slow:
            return await self.rig.sink.since(sink_mark)
        offset = time.time() - time.monotonic()  # its arrivals are on the monotonic clock
        return [
            Arrival(r.at + offset, r.path, r.headers.get("webhook-id"), r.json()["data"]["event_id"])
            for r in self.slow.requests[slow_mark:]
        ]


def figures(case: Case, m: Measured) -> dict[str, Any]:
    return {
        "case": case.key,
        "title": case.title,
        "limits": case.limits,
        "events_per_contact": case.per_contact or 1,
        "receiver_answers_in_ms": SLOW_ANSWER * 1000 if case.slow else 0,
        "events": m.events,
        "held": m.held,
        "held_again": m.held_again,
        "ledger_attempts": m.ledger_attempts,
        "actions_per_event": m.actions / m.events,
        "worker_cpu_ms_per_event": m.worker_cpu_s * 1000 / m.events,
        "wall_s": m.wall_s,
        "deliveries_per_s": m.deliveries_per_s,
        "out_of_order": m.out_of_order,
    }


RATIOS = {
    "actions_per_event": "vs_reference_actions",
    "worker_cpu_ms_per_event": "vs_reference_worker_cpu",
    "wall_s": "vs_reference_wall",
    "deliveries_per_s": "vs_reference_deliveries_per_s",
}


def compared(row: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """A case's figures with their ratios to the reference's, and what each hold added to it."""
    row = row | {ratio: row[key] / ref[key] for key, ratio in RATIOS.items()}
    holds = row["held"] + row["held_again"]
    if holds >= row["events"] * PER_HOLD_FROM:  # fewer, and the run's noise is all a figure per hold would show
        row["extra_actions_per_hold"] = (row["actions_per_event"] - ref["actions_per_event"]) * row["events"] / holds
        extra_cpu = row["worker_cpu_ms_per_event"] - ref["worker_cpu_ms_per_event"]
        row["extra_worker_cpu_ms_per_hold"] = extra_cpu * row["events"] / holds
    return row


AVERAGED = [*RATIOS, "held", "held_again", "ledger_attempts"]


def averaged(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The reference as the mean of its runs (first, in the middle, last), each kept beside it."""
    return (
        runs[0]
        | {key: sum(run[key] for run in runs) / len(runs) for key in AVERAGED}
        | {"measured": [{key: run[key] for key in RATIOS} for run in runs]}
    )


async def main(events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with running_rig(Path(tmp)) as rig:
            database = f"sqlite:///{Path(tmp) / 'pacing.db'}"
            upgrade(database)
            store = Store.from_url(database)
            queue = f"bench-pacing-{uuid.uuid4().hex[:6]}"
            settings = Settings(
                database_url=database, task_queue=queue, allow_private_urls=True,
                retry_schedule=(timedelta(seconds=1),),
            )  # fmt: skip
            worker = rig.worker(queue, settings)
            worker.start()
            try:
                with Receiver() as slow:
                    slow.default = Answer(delay=SLOW_ANSWER)
                    await worker.ready()
                    bench = Bench(rig, store, worker, queue, slow)
                    await bench.run(CASES[0], WARM_UP)  # the server's caches and file, the worker's imports
                    refs = [figures(CASES[0], await bench.run(CASES[0], events))]
                    rows = []
                    for n, case in enumerate(CASES[1:], 1):
                        if case.key == "rate-hold":
                            rate = max(BINDING_FLOOR, round(refs[0]["deliveries_per_s"] * BINDING_SHARE))
                            limits = case.limits | {"max_per_second": rate}
                            case = dataclasses.replace(case, title=case.title.format(rate=rate), limits=limits)
                        rows.append(figures(case, await bench.run(case, events)))
                        print(f"  {case.title}: {rows[-1]['wall_s']:.1f} s", flush=True)
                        if n == len(CASES) // 2 or n == len(CASES) - 1:
                            refs.append(figures(CASES[0], await bench.run(CASES[0], events)))
                            print(f"  {CASES[0].title}: {refs[-1]['wall_s']:.1f} s", flush=True)
                    ref = averaged(refs)
            finally:
                worker.stop()
                await store.close()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "events_per_case": events,
        "binding_rate_share_of_reference": BINDING_SHARE,
        "reference": ref,
        "runs": [compared({key: value for key, value in ref.items() if key != "measured"}, ref)]
        + [compared(row, ref) for row in rows],
    }


def show(results: dict[str, Any]) -> None:
    ref = results["reference"]
    measured = ref["measured"]
    print(
        f"\n{results['machine']}; {results['events_per_case']} events per case, one webhook each; the unlimited "
        f"reference measured {len(measured)} times (first, in the middle, last) and averaged: "
        + ", ".join(f"{m['deliveries_per_s']:.1f}" for m in measured)
        + " deliveries/s, "
        + ", ".join(f"{m['worker_cpu_ms_per_event']:.1f}" for m in measured)
        + " worker CPU ms per event"
    )
    columns = [("case", -36), ("held", 6), ("again", 6), ("tries", 6), ("actions", 8), ("x ref", 6)]
    columns += [("CPU ms", 8), ("x ref", 6), ("wall s", 7), ("x ref", 6), ("dlv/s", 7), ("x ref", 6)]
    columns += [("+act/hold", 10), ("+ms/hold", 9), ("disorder", 9)]
    print("".join(name.ljust(-width) if width < 0 else name.rjust(width) for name, width in columns))
    for r in results["runs"]:
        per_hold = (
            f"{r['extra_actions_per_hold']:>10.2f}{r['extra_worker_cpu_ms_per_hold']:>9.1f}"
            if "extra_actions_per_hold" in r
            else f"{'':>10}{'':>9}"
        )
        late = "" if r["out_of_order"] is None else str(r["out_of_order"])
        print(
            f"{r['title']:<36}{r['held']:>6.0f}{r['held_again']:>6.0f}{r['ledger_attempts']:>6.0f}"
            f"{r['actions_per_event']:>8.2f}{r['vs_reference_actions']:>6.2f}"
            f"{r['worker_cpu_ms_per_event']:>8.1f}{r['vs_reference_worker_cpu']:>6.2f}"
            f"{r['wall_s']:>7.1f}{r['vs_reference_wall']:>6.2f}"
            f"{r['deliveries_per_s']:>7.1f}{r['vs_reference_deliveries_per_s']:>6.2f}{per_hold}{late:>9}"
        )
    legend = (
        "held: first attempts held back (a timer each)",
        "again: durable attempts held again at their turn (a retry each)",
        "tries: attempts in the ledger (one per delivery: holds use up none)",
        "actions, CPU ms: per event; x ref: over the reference's",
        "+act/hold, +ms/hold: what each hold added to the reference's (where a fifth or more were held)",
        "disorder: deliveries that arrived after a later event of their contact (started after theirs)",
    )
    print("\n".join(legend))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="events per case")
    args = parser.parse_args()
    began = time.monotonic()
    results = asyncio.run(main(args.events))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pacing.json").write_text(json.dumps(results, indent=2) + "\n")
    show(results)
    print(f"\n{time.monotonic() - began:.0f} s in all")
