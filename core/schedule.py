"""The retry schedule: how long to wait before each retry, with jitter, and Retry-After bounds."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

DEFAULT_SCHEDULE: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
)
"""After the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 27 h in all)."""

JITTER = 0.2
"""Each delay is drawn uniformly within ±20 % so that retries of one outage do not arrive together."""

RETRY_AFTER_MIN = timedelta(seconds=1)
RETRY_AFTER_MAX = timedelta(hours=1)
"""A receiver's Retry-After replaces the scheduled delay, bounded to this range."""

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: str) -> timedelta:
    """`15`, `15s`, `500ms`, `5m`, `2h`, `1d`: a bare number is seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 500ms, 5s, 5m, 2h, 1d)")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2] or "s"])


def parse_schedule(text: str) -> tuple[timedelta, ...]:
    """`1s,2s,5s`: the delay before each retry; its length is the number of retries."""
    text = text.strip()
    if not text:
        return ()
    return tuple(parse_duration(part) for part in text.split(","))


def retry_delay(schedule: tuple[timedelta, ...], attempt: int, rng: random.Random | None = None) -> timedelta | None:
    """The jittered delay after failed attempt number `attempt` (1-based); None once it ran out."""
    if attempt > len(schedule):
        return None
    base = schedule[attempt - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return base * factor


def parse_retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """A Retry-After header (seconds or an HTTP date), bounded; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = when - (now or datetime.now(UTC))
    return min(max(delay, RETRY_AFTER_MIN), RETRY_AFTER_MAX)


def format_delay(delay: timedelta) -> str:
    seconds = delay.total_seconds()
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
