"""A webhook's health as the API, the command line and the console show it: its deliveries of the
last 24 hours and of the last 7 days, by outcome, with the success rate and the latency.

What counts, decided once here and in services.stats:
- A delivery falls in the window in which it was created (its event matched the webhook), with
  the status it has now: a delivery of 23 hours ago that is still retrying counts as pending.
- Test sends are left out: they are probes, often sent while the receiver is being set up, and
  a few of them would swamp the numbers of a quiet webhook.
- The success rate is delivered / (delivered + failed): of the deliveries that are through, how
  many the receiver took. Pending and throttled ones are not through yet; skipped ones were never
  sent (the webhook was off), which says nothing of the receiver.
- Latency is that of each delivered delivery's last attempt (the one that succeeded); p50 and p95
  by nearest rank: the smallest latency that at least 50 % (95 %) of them did not exceed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import SQLModel

from models.tables import DeliveryStatus

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
PERCENTILES = (0.5, 0.95)


def no_outcomes() -> dict[DeliveryStatus, int]:
    """Every status at zero: answers list each one, so a chart or a client needs no defaults."""
    return dict.fromkeys(DeliveryStatus, 0)


class HealthBucket(SQLModel):
    """One bar of the chart: the deliveries created in [start, end)."""

    start: datetime
    end: datetime
    total: int
    by_outcome: dict[DeliveryStatus, int]


class HealthWindow(SQLModel):
    """The deliveries created in [since, until), tests left out."""

    since: datetime
    until: datetime
    total: int
    by_outcome: dict[DeliveryStatus, int]
    """How many have each status now; every status is listed, zeros included."""
    success_rate: float | None
    """delivered / (delivered + failed), from 0 to 1; null while none is through."""
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    """Of the delivered ones' last attempt, by nearest rank; null when none was delivered."""
    buckets: list[HealthBucket]
    """Oldest first: hourly for the last 24 hours, daily for the last 7 days, each counted back
    from `until` (the last one ends at `until`)."""


class WebhookStats(SQLModel):
    webhook_id: str
    generated_at: datetime
    last_24h: HealthWindow
    last_7d: HealthWindow


def percent(rate: float | None) -> str:
    """A success rate as the console and the command line write it: `97.5%`, or `—` for none."""
    return "—" if rate is None else f"{rate:.1%}"


def milliseconds(latency_ms: float | None) -> str:
    """A latency as the faces write it: `1,250 ms`, `4.2 ms` below 10, or `—` for none."""
    if latency_ms is None:
        return "—"
    return f"{latency_ms:,.0f} ms" if latency_ms >= 10 else f"{latency_ms:.1f} ms"
