"""The webhook page's health charts, drawn on the server: a bar per bucket, stacked by outcome, laid
out here in the SVG's own units, with the window's numbers as text, and written out by
_stats.html (no script, nothing fetched)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.stats import DAY, HealthBucket, HealthWindow, WebhookStats, milliseconds, percent
from models.tables import DeliveryStatus

WIDTH, HEIGHT = 240.0, 64.0
"""The chart's viewBox: stretched to the width and height the page gives it (bars need no proportions)."""
GAP = 0.2
"""The space between bars, as a share of each bar's slot."""
STACK = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
    DeliveryStatus.PENDING,
    DeliveryStatus.THROTTLED,
    DeliveryStatus.SKIPPED,
)
"""Bottom to top: what went through, then what gave up, then what is not through yet."""


@dataclass(frozen=True)
class Segment:
    status: DeliveryStatus
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    segments: list[Segment]
    title: str
    """What the bar stands for in words: its time and counts (the <title> a pointer shows)."""


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int
    """The tallest bar's total: the top of the scale."""
    summary: str
    """The chart in one sentence, for those who do not see it (its aria-label)."""


@dataclass(frozen=True)
class WindowView:
    id: str
    name: str
    per: str
    """What one bar covers: `hour`, `day`."""
    since: str
    """The axis's left end, in words."""
    chart: Chart
    numbers: list[tuple[str, str, str]]
    """(term, class, text): the totals, success rate and latency written beside the chart."""


@dataclass(frozen=True)
class HealthView:
    windows: list[WindowView]
    stack: tuple[DeliveryStatus, ...] = STACK
    width: float = WIDTH
    height: float = HEIGHT


def health_view(stats: WebhookStats) -> HealthView:
    return HealthView(
        [
            window_view("last-24h", "Last 24 hours", "hour", "24 h ago", stats.last_24h),
            window_view("last-7d", "Last 7 days", "day", "7 days ago", stats.last_7d),
        ]
    )


def window_view(id_: str, name: str, per: str, since: str, window: HealthWindow) -> WindowView:
    numbers = [
        ("Deliveries", "total", str(window.total)),
        *((status.capitalize(), status, str(window.by_outcome[status])) for status in STACK),
        ("Success rate", "success-rate", percent(window.success_rate)),
        ("Latency p50", "p50", milliseconds(window.latency_ms_p50)),
        ("Latency p95", "p95", milliseconds(window.latency_ms_p95)),
    ]
    return WindowView(id_, name, per, since, health_chart(window, name, per), numbers)


def health_chart(window: HealthWindow, name: str, per: str) -> Chart:
    """`name`: the window's (`Last 24 hours`); `per`: what a bar covers (`hour`)."""
    peak = max((b.total for b in window.buckets), default=0)
    slot = WIDTH / len(window.buckets)
    bars = []
    for n, bucket in enumerate(window.buckets):
        segments, top = [], HEIGHT
        for status in STACK:
            if count := bucket.by_outcome[status]:
                height = HEIGHT * count / peak
                top -= height
                segments.append(Segment(status, round(top, 2), round(height, 2)))
        bars.append(Bar(round(n * slot + slot * GAP / 2, 2), round(slot * (1 - GAP), 2), segments, bar_title(bucket)))
    return Chart(
        bars, peak, f"{name}, a bar per {per}: {counted(window.by_outcome, window.total)}; at most {peak} in one {per}"
    )


def counted(by_outcome: dict[DeliveryStatus, int], total: int) -> str:
    """`12 deliveries (11 delivered, 1 failed)`."""
    parts = [f"{by_outcome[s]} {s}" for s in STACK if by_outcome[s]]
    return f"{total} deliver{'y' if total == 1 else 'ies'}" + (f" ({', '.join(parts)})" if parts else "")


def bar_title(bucket: HealthBucket) -> str:
    return f"{span(bucket.start, bucket.end)}: {counted(bucket.by_outcome, bucket.total)}"


def span(start: datetime, end: datetime) -> str:
    """`13:05 to 14:05 UTC` for an hour; `Mon 3 Mar 13:05 to Tue 4 Mar 13:05 UTC` for a day."""
    if end - start < DAY:
        return f"{start:%H:%M} to {end:%H:%M} UTC"
    return f"{start:%a} {start.day} {start:%b %H:%M} to {end:%a} {end.day} {end:%b %H:%M} UTC"
