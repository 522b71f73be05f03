"""DateTime Based Triggers on the time-skipping test server: months pass in moments, and the
deliveries still reach a real HTTP receiver."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.temporal import data_converter
from devstack.receiver import Receiver
from models import search_attributes as sa
from models.payload import timer_workflow_id_for
from models.runs import TimerOutcome
from models.samples import sample_event
from models.tables import Webhook, WebhookCreate, WebhookUpdate
from services.webhooks import create_webhook, update_webhook
from starter import publish
from store.queries import Store
from worker import build_worker

WS = "ws_acme"
FIELD = "appointment_at"


@pytest.fixture(scope="session")
async def skipping() -> AsyncIterator[WorkflowEnvironment]:
    server = Path(sys.executable).parent / "temporal-test-server"
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(server), data_converter=data_converter
    ) as env:
        # The test server cannot list search attributes (so `webhooks setup-temporal` cannot run
        # there), but it takes new ones.
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in sa.ALL},
            )
        )
        yield env


@dataclass
class Rig:
    """The time-skipping server, a worker's task queue on it, and the DateTime webhook under test."""

    env: WorkflowEnvironment
    task_queue: str
    hook: Webhook | None = None

    async def now(self) -> datetime:
        return await self.env.get_current_time()


@pytest.fixture
async def timers(skipping: WorkflowEnvironment, settings: Settings, store: Store) -> AsyncIterator[Rig]:
    async with build_worker(skipping.client, settings, store) as worker, worker:
        yield Rig(skipping, settings.task_queue)


async def datetime_hook(store: Store, receiver: Receiver, offset: str, **extra: str) -> Webhook:
    create = WebhookCreate(
        name=f"reminder {uuid.uuid4().hex[:6]}",
        event_type="datetime.reached",
        url=receiver.url("/reminder"),
        filter={"field": FIELD, "offset": offset, **extra},
    )
    return await create_webhook(store, WS, create, allow_private=True)


async def set_field(
    rig: Rig, value: Any, contact: str, timezone: str | None = None
) -> WorkflowHandle[Any, TimerOutcome]:
    """A custom_field.changed event for the watched field; returns the timer's workflow."""
    event = sample_event(
        "custom_field.changed",
        event_id=f"evt_{uuid.uuid4().hex[:10]}",
        contact_id=contact,
        data={"field": FIELD, "old_value": None, "new_value": value},
    )
    event["contact"]["timezone"] = timezone
    event["contact"]["custom_fields"] = {}
    await (await publish(rig.env.client, event, task_queue=rig.task_queue)).result()
    assert rig.hook is not None
    timer_id = timer_workflow_id_for(WS, rig.hook.id, contact)
    return rig.env.client.get_workflow_handle(timer_id, result_type=TimerOutcome)


async def planned(handle: WorkflowHandle[Any, TimerOutcome], expected: datetime | None = None) -> datetime | None:
    """The timer's next fire time once it has planned it (polled: the plan is an activity)."""
    fire = None
    for _ in range(100):
        fire = await handle.query("next_fire", result_type=datetime)
        if fire is not None and (expected is None or fire == expected):
            break
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            break  # it ended without planning (the result says why)
        await asyncio.sleep(0.1)
    return fire


async def finished(rig: Rig, handle: WorkflowHandle[Any, TimerOutcome]) -> TimerOutcome:
    """The timer's outcome, time skipping ahead (only the env's own starts do that by themselves)."""
    async with rig.env.time_skipping_unlocked():  # type: ignore[attr-defined]
        return await handle.result()


def new_contact() -> str:
    return f"c_{uuid.uuid4().hex[:8]}"


async def test_a_timer_three_days_ahead_fires_once_at_its_instant(
    timers: Rig, store: Store, receiver: Receiver
) -> None:
    timers.hook = await datetime_hook(store, receiver, "0")
    now = await timers.now()
    when = (now + timedelta(days=3)).replace(microsecond=0)
    contact = new_contact()

    handle = await set_field(timers, when.isoformat(), contact)
    assert await planned(handle) == when
    outcome = await finished(timers, handle)

    assert (outcome.status, outcome.fire_at) == ("delivered", when)
    [request] = receiver.at("/reminder")
    body = request.json()
    assert body["type"] == "datetime.reached"
    assert body["data"]["contact"]["id"] == contact
    scheduled_for = when.isoformat().replace("+00:00", "Z")
    assert body["data"]["event"] == {
        "field": FIELD, "field_value": when.isoformat(), "offset": "0", "scheduled_for": scheduled_for,
    }  # fmt: skip
    assert await timers.now() >= when


async def test_one_day_before_at_nine_in_ho_chi_minh_city(timers: Rig, store: Store, receiver: Receiver) -> None:
    timers.hook = await datetime_hook(store, receiver, "-1d", time_of_day="09:00")
    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    day = (await timers.now()).astimezone(hcm).date() + timedelta(days=10)
    appointment = datetime.combine(day, datetime.min.time(), hcm).replace(hour=15)  # 15:00 local

    handle = await set_field(timers, appointment.isoformat(), new_contact(), timezone="Asia/Ho_Chi_Minh")
    outcome = await finished(timers, handle)

    expected = datetime.combine(day - timedelta(days=1), datetime.min.time(), hcm).replace(hour=9).astimezone(UTC)
    assert expected.hour == 2  # 09:00 at UTC+7
    assert (outcome.status, outcome.fire_at) == ("delivered", expected)
    assert receiver.at("/reminder")[0].json()["data"]["event"]["scheduled_for"] == expected.isoformat().replace(
        "+00:00", "Z"
    )


async def test_moving_the_field_moves_the_fire_and_clearing_it_cancels(
    timers: Rig, store: Store, receiver: Receiver
) -> None:
    timers.hook = await datetime_hook(store, receiver, "0")
    now = (await timers.now()).replace(microsecond=0)
    first, moved = now + timedelta(days=5), now + timedelta(days=8)
    contact = new_contact()

    handle = await set_field(timers, first.isoformat(), contact)
    assert await planned(handle, first) == first
    await set_field(timers, moved.isoformat(), contact)
    assert await planned(handle, moved) == moved
    assert (await finished(timers, handle)).fire_at == moved
    assert len(receiver.at("/reminder")) == 1

    other = new_contact()
    later = (await timers.now()) + timedelta(days=20)
    handle = await set_field(timers, later.isoformat(), other)
    assert await planned(handle) == later
    await set_field(timers, None, other)
    outcome = await finished(timers, handle)
    assert (outcome.status, outcome.reason) == ("not scheduled", f"the field {FIELD} was cleared")
    assert len(receiver.at("/reminder")) == 1


async def test_a_webhook_turned_off_before_the_fire_sends_nothing(
    timers: Rig, store: Store, receiver: Receiver
) -> None:
    hook = timers.hook = await datetime_hook(store, receiver, "0")
    when = (await timers.now()) + timedelta(days=30)
    handle = await set_field(timers, when.isoformat(), new_contact())
    await planned(handle)
    await store.set_enabled(hook.id, False, reason="campaign over")

    outcome = await finished(timers, handle)

    assert (outcome.status, outcome.reason) == ("skipped", "the webhook is turned off (campaign over)")
    assert receiver.requests == []


async def test_a_changed_offset_is_honoured_at_the_fire(timers: Rig, store: Store, receiver: Receiver) -> None:
    hook = timers.hook = await datetime_hook(store, receiver, "-2d")
    appointment = ((await timers.now()) + timedelta(days=10)).replace(microsecond=0)
    handle = await set_field(timers, appointment.isoformat(), new_contact())
    assert await planned(handle) == appointment - timedelta(days=2)
    change = WebhookUpdate(filter={"field": FIELD, "offset": "-1d"})  # later: the timer moves
    await update_webhook(store, WS, hook.id, change, allow_private=True)

    outcome = await finished(timers, handle)

    assert (outcome.status, outcome.fire_at) == ("delivered", appointment - timedelta(days=1))
    assert receiver.at("/reminder")[0].json()["data"]["event"]["offset"] == "-1d"

    appointment = ((await timers.now()) + timedelta(days=10)).replace(microsecond=0)
    handle = await set_field(timers, appointment.isoformat(), new_contact())
    assert await planned(handle) == appointment - timedelta(days=1)
    change = WebhookUpdate(filter={"field": FIELD, "offset": "-3d"})  # earlier: passed by then
    await update_webhook(store, WS, hook.id, change, allow_private=True)
    outcome = await finished(timers, handle)
    assert outcome.status == "skipped" and "new fire time has passed" in outcome.reason
    assert len(receiver.at("/reminder")) == 1


async def test_a_time_already_past_does_not_fire(timers: Rig, store: Store, receiver: Receiver) -> None:
    timers.hook = await datetime_hook(store, receiver, "-1d")
    soon = (await timers.now()) + timedelta(hours=2)  # one day before that has passed
    outcome = await finished(timers, await set_field(timers, soon.isoformat(), new_contact()))
    assert outcome.status == "not scheduled" and "had passed when it was set" in outcome.reason
    unreadable = await finished(timers, await set_field(timers, "next tuesday", new_contact()))
    assert unreadable.status == "not scheduled" and "cannot be read as a date" in unreadable.reason
    assert receiver.requests == []


async def test_the_same_change_twice_leaves_one_timer(timers: Rig, store: Store, receiver: Receiver) -> None:
    timers.hook = await datetime_hook(store, receiver, "0")
    when = ((await timers.now()) + timedelta(days=2)).replace(microsecond=0)
    contact = new_contact()
    first = await set_field(timers, when.isoformat(), contact)
    second = await set_field(timers, when.isoformat(), contact)  # another event, the same value

    assert first.id == second.id
    outcome = await finished(timers, second)
    assert outcome.fire_at == when
    assert len(receiver.at("/reminder")) == 1


async def test_a_dst_gap_in_new_york_and_a_months_long_timer_with_a_small_history(
    timers: Rig, store: Store, receiver: Receiver
) -> None:
    # Clocks in New York spring forward on the second Sunday of March at 02:00: 02:30 that day
    # does not exist and fires at 03:30 EDT (07:30 UTC), as docs/datetime.md documents. The timer
    # waits some months (the test server's clock has run ahead: the next such Sunday after it).
    now = await timers.now()
    march = date(now.year + 1, 3, 1)
    spring_forward = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
    timers.hook = await datetime_hook(store, receiver, "-1d", time_of_day="02:30")
    day_after = (spring_forward + timedelta(days=1)).isoformat()
    handle = await set_field(timers, day_after, new_contact(), timezone="America/New_York")

    outcome = await finished(timers, handle)

    expected = datetime.combine(spring_forward, datetime.min.time(), UTC).replace(hour=7, minute=30)
    assert (outcome.status, outcome.fire_at) == ("delivered", expected)
    history = [e async for e in handle.fetch_history_events()]
    assert len(history) < 40, "one timer, no polling"


@pytest.mark.usefixtures("worker")
async def test_end_to_end_on_the_dev_server(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    """Event in, timer set, fire, delivery received: a real server and a real clock, a few seconds."""
    hook = await datetime_hook(store, receiver, "0")
    when = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    contact = new_contact()
    event = sample_event(
        "custom_field.changed",
        event_id=f"evt_{uuid.uuid4().hex[:10]}",
        contact_id=contact,
        data={"field": FIELD, "old_value": None, "new_value": when.isoformat()},
    )
    await (await publish(client, event, task_queue=settings.task_queue)).result()

    timer = client.get_workflow_handle(timer_workflow_id_for(WS, hook.id, contact), result_type=TimerOutcome)
    described = await timer.describe()
    assert described.typed_search_attributes.get(sa.WEBHOOK_IDS) == [hook.id]
    outcome = await timer.result()

    assert (outcome.status, outcome.fire_at) == ("delivered", when)
    [request] = receiver.at("/reminder")
    assert request.json()["data"]["contact"]["id"] == contact
    listed = [
        w async for w in client.list_workflows(f"WorkflowType = 'DateTimeTriggerWorkflow' AND WebhookIds = '{hook.id}'")
    ]
    assert [w.id for w in listed] == [timer.id]
