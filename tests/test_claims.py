"""One attempt at a time per delivery: an attempt takes its delivery in the ledger until its
deadline (store.queries.claim_delivery), and another attempt of the same delivery meanwhile waits
instead of sending a second copy. Temporal runs an attempt twice at once when a workflow task
outlives its timeout on a starved worker: the task goes to another worker, which runs its local
activities (the first attempts) again while the first worker may still be sending them."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SHORT_SCHEDULE
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from test_local_first import WS, history, local_activities, make_hook, new_event

from activities.delivery import DeliveryActivities
from core.config import Settings
from devstack.processes import WorkerProcess
from devstack.receiver import Answer, Receiver
from models.events import TriggerEvent, parse_event
from models.payload import WORKFLOW_TYPE, workflow_id_for
from models.runs import DeliveryInput, EventOutcome
from models.tables import DeliveryStatus, Webhook, WebhookCreate, utcnow
from services.webhooks import create_webhook
from store.queries import DeliveryContext, Store
from worker import build_worker


async def test_of_two_attempts_racing_for_a_delivery_one_takes_it_until_it_writes_its_outcome(
    database_url: str,
) -> None:
    first, second = Store.from_url(database_url), Store.from_url(database_url)
    try:
        hook = await make_hook(first, "https://crm.example/hook")
        event = parse_event(new_event())
        await first.record_event(event, workflow_id_for(WS, event.event_id))
        now = utcnow()

        async def claim(store: Store, until: datetime, at: datetime = now) -> DeliveryContext:
            return await store.claim_delivery(WS, event.event_id, hook.id, until=until, now=at)

        deadlines = [now + timedelta(seconds=40, milliseconds=n) for n in range(10)]
        raced = await asyncio.gather(
            *(claim(store, until) for store, until in zip([first, second] * 5, deadlines, strict=True))
        )
        [winner] = [until for ctx, until in zip(raced, deadlines, strict=True) if ctx.claimed]
        assert {ctx.delivery.sending_until for ctx in raced if not ctx.claimed} == {winner}

        # Its deadline passed (its worker died mid-request, or ran late), the next attempt takes it.
        later = winner + timedelta(seconds=40)
        assert (await claim(second, later, at=winner)).claimed
        # The late attempt's outcome changes nothing: the delivery is the next attempt's now.
        delivery_id = raced[0].delivery.id
        await first.update_delivery(delivery_id, claimed_until=winner, status=DeliveryStatus.FAILED, sending_until=None)
        held = await claim(first, later)
        assert (held.claimed, held.delivery.status, held.delivery.sending_until) == (
            False, DeliveryStatus.PENDING, later,
        )  # fmt: skip
        # The holder's outcome lets it go; once delivered, nobody takes it.
        await second.update_delivery(
            delivery_id, claimed_until=later, status=DeliveryStatus.PENDING, sending_until=None
        )
        assert (await claim(first, later)).claimed
        await first.update_delivery(delivery_id, status=DeliveryStatus.DELIVERED, sending_until=None)
        taken = await claim(second, later, at=later + timedelta(hours=1))
        assert (taken.claimed, taken.delivery.status) == (False, DeliveryStatus.DELIVERED)
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_first_attempt_run_again_while_a_stalled_worker_still_sends_it_is_sent_once(
    env: WorkflowEnvironment, settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """A workflow task that outlives its timeout (its worker starved, here stopped) is handed to
    another worker, which runs its local activities again while the first may still be sending: the
    second finds the delivery taken in the ledger and waits instead of sending a second copy."""
    hook = await make_hook(store, receiver.url("/stalled"))
    # Answered once the stalled worker runs again, well within its request timeout.
    receiver.script("/stalled", [Answer(200, delay=6)])
    settings = settings.model_copy(update={"request_timeout": timedelta(seconds=20)})
    address = env.client.service_client.config.target_host
    first = WorkerProcess("worker 1", tmp_path / "worker-1.log", settings, address)
    first.start()
    await first.ready()
    event = new_event()
    handle = await env.client.start_workflow(
        WORKFLOW_TYPE,
        event,
        id=workflow_id_for(WS, event["event_id"]),
        task_queue=settings.task_queue,
        task_timeout=timedelta(seconds=1),  # the default 10 s, shortened
        result_type=EventOutcome,
    )

    await asyncio.to_thread(receiver.wait_for, 1, 30)
    os.kill(first.pid, signal.SIGSTOP)  # mid-request, its workflow task's timeout running
    try:
        async with build_worker(env.client, settings, store) as second, second:
            takeover = await wait_for_first_attempts(handle, 1, within=20)
            os.kill(first.pid, signal.SIGCONT)
            outcome = await asyncio.wait_for(handle.result(), 60)
    finally:
        os.kill(first.pid, signal.SIGCONT)
        first.stop()

    assert takeover[0]["status"] == "throttled" and "another attempt is sending it" in takeover[0]["detail"]
    assert outcome.deliveries[0].status == DeliveryStatus.DELIVERED
    assert len(receiver.at("/stalled")) == 1
    [ledger] = await store.list_deliveries(hook.id)
    assert (ledger.status, ledger.attempts, ledger.sending_until) == (DeliveryStatus.DELIVERED, 1, None)


async def wait_for_first_attempts(handle: WorkflowHandle[Any, Any], count: int, within: float) -> list[dict[str, Any]]:
    """The results of the first `count` first attempts the history records, once it has them."""
    async with asyncio.timeout(within):
        while True:
            firsts = [result for kind, result in local_activities(await history(handle)) if kind == "deliver_first"]
            if len(firsts) >= count:
                return firsts
            await asyncio.sleep(0.2)


async def ordered_pair(store: Store, url: str) -> tuple[Webhook, TriggerEvent, TriggerEvent]:
    """An ordered webhook and two events of one contact, a second apart, both in the ledger (the
    earlier one pending, as if being sent)."""
    create = WebhookCreate(name="CRM", event_type="tag.applied", url=url, ordered=True)
    hook = await create_webhook(store, WS, create, allow_private=True)
    earlier, later = (parse_event(new_event() | {"occurred_at": f"2026-11-24T10:00:0{n}Z"}) for n in (0, 1))
    for event in (earlier, later):
        await store.record_event(event, workflow_id_for(WS, event.event_id))
    return hook, earlier, later


async def test_an_attempt_cancelled_before_its_request_lets_the_delivery_go_at_once(store: Store) -> None:
    """Cancelled while it waits for its turn (its workflow task moved to another worker, say), an
    attempt has sent nothing: the attempt that replaces it need not wait for its deadline."""
    hook, _, later = await ordered_pair(store, "https://crm.example/hook")
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, started_time=utcnow(), start_to_close_timeout=timedelta(seconds=15))
    async with httpx.AsyncClient() as http:
        deliveries = DeliveryActivities(
            store, http, schedule=SHORT_SCHEDULE, request_timeout=timedelta(seconds=5), disable_after=timedelta(days=5)
        )
        # The earlier event is being sent (pending, no retry due): the later one waits in place.
        attempt = asyncio.create_task(
            env.run(deliveries.deliver, DeliveryInput(workspace_id=WS, event_id=later.event_id, webhook_id=hook.id))
        )
        async with asyncio.timeout(5):
            while (await store.list_deliveries(hook.id, limit=2))[0].sending_until is None:
                await asyncio.sleep(0.05)
        env.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt

    rows = {d.event_id: d for d in await store.list_deliveries(hook.id, limit=2)}
    assert (rows[later.event_id].status, rows[later.event_id].sending_until) == (DeliveryStatus.PENDING, None)


async def test_an_attempt_left_too_little_time_for_its_request_sends_nothing(store: Store, receiver: Receiver) -> None:
    """Past its deadline Temporal may start another attempt, which finds the delivery free: an
    attempt whose checks took so long that its request could outlast the deadline does not send,
    and comes back at once (no attempt of the schedule used). Here it waits in place behind the
    contact's earlier event, which is through a second later, half a second too late."""
    hook, earlier, later = await ordered_pair(store, receiver.url("/late"))
    env = ActivityEnvironment()
    request_timeout = timedelta(seconds=5)
    # Time for the request and the 1 s kept in hand, and half a second for the checks.
    budget = request_timeout + timedelta(seconds=1.5)
    env.info = dataclasses.replace(env.info, started_time=utcnow(), start_to_close_timeout=budget)

    async def earlier_through() -> None:
        await asyncio.sleep(1)
        [row] = [d for d in await store.list_deliveries(hook.id, limit=2) if d.event_id == earlier.event_id]
        await store.update_delivery(row.id, status=DeliveryStatus.DELIVERED)

    async with httpx.AsyncClient() as http, asyncio.TaskGroup() as tasks:
        tasks.create_task(earlier_through())
        deliveries = DeliveryActivities(
            store, http, schedule=SHORT_SCHEDULE, request_timeout=request_timeout, disable_after=timedelta(days=5)
        )
        ids = DeliveryInput(workspace_id=WS, event_id=later.event_id, webhook_id=hook.id)
        with pytest.raises(ApplicationError, match="time ran out before its request"):
            await env.run(deliveries.deliver, ids)  # a hold ends the durable attempt as a retry

    assert receiver.requests == []
    rows = {d.event_id: d for d in await store.list_deliveries(hook.id, limit=2)}
    assert (rows[later.event_id].status, rows[later.event_id].sending_until) == (DeliveryStatus.THROTTLED, None)
