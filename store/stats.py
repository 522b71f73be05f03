"""The queries behind a webhook's health (services.stats): counted and ranked in the database, one
statement each, on SQLite and PostgreSQL alike, so a webhook with hundreds of thousands of
deliveries a week sends back a few dozen rows, not its deliveries.

Both read the deliveries of one webhook created in a time range, which the index
`ix_deliveries_webhook (webhook_id, created_at, id)` finds (tests/test_stats.py checks the plan).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from models.tables import Delivery, DeliveryStatus


def created_in(webhook_id: str, since: datetime, until: datetime) -> ColumnElement[bool]:
    """The webhook's deliveries created in [since, until), tests left out (models.stats says why)."""
    created = col(Delivery.created_at)
    return and_(
        col(Delivery.webhook_id) == webhook_id,
        created >= since,
        created < until,
        col(Delivery.is_test).is_(False),
    )


def outcomes_query(webhook_id: str, edges: Sequence[datetime]) -> Select[int, str, int]:
    """(bucket, status, count) for the deliveries created in [edges[0], edges[-1]), where bucket
    i holds those created in [edges[i], edges[i + 1]). The bucket is a CASE over the edges: plain
    comparisons of the indexed column, the same on both stores (their date functions differ)."""
    created = col(Delivery.created_at)
    last = len(edges) - 2
    bucket = case(*((created < edge, i) for i, edge in enumerate(edges[1:-1])), else_=last)
    status = col(Delivery.status)
    return (
        select(bucket, status, func.count()).where(created_in(webhook_id, edges[0], edges[-1])).group_by(bucket, status)
    )


def percentiles_query(
    webhook_id: str, since: datetime, until: datetime, fractions: Sequence[float]
) -> Select[*tuple[float | None, ...]]:
    """One row: for each fraction p, the smallest latency of the delivered deliveries whose
    cumulative share (cume_dist: how many are at most it, over how many there are) reaches p,
    i.e. the nearest-rank percentile; NULL when none was delivered. One sort serves them all."""
    latency = col(Delivery.latency_ms)
    ranked = (
        select(latency.label("latency_ms"), func.cume_dist().over(order_by=latency).label("share"))
        .where(
            created_in(webhook_id, since, until),
            col(Delivery.status) == DeliveryStatus.DELIVERED,
            latency.is_not(None),
        )
        .subquery()
    )
    return select(*(func.min(case((ranked.c.share >= p, ranked.c.latency_ms))) for p in fractions))


class StatsStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def outcomes(self, webhook_id: str, edges: Sequence[datetime]) -> dict[tuple[int, DeliveryStatus], int]:
        """How many deliveries of each status each bucket holds (see `outcomes_query`); the
        pairs with none are left out."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(outcomes_query(webhook_id, edges))
            return {(bucket, DeliveryStatus(status)): count for bucket, status, count in rows.all()}

    async def latency_percentiles(
        self, webhook_id: str, since: datetime, until: datetime, fractions: Sequence[float]
    ) -> list[float | None]:
        """The delivered deliveries' latency at each fraction, in milliseconds (None: none)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(percentiles_query(webhook_id, since, until, fractions))).one()
            return list(row)
