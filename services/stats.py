"""A webhook's health over the last 24 hours and the last 7 days (models.stats says what counts):
the buckets counted in one query (store.stats), the windows summed from them here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from models.stats import DAY, HOUR, PERCENTILES, HealthBucket, HealthWindow, WebhookStats, no_outcomes
from models.tables import DeliveryStatus, utcnow
from store.queries import Store

HOURS = 24
DAYS = 7


async def webhook_stats(
    store: Store, workspace_id: str, webhook_id: str, *, now: datetime | None = None
) -> WebhookStats:
    """The webhook's health up to `now` (by default the present); NotFound for a webhook that is
    not there or not the workspace's."""
    await store.get_webhook(webhook_id, workspace_id)
    until = now or utcnow()
    # The last 24 hours hour by hour, after the 6 days before them day by day: the last of the 7
    # days is the sum of the hours, so one query counts both windows.
    hour_edges = [until - HOUR * n for n in range(HOURS, -1, -1)]
    day_edges = [until - DAY * n for n in range(DAYS, 1, -1)]
    edges = day_edges + hour_edges
    counted = await store.stats.outcomes(webhook_id, edges)
    buckets = [
        bucket(start, end, {status: counted.get((i, status), 0) for status in DeliveryStatus})
        for i, (start, end) in enumerate(pairwise(edges))
    ]
    days, hours = buckets[: len(day_edges)], buckets[len(day_edges) :]
    return WebhookStats(
        webhook_id=webhook_id,
        generated_at=until,
        last_24h=await window(store, webhook_id, hours),
        last_7d=await window(store, webhook_id, [*days, merged(hours)]),
    )


def bucket(start: datetime, end: datetime, by_outcome: dict[DeliveryStatus, int]) -> HealthBucket:
    return HealthBucket(start=start, end=end, total=sum(by_outcome.values()), by_outcome=by_outcome)


def merged(buckets: Sequence[HealthBucket]) -> HealthBucket:
    """One bucket spanning these (consecutive) ones."""
    by_outcome = no_outcomes()
    for part in buckets:
        for status, count in part.by_outcome.items():
            by_outcome[status] += count
    return bucket(buckets[0].start, buckets[-1].end, by_outcome)


async def window(store: Store, webhook_id: str, buckets: list[HealthBucket]) -> HealthWindow:
    whole = merged(buckets)
    delivered, failed = whole.by_outcome[DeliveryStatus.DELIVERED], whole.by_outcome[DeliveryStatus.FAILED]
    through = delivered + failed
    if delivered:
        p50, p95 = await store.stats.latency_percentiles(webhook_id, whole.start, whole.end, PERCENTILES)
    else:
        p50 = p95 = None
    return HealthWindow(
        since=whole.start,
        until=whole.end,
        total=whole.total,
        by_outcome=whole.by_outcome,
        success_rate=delivered / through if through else None,
        latency_ms_p50=p50,
        latency_ms_p95=p95,
        buckets=buckets,
    )
