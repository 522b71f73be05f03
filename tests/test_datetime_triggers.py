"""DateTime Based Triggers on the time-skipping test server: months pass in moments, and the
deliveries still reach a real HTTP receiver."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
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


@pytest.fixture
async def timers(
    skipping: WorkflowEnvironment, database_url: str, store: Store
) -> AsyncIterator[WorkflowEnvironment]:
    settings = Settings(
        database_url=database_url,
        task_queue=f"timers-{uuid.uuid4().hex[:8]}",
        retry_schedule=(timedelta(seconds=1),),
        allow_private_urls=True,
    )
    skipping.task_queue = settings.task_queue  # type: ignore[attr-defined]
    async with build_worker(skipping.client, settings, store) as worker, worker:
        yield skipping


async def datetime_hook(store: Store, receiver: Receiver, offset: str, **extra: str) -> Webhook:
    create = WebhookCreate(
        name=f"reminder {uuid.uuid4().hex[:6]}",
        event_type="datetime.reached",
        url=receiver.url("/reminder"),
        filter={"field": FIELD, "offset": offset, **extra},
    )
    return await create_webhook(store, WS, create, allow_private=True)


async def set_field(
    env: WorkflowEnvironment, value: Any, contact: str, timezone: str | None = None
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
    await (await publish(env.client, event, task_queue=env.task_queue)).result()  # type: ignore[attr-defined]
    return env.client.get_workflow_handle(timer_id(env, contact), result_type=TimerOutcome)


async def planned(handle: WorkflowHandle[Any, TimerOutcome], expected: datetime | None = None) -> datetime | None:
    """The timer's next fire time once it has planned it (polled: the plan is an activity)."""
    fire = None
    for _ in range(100):
        fire = await handle.query("next_fire", result_type=datetime)  # type: ignore[call-overload]
        if fire is not None and (expected is None or fire == expected):
            break
        await asyncio.sleep(0.1)
    return fire


async def finished(env: WorkflowEnvironment, handle: WorkflowHandle[Any, TimerOutcome]) -> TimerOutcome:
    """The timer's outcome, time skipping ahead (only the env's own starts do that by themselves)."""
    async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
        return await handle.result()


def timer_id(env: WorkflowEnvironment, contact: str) -> str:
    hook_id = env.hook.id  # type: ignore[attr-defined]
    return timer_workflow_id_for(WS, hook_id, contact)


def new_contact() -> str:
    return f"c_{uuid.uuid4().hex[:8]}"


async def test_a_timer_three_days_ahead_fires_once_at_its_instant(
    timers: WorkflowEnvironment, store: Store, receiver: Receiver
) -> None:
    timers.hook = await datetime_hook(store, receiver, "0")  # type: ignore[attr-defined]
    now = await timers.get_current_time()
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
    assert body["data"]["event"] == {
        "field": FIELD, "field_value": when.isoformat(), "offset": "0", "scheduled_for": when.isoformat().replace("+00:00", "Z"),
    }  # fmt: skip
    assert await timers.get_current_time() >= when
