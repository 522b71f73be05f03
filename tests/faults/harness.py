"""The fault suite's rig: the stack as real processes, events with known destinations, and the
reckoning at the end of each scenario, from the receiver's record and the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from core.config import Settings
from core.temporal import register_search_attributes
from devstack.processes import TemporalServer, WorkerProcess
from devstack.receiver import Received, Receiver
from models.payload import delivery_id_for
from models.samples import sample_event
from models.tables import DeliveryStatus, Webhook, WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.migrate import upgrade
from store.queries import Store
from worker import ATTEMPT_MARGIN

WORKSPACE = "ws_faults"
REQUEST_TIMEOUT = timedelta(seconds=2)
# Long enough to outlast each outage the scenarios cause (about 25 s of retries), short enough
# that a delivery which would never succeed shows up as lost within the test.
RETRY_SCHEDULE = tuple(timedelta(seconds=s) for s in (0.5, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3))

UNEXPLAINED = "unexplained"
LATE_ANSWER = "the receiver answered after the request timeout"


@dataclass
class Fault:
    what: str
    began: float
    """time.monotonic() when it was caused."""
    ended: float
    """When it was over (the same instant for a kill)."""


@dataclass
class Tally:
    """One scenario's reckoning; the suite prints one line per scenario."""

    scenario: str
    events: int
    expected: int
    delivered: int
    lost: int
    unexpected: int
    duplicates: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    unexplained_requests: list[str] = field(default_factory=list)
    """Each unexplained duplicate's requests (every request of its delivery, when and answered
    what), printed when the scenario fails on them."""

    @property
    def unexplained(self) -> int:
        return self.duplicates[UNEXPLAINED]

    def line(self) -> str:
        dups = ", ".join(f"{n} {cause}" for cause, n in self.duplicates.items()) or "none"
        notes = "".join(f"; {note}" for note in self.notes)
        return (
            f"{self.scenario}: {self.events} events, {self.expected} deliveries expected, "
            f"{self.delivered} delivered, {self.lost} lost, {self.unexpected} unexpected, "
            f"duplicates: {dups}{notes}"
        )


TALLIES: list[Tally] = []


@dataclass
class Stack:
    """The Temporal dev server on a SQLite file, worker processes, a receiver and the store."""

    folder: Path
    server: TemporalServer
    client: Client
    store: Store
    receiver: Receiver
    settings: Settings
    workers: list[WorkerProcess] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    hooks: dict[str, list[Webhook]] = field(default_factory=dict)
    """The webhooks made for each tag: an event with that tag goes to exactly these."""

    def note(self, what: str) -> None:
        """Record a fault as it is caused: duplicates around it are put down to it."""
        now = time.monotonic()
        self.faults.append(Fault(what, now, now))

    @contextlib.contextmanager
    def outage(self, what: str) -> Iterator[None]:
        """Record a fault that lasts while in the `with`."""
        fault = Fault(what, time.monotonic(), math.inf)
        self.faults.append(fault)
        try:
            yield
        finally:
            fault.ended = time.monotonic()

    async def received(self, count: int, within: float = 60) -> None:
        """Return once the receiver has had `count` requests in all."""
        if len(await asyncio.to_thread(self.receiver.wait_for, count, within)) < count:
            raise TimeoutError(f"the receiver got {len(self.receiver.requests)} requests in {within:g} s, not {count}")

    async def start_worker(self, settings: Settings | None = None) -> WorkerProcess:
        worker = WorkerProcess(
            f"worker {len(self.workers) + 1}",
            self.folder / f"worker-{len(self.workers) + 1}.log",
            settings or self.settings,
            self.server.address,
        )
        worker.start()
        await worker.ready()
        self.workers.append(worker)
        return worker

    async def make_hooks(self, fan_out: Iterable[int]) -> None:
        """For each fan-out n, a tag `fan-n` with n webhooks that filter on it."""
        for n in fan_out:
            tag = f"fan-{n}"
            self.hooks[tag] = [
                await create_webhook(
                    self.store,
                    WORKSPACE,
                    WebhookCreate(
                        name=f"{tag} #{i}",
                        event_type="tag.applied",
                        filter={"tag": tag},
                        url=self.receiver.url(f"/{tag}/{i}"),
                    ),
                    allow_private=True,
                )
                for i in range(n)
            ]

    async def make_hook(self, tag: str, **fields: Any) -> Webhook:
        """One more webhook for the tag, at `/{tag}`, with these fields too (pacing, say)."""
        hook = await create_webhook(
            self.store,
            WORKSPACE,
            WebhookCreate(
                name=tag, event_type="tag.applied", filter={"tag": tag}, url=self.receiver.url(f"/{tag}"), **fields
            ),
            allow_private=True,
        )
        self.hooks.setdefault(tag, []).append(hook)
        return hook

    async def send(self, events: Sequence[dict[str, Any]], concurrency: int = 50) -> list[WorkflowHandle[Any, Any]]:
        gate = asyncio.Semaphore(concurrency)

        async def one(event: dict[str, Any]) -> WorkflowHandle[Any, Any]:
            async with gate:
                return await publish(self.client, event, task_queue=self.settings.task_queue)

        return list(await asyncio.gather(*(one(e) for e in events)))

    async def settle(self, handles: Sequence[WorkflowHandle[Any, Any]], within: float) -> None:
        """Wait for every workflow to close (a failed one too: the reckoning says what it lost)."""
        gate = asyncio.Semaphore(100)

        async def one(handle: WorkflowHandle[Any, Any]) -> None:
            async with gate:
                with contextlib.suppress(WorkflowFailureError):
                    await handle.result()

        async with asyncio.timeout(within):
            await asyncio.gather(*(one(h) for h in handles))

    def expected(self, events: Sequence[dict[str, Any]]) -> dict[str, set[str]]:
        return {e["event_id"]: {h.id for h in self.hooks.get(e["data"]["tag"], [])} for e in events}

    async def reckon(
        self, scenario: str, events: Sequence[dict[str, Any]], *, aside: Callable[[Received], bool] | None = None
    ) -> Tally:
        """Compare what should have arrived with what the receiver took (2xx) and the ledger says.
        Requests `aside` picks (those of webhooks the scenario checks itself) are left out."""
        expected = {(event, hook) for event, hooks in self.expected(events).items() for hook in hooks}
        copies: dict[tuple[str, str], list[Received]] = defaultdict(list)
        for request in self.receiver.requests:
            if 200 <= request.answer.status < 300 and not (aside and aside(request)):
                data = request.json()["data"]
                copies[(data["event_id"], data["webhook"]["id"])].append(request)
        ledger = {
            (d.event_id, d.webhook_id)
            for hooks in self.hooks.values()
            for hook in hooks
            for d in await self.store.list_deliveries(hook.id, status=DeliveryStatus.DELIVERED, limit=1_000_000)
        }
        tally = Tally(
            scenario,
            events=len(events),
            expected=len(expected),
            delivered=len(expected & copies.keys() & ledger),
            lost=len(expected - (copies.keys() & ledger)),
            unexpected=len(copies.keys() - expected),
        )
        for (event_id, hook_id), received in copies.items():
            for duplicate in received[1:]:
                cause = self.explain(received[0], duplicate, (event_id, hook_id))
                tally.duplicates[cause] += 1
                if cause == UNEXPLAINED:
                    tally.unexplained_requests.append(self.requests_of(received[0].headers["webhook-id"]))
        TALLIES.append(tally)
        return tally

    def requests_of(self, delivery_id: str) -> str:
        """Every request of one delivery, each as seconds since the receiver's first request and its
        answer, and the faults caused meanwhile: what a failure on a duplicate prints."""
        start = self.receiver.requests[0].at
        mine = [r for r in self.receiver.requests if r.headers.get("webhook-id") == delivery_id]
        steps = [f"+{r.at - start:.3f} s HTTP {r.answer.status}" for r in mine]
        faults = [f"{f.what} at +{f.began - start:.3f} s" for f in self.faults]
        return f"{delivery_id}: {', '.join(steps)} (faults: {'; '.join(faults) or 'none'})"

    def explain(self, first: Received, duplicate: Received, pair: tuple[str, str]) -> str:
        """Why a receiver got (event, webhook) twice: acceptable only where the first attempt's
        outcome was unknown to the pipeline, and only with the same webhook-id."""
        if {first.headers["webhook-id"], duplicate.headers["webhook-id"]} != {delivery_id_for(WORKSPACE, *pair)}:
            return UNEXPLAINED
        if first.answer.delay >= self.settings.request_timeout.total_seconds():
            return LATE_ANSWER
        # The fault hit while the first copy's attempt was still unrecorded, before the copy came.
        attempt = self.settings.request_timeout.total_seconds() + ATTEMPT_MARGIN.total_seconds()
        during = [f.what for f in self.faults if f.began - attempt <= first.at <= f.ended and duplicate.at >= f.began]
        return during[0] if during else UNEXPLAINED


def tag_events(tags: Iterable[str], *, contact_bytes: int = 0) -> list[dict[str, Any]]:
    """One tag.applied event per tag, each with a new id (and, if asked, a bulky custom field)."""
    events = []
    for n, tag in enumerate(tags):
        event = sample_event(
            "tag.applied",
            event_id=f"evt_{uuid.uuid4().hex[:12]}",
            workspace_id=WORKSPACE,
            contact_id=f"c_{n}",
            data={"tag": tag},
        )
        if contact_bytes:
            event["contact"]["custom_fields"]["notes"] = "n" * contact_bytes
        events.append(event)
    return events


@contextlib.asynccontextmanager
async def running_stack(folder: Path, database_url: str | None = None, *, migrate: bool = True) -> AsyncIterator[Stack]:
    """A dev server on `folder`/temporal.db, the store (SQLite in `folder` unless given), a receiver.
    The scenario starts its workers; everything is stopped on the way out. Without `migrate`, the
    store's schema is the scenario's to make (a previous release's, for an upgrade)."""
    database_url = database_url or f"sqlite:///{folder / 'webhooks.db'}"
    if migrate:
        upgrade(database_url)
    settings = Settings(
        database_url=database_url,
        task_queue=f"faults-{uuid.uuid4().hex[:8]}",
        retry_schedule=RETRY_SCHEDULE,
        request_timeout=REQUEST_TIMEOUT,
        allow_private_urls=True,
    )
    server = TemporalServer(folder)
    server.start()
    store = Store.from_url(database_url)
    try:
        client = await server.connect()
        await register_search_attributes(client)
        with Receiver() as receiver:
            stack = Stack(folder, server, client, store, receiver, settings)
            try:
                yield stack
            finally:
                for worker in stack.workers:
                    worker.stop()
    finally:
        await store.close()
        server.stop()


def assert_nothing_lost(tally: Tally) -> None:
    assert (tally.lost, tally.unexpected, tally.unexplained) == (0, 0, 0), "\n".join(
        [tally.line(), *tally.unexplained_requests]
    )
