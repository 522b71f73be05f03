"""Ledger retention: the scheduled job removes only rows past the configured age, in batches; the
schedule itself is created (and kept up to date) on the namespace."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import col, select
from temporalio.client import Client, ScheduleActionStartWorkflow

from core.config import Settings
from core.temporal import ensure_retention_schedule
from models.payload import RETENTION_SCHEDULE_ID, RETENTION_TYPE
from models.runs import PruneInput
from models.tables import Delivery, DeliveryStatus, StoredEvent, utcnow
from store.queries import Store
from workflows.retention import LedgerRetentionWorkflow


async def seed(store: Store, age: timedelta, *statuses: DeliveryStatus) -> str:
    """An event received `age` ago with one ledger row per status; returns its id."""
    event_id = f"evt_{uuid.uuid4().hex[:10]}"
    at = utcnow() - age
    async with store.session() as session:
        session.add(StoredEvent(workspace_id="ws_acme", event_id=event_id, type="tag.applied", body={}, received_at=at))
        for n, status in enumerate(statuses):
            session.add(
                Delivery(
                    id=f"msg_{uuid.uuid4().hex[:12]}", workspace_id="ws_acme", event_id=event_id,
                    webhook_id=f"wh_{n}", event_type="tag.applied", workflow_id=f"event-ws_acme-{event_id}",
                    status=status, response_excerpt="ok", created_at=at,
                )
            )  # fmt: skip
        await session.commit()
    return event_id


async def left(store: Store) -> tuple[set[str], set[tuple[str, str]]]:
    async with store.session() as session:
        events = set((await session.exec(select(StoredEvent.event_id))).all())
        rows = (await session.exec(select(Delivery.event_id, Delivery.status).order_by(col(Delivery.id)))).all()
    return events, {(event_id, str(status)) for event_id, status in rows}


@pytest.mark.usefixtures("worker")
async def test_retention_removes_only_what_is_past_its_age(client: Client, settings: Settings, store: Store) -> None:
    old = timedelta(days=31)  # the default retention is 30 days
    settled = await seed(store, old, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)
    still_trying = await seed(store, old, DeliveryStatus.PENDING)
    recent = await seed(store, timedelta(days=29), DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)

    outcome = await client.execute_workflow(
        LedgerRetentionWorkflow.run, PruneInput(batch_size=2), id=f"retention-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )  # fmt: skip

    assert (outcome.deliveries, outcome.events) == (3, 1)
    events, rows = await left(store)
    assert settled not in events and {still_trying, recent} <= events
    assert rows == {(still_trying, "pending"), (recent, "delivered"), (recent, "failed")}


async def test_the_schedule_is_created_once_and_runs_the_retention_workflow(client: Client) -> None:
    task_queue = f"retention-{uuid.uuid4().hex[:8]}"
    try:
        assert await ensure_retention_schedule(client, task_queue) is True
        assert await ensure_retention_schedule(client, task_queue) is False  # up to date, not duplicated
        described = await client.get_schedule_handle(RETENTION_SCHEDULE_ID).describe()
    finally:
        await client.get_schedule_handle(RETENTION_SCHEDULE_ID).delete()

    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == (RETENTION_TYPE, task_queue)
    [daily] = described.schedule.spec.intervals
    assert (daily.every, daily.offset) == (timedelta(days=1), timedelta(hours=3))
