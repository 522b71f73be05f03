"""Local first attempts: each delivery's first attempt runs as a local activity in the event's
workflow task, and only a failed one continues as the durable activity on the retry schedule."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from devstack.billing import LOCAL_ACTIVITY_MARKER, billable_actions
from devstack.processes import WorkerProcess
from devstack.receiver import Answer, Receiver
from models.events import parse_event
from models.payload import delivery_id_for
from models.runs import EventOutcome
from models.samples import sample_event
from models.tables import DeliveryStatus, Webhook, WebhookCreate
from services.events import accept_event
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store
from worker import build_worker

WS = "ws_acme"


async def make_hook(store: Store, url: str, name: str | None = None) -> Webhook:
    create = WebhookCreate(name=name or f"hook {uuid.uuid4().hex[:6]}", event_type="tag.applied", url=url)
    return await create_webhook(store, WS, create, allow_private=True)


def new_event() -> dict[str, Any]:
    return sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}", workspace_id=WS)


async def history(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    return [e async for e in handle.fetch_history_events()]


def local_activities(events: list[HistoryEvent]) -> list[tuple[str, dict[str, Any]]]:
    """(activity type, result) of each local activity recorded in a history."""
    found = []
    for e in events:
        marker = e.marker_recorded_event_attributes
        if e.event_type != EventType.EVENT_TYPE_MARKER_RECORDED or marker.marker_name != LOCAL_ACTIVITY_MARKER:
            continue
        data = json.loads(marker.details["data"].payloads[0].data)
        result = json.loads(marker.details["result"].payloads[0].data) if "result" in marker.details else {}
        found.append((data["activity_type"], result))
    return found


def scheduled_activities(events: list[HistoryEvent]) -> list[HistoryEvent]:
    return [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]


@pytest.mark.usefixtures("worker")
async def test_every_first_attempt_that_succeeds_costs_one_workflow_task_and_no_activity(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hooks = [await make_hook(store, receiver.url(f"/ok/{i}")) for i in range(3)]

    handle = await accept_event(store, client, settings.task_queue, parse_event(new_event()))  # the API's intake
    outcome: EventOutcome = await handle.result()

    assert outcome.delivered == 3
    events = await history(handle)
    assert scheduled_activities(events) == []
    firsts = [result for kind, result in local_activities(events) if kind == "deliver_first"]
    assert sorted(r["webhook_id"] for r in firsts) == sorted(h.id for h in hooks)
    assert {r["status"] for r in firsts} == {"delivered"}
    completed = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]
    assert len(completed) == 1, "the match and every first attempt ran in one workflow task"
    assert billable_actions(events) == 2  # the start, and the task's batch of local activities


@pytest.mark.usefixtures("worker")
async def test_a_failed_first_attempt_continues_as_the_durable_activity_with_the_same_webhook_id(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = await make_hook(store, receiver.url("/flaky"), name="Flaky CRM")
    receiver.script("/flaky", [Answer(503, body=b"busy")])
    event = new_event()

    handle = await publish(client, event, task_queue=settings.task_queue)
    outcome: EventOutcome = await handle.result()

    requests = receiver.at("/flaky")
    assert len(requests) == 2
    assert {r.headers["webhook-id"] for r in requests} == {delivery_id_for(WS, event["event_id"], hook.id)}
    assert (outcome.deliveries[0].status, outcome.deliveries[0].attempts) == (DeliveryStatus.DELIVERED, 2)
    [ledger] = await store.list_deliveries(hook.id)
    assert (ledger.status, ledger.attempts, ledger.last_status_code) == (DeliveryStatus.DELIVERED, 2, 200)

    events = await history(handle)
    [first] = [result for kind, result in local_activities(events) if kind == "deliver_first"]
    assert (first["status"], first["attempts"], first["status_code"]) == ("pending", 1, 503)
    timers = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    assert len(timers) == 1, "the durable attempt waited the schedule's first delay"
    assert "Flaky CRM" in timers[0].user_metadata.summary.data.decode()
    [durable] = scheduled_activities(events)
    attrs = durable.activity_task_scheduled_event_attributes
    assert attrs.activity_type.name == "deliver"
    assert json.loads(attrs.input.payloads[0].data)["prior_attempts"] == 1
    summary = durable.user_metadata.summary.data.decode()
    assert "Flaky CRM" in summary and "attempt 2" in summary


@pytest.mark.usefixtures("worker")
async def test_a_failed_first_attempt_keeps_its_place_in_the_schedule_until_it_gives_up(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = await make_hook(store, receiver.url("/down"))
    receiver.script("/down", [Answer(500)] * 10)

    handle = await publish(client, new_event(), task_queue=settings.task_queue)
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert "gave up after 3 attempts" in str(failure.value.cause)

    # One first attempt, then one durable attempt per delay of the schedule (two here).
    assert len(receiver.at("/down")) == 1 + len(settings.retry_schedule)
    [ledger] = await store.list_deliveries(hook.id)
    assert (ledger.status, ledger.attempts) == (DeliveryStatus.FAILED, 3)
    # What the UI's Current Details shows: which webhook, at which host, and why.
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert f"- gave up: {hook.name} at 127.0.0.1 ({hook.id}), HTTP 500; gave up after 3 attempts" in details


@pytest.fixture
def slow_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"request_timeout": timedelta(seconds=20)})


# The store is not what these two are about (each takes a request timeout): SQLite alone.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_slow_receiver_holds_back_none_of_the_other_99(
    client: Client, slow_settings: Settings, store: Store, receiver: Receiver
) -> None:
    slow = await make_hook(store, receiver.url("/slow"), name="slow")
    fast = [await make_hook(store, receiver.url(f"/fast/{i}")) for i in range(99)]
    # The slow one answers only after the request timeout: its first attempt times out.
    receiver.script("/slow", [Answer(200, delay=slow_settings.request_timeout.total_seconds() + 2)])

    async with build_worker(client, slow_settings, store) as worker, worker:
        handle = await publish(client, new_event(), task_queue=slow_settings.task_queue)
        started = time.monotonic()
        # Every other outcome is in the ledger (the API, the console, `webhooks deliveries`)
        # while the slow one's first attempt is still waiting for its answer.
        while True:
            rows = [d for h in fast for d in await store.list_deliveries(h.id, status=DeliveryStatus.DELIVERED)]
            if len(rows) == 99:
                break
            assert time.monotonic() - started < 15, f"only {len(rows)} of 99 delivered while one receiver is slow"
            await asyncio.sleep(0.2)
        [pending] = await store.list_deliveries(slow.id)
        assert (pending.status, pending.attempts) == (DeliveryStatus.PENDING, 0)
        # The history has them too before the slow attempt ends: the SDK completes the workflow
        # task with the markers it has at 80 % of the task timeout (8 of 10 s) and goes on.
        while len([k for k, _ in local_activities(await history(handle)) if k == "deliver_first"]) < 99:
            assert time.monotonic() - started < 18, "the history waited for the slow receiver"
            await asyncio.sleep(0.5)
        [pending] = await store.list_deliveries(slow.id)
        assert pending.attempts == 0, "the slow first attempt is still waiting for its answer"

        outcome: EventOutcome = await handle.result()

    assert (outcome.delivered, outcome.failed) == (100, 0)
    [slow_row] = await store.list_deliveries(slow.id)
    assert slow_row.attempts == 2, "the timed-out first attempt, then the durable one"
    assert len(receiver.at("/slow")) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_worker_killed_during_a_first_attempt_makes_it_again_with_the_same_webhook_id(
    env: WorkflowEnvironment, settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    hook = await make_hook(store, receiver.url("/held"))
    receiver.script("/held", [Answer(200, delay=4)])  # the first copy is answered after the worker is gone
    address = env.client.service_client.config.target_host
    first = WorkerProcess("worker 1", tmp_path / "worker-1.log", settings, address)
    first.start()
    await first.ready()
    event = new_event()
    handle = await publish(env.client, event, task_queue=settings.task_queue)

    await asyncio.to_thread(receiver.wait_for, 1, 30)
    first.stop(signal.SIGKILL)  # mid-request: neither the ledger nor the history heard of the attempt
    assert [e for e in await history(handle) if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED] == []
    second = WorkerProcess("worker 2", tmp_path / "worker-2.log", settings, address)
    second.start()
    try:
        await second.ready()
        outcome: EventOutcome = await asyncio.wait_for(handle.result(), 60)
    finally:
        second.stop()

    assert outcome.deliveries[0].status == DeliveryStatus.DELIVERED
    requests = receiver.at("/held")
    assert len(requests) == 2
    assert {r.headers["webhook-id"] for r in requests} == {delivery_id_for(WS, event["event_id"], hook.id)}
    [ledger] = await store.list_deliveries(hook.id)
    assert (ledger.status, ledger.attempts) == (DeliveryStatus.DELIVERED, 1)
