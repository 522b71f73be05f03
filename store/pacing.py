"""The pacing state every worker shares, kept in the store (the one thing all workers on all hosts
already reach): each webhook's rate slot, queue end and pause, the leases of requests open under a
concurrency cap, and the ledger's order of one contact's deliveries.

An admission is one short transaction that starts by writing the webhook's pacing row: on
PostgreSQL that locks the row, so admissions to one webhook take turns (others run beside them);
on SQLite it takes the write lock before anything is read, so no stale read can admit twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from core import pacing
from models.tables import UNFINISHED, Delivery, DeliveryLease, DeliveryStatus, OrderOnFailure, WebhookPace, utcnow

LOCK_PACE = update(WebhookPace).values(webhook_id=WebhookPace.webhook_id)
"""A write that changes nothing, to lock the row (see the module's docstring)."""


class PacingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def admit(
        self,
        webhook_id: str,
        delivery_id: str,
        limits: pacing.Limits,
        *,
        returning: bool,
        take_turn: bool,
        lease_for: timedelta,
        now: datetime | None = None,
    ) -> pacing.Admitted | pacing.Held:
        """Admit one request to the webhook, taking a rate slot and (under a cap) a lease, or say
        how long to hold it, handing it a turn in the queue if asked. The time is read once the
        row is locked (unless given): read before, while waiting for the lock or a connection,
        it would be stale, and requests judged in the past would go out together in the present."""
        async with self.engine.begin() as conn:
            row = await self._locked(conn, webhook_id, now or utcnow())
            now = now or utcnow()
            in_flight = 0
            if limits.max_in_flight is not None:
                # Expired leases go, and this delivery's own: asking again, it is not sending under
                # it any more (its worker died mid-request, and the attempt is being made again).
                await conn.execute(
                    delete(DeliveryLease).where(
                        col(DeliveryLease.webhook_id) == webhook_id,
                        (col(DeliveryLease.expires_at) <= now) | (col(DeliveryLease.delivery_id) == delivery_id),
                    )
                )
                open_leases = select(func.count()).where(col(DeliveryLease.webhook_id) == webhook_id)
                in_flight = (await conn.execute(open_leases)).scalar_one()
            latency = None if row.latency_ms is None else timedelta(milliseconds=row.latency_ms)
            state = pacing.State(next_slot=row.next_slot, queue_end=row.queue_end, in_flight=in_flight, latency=latency)
            verdict = pacing.admit(limits, state, now, returning=returning, take_turn=take_turn)
            this_pace = update(WebhookPace).where(col(WebhookPace.webhook_id) == webhook_id)
            if isinstance(verdict, pacing.Admitted):
                if verdict.next_slot != row.next_slot:
                    await conn.execute(this_pace.values(next_slot=verdict.next_slot))
                if limits.max_in_flight is not None:
                    await conn.execute(
                        insert(DeliveryLease).values(
                            delivery_id=delivery_id, webhook_id=webhook_id, expires_at=now + lease_for
                        )
                    )
            elif verdict.queue_end is not None:
                await conn.execute(this_pace.values(queue_end=verdict.queue_end))
        return verdict

    async def release(self, webhook_id: str, delivery_id: str, latency: timedelta | None) -> None:
        """The request is over: its lease goes, and its latency joins the webhook's average (None:
        no request was made under the lease)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(DeliveryLease).where(col(DeliveryLease.delivery_id) == delivery_id))
            if latency is None:
                return
            ms = latency.total_seconds() * 1000
            await conn.execute(
                update(WebhookPace)
                .where(col(WebhookPace.webhook_id) == webhook_id)
                .values(latency_ms=func.coalesce(col(WebhookPace.latency_ms) * 0.8 + ms * 0.2, ms))
            )

    async def pause(self, webhook_id: str, until: datetime, reason: str, now: datetime) -> None:
        """Hold every delivery to the webhook until `until` (a later pause already set stays)."""
        async with self.engine.begin() as conn:
            await self._locked(conn, webhook_id, now)
            await conn.execute(
                update(WebhookPace)
                .where(
                    col(WebhookPace.webhook_id) == webhook_id,
                    (col(WebhookPace.paused_until).is_(None)) | (col(WebhookPace.paused_until) < until),
                )
                .values(paused_until=until, paused_reason=reason)
            )

    async def earlier_unfinished(self, delivery: Delivery, on_failure: OrderOnFailure) -> Delivery | None:
        """The first delivery of an earlier event of the same contact to the same webhook that is
        not through yet (or, holding on failure, that gave up): what an ordered delivery waits on."""
        if delivery.contact_id is None or delivery.occurred_at is None:
            return None
        blocking = [*UNFINISHED, DeliveryStatus.FAILED] if on_failure == OrderOnFailure.HOLD else list(UNFINISHED)
        intake, mine = func.coalesce(col(Delivery.received_at), col(Delivery.created_at)), intake_of(delivery)
        earlier = (col(Delivery.occurred_at) < delivery.occurred_at) | (
            (col(Delivery.occurred_at) == delivery.occurred_at)
            & ((intake < mine) | ((intake == mine) & (col(Delivery.id) < delivery.id)))
        )
        query = (
            select(Delivery)
            .where(
                col(Delivery.webhook_id) == delivery.webhook_id,
                col(Delivery.contact_id) == delivery.contact_id,
                col(Delivery.status).in_(blocking),
                col(Delivery.is_test).is_(False),
                earlier,
            )
            .order_by(col(Delivery.occurred_at), intake, col(Delivery.id))
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else Delivery.model_validate(row, from_attributes=True)

    async def waiting(self, webhook_ids: list[str]) -> dict[str, int]:
        """How many deliveries each webhook has held back now (the Webhooks page shows it)."""
        if not webhook_ids:
            return {}
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(col(Delivery.webhook_id), func.count())
                .where(col(Delivery.webhook_id).in_(webhook_ids), col(Delivery.status) == DeliveryStatus.THROTTLED)
                .group_by(col(Delivery.webhook_id))
            )
            return {webhook_id: count for webhook_id, count in rows.all()}

    async def forget(self, webhook_id: str) -> None:
        """A deleted webhook's pacing state and leases."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(DeliveryLease).where(col(DeliveryLease.webhook_id) == webhook_id))
            await conn.execute(delete(WebhookPace).where(col(WebhookPace.webhook_id) == webhook_id))

    @staticmethod
    async def _locked(conn: AsyncConnection, webhook_id: str, now: datetime) -> WebhookPace:
        """The webhook's pacing row, made on first use, locked for the rest of the transaction."""
        lock = LOCK_PACE.where(col(WebhookPace.webhook_id) == webhook_id)
        if (await conn.execute(lock)).rowcount == 0:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            await conn.execute(
                dialect.insert(WebhookPace)
                .values(webhook_id=webhook_id, next_slot=now, queue_end=now)
                .on_conflict_do_nothing(index_elements=["webhook_id"])
            )
            await conn.execute(lock)
        row = (await conn.execute(select(WebhookPace).where(col(WebhookPace.webhook_id) == webhook_id))).one()
        return WebhookPace.model_validate(row, from_attributes=True)


def intake_of(delivery: Delivery) -> datetime:
    """The order of intake: when Temporal took the event in, or (a row from before that was kept)
    when it was matched."""
    return delivery.received_at or delivery.created_at
