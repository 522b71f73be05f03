"""When a delivery may go: the pure rules of a webhook's pacing, with no I/O (the store keeps the
state, activities.pacing applies them).

- Rate (`max_per_second`, `burst`): the generic cell rate algorithm. One timestamp per webhook,
  `next_slot`; a request may go when `next_slot` is at most (burst - 1) intervals ahead of now,
  and then moves it one interval on. So no 1-second window holds more than rate + burst - 1
  admissions, whichever workers sent them, and an idle webhook saves up at most `burst`; 50 ms
  are kept in hand so that arrivals, not only admissions, stay within rate + burst.
- Concurrency (`max_in_flight`): leases, counted at admission.
- A held delivery is given a turn at the end of the webhook's queue, one pace after the last turn
  handed out, so that a burst of held deliveries comes back spread out, not all at once.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.schedule import format_delay

MIN_SPACING = timedelta(milliseconds=20)
"""The least time between two turns under a concurrency cap, however quick its receiver (a rate
sets its own spacing, which may be shorter)."""
DEFAULT_LATENCY = timedelta(milliseconds=500)
"""What a request is taken to last until the webhook's own average is known."""
SEND_SKEW = timedelta(milliseconds=50)
"""Kept in hand for the time between a request's admission and its arrival, which varies from
request to request (the worker's event loop, a new connection): admitted a little apart, two
requests may arrive closer together, and the receiver counts arrivals. The last of a burst
waits up to this long."""
ORDER_STALE_AFTER = timedelta(hours=1)
"""An earlier event of a contact that has waited this long (overdue in the ledger, or started and
never matched) has no workflow left at it, terminated by hand say: it holds back no later one."""
PAUSE_SPREAD = timedelta(seconds=5)
"""Deliveries held by a receiver's Retry-After come back spread over up to this long (or a tenth
of the pause, if shorter): a receiver that just said "too many" is not met with all of them at once."""


@dataclass(frozen=True)
class Limits:
    """A webhook's limits, as set on it (None: not limited that way)."""

    max_per_second: float | None = None
    burst: int | None = None
    max_in_flight: int | None = None

    @property
    def any(self) -> bool:
        return self.max_per_second is not None or self.max_in_flight is not None

    @property
    def interval(self) -> timedelta | None:
        if self.max_per_second is None:
            return None
        # Rounded up to the microsecond: rounded down, three a second would fit four in a second.
        return timedelta(microseconds=math.ceil(1_000_000 / self.max_per_second))

    @property
    def tolerance(self) -> timedelta:
        """How far ahead of now `next_slot` may be for a request to go (GCRA's tau), less the
        time a request may take from its admission to the receiver (SEND_SKEW)."""
        interval = self.interval
        if interval is None:
            return timedelta(0)
        return max(timedelta(0), interval * ((self.burst or 1) - 1) - SEND_SKEW)

    def spacing(self, latency: timedelta | None) -> timedelta:
        """The pace at which held deliveries are handed turns: the rate's interval, or how often
        a slot frees under the concurrency cap, whichever is slower."""
        paces = [timedelta(0)]
        if self.interval is not None:
            paces.append(self.interval)
        if self.max_in_flight is not None:
            paces.append(max(MIN_SPACING, (latency or DEFAULT_LATENCY) / self.max_in_flight))
        return max(paces)


@dataclass(frozen=True)
class State:
    """A webhook's pacing state, as read (and locked) at an admission."""

    next_slot: datetime
    queue_end: datetime
    in_flight: int
    latency: timedelta | None = None


@dataclass(frozen=True)
class Admitted:
    next_slot: datetime
    """The rate's next slot once this request has taken its own."""


@dataclass(frozen=True)
class Held:
    until: datetime
    """When the delivery may try again: its turn, or (waiting in place) the earliest it could go."""
    reason: str
    queue_end: datetime | None = None
    """The queue's new end, when the delivery took a turn in it."""


def admit(limits: Limits, state: State, now: datetime, *, returning: bool, take_turn: bool) -> Admitted | Held:
    """May a request go now? `returning`: the delivery was held before and comes back at its turn
    (a newcomer queues behind held deliveries whose turns are still to come). `take_turn`: when
    held, join the queue (False for a delivery that waits in place and asks again soon)."""
    spacing = limits.spacing(state.latency)
    if not returning and state.queue_end > now:
        return _queued(state, now, now, spacing, f"{queue_reason(limits)}; behind deliveries held earlier", take_turn)
    if limits.max_in_flight is not None and state.in_flight >= limits.max_in_flight:
        reason = f"{state.in_flight} requests open, the most max_in_flight {limits.max_in_flight} allows"
        return _queued(state, now, now + spacing, spacing, reason, take_turn)
    interval = limits.interval
    if interval is None:
        return Admitted(next_slot=state.next_slot)
    slot = max(state.next_slot, now)
    if slot - now <= limits.tolerance:
        return Admitted(next_slot=slot + interval)
    return _queued(state, now, slot - limits.tolerance, spacing, rate_reason(limits), take_turn)


def _queued(state: State, now: datetime, earliest: datetime, spacing: timedelta, reason: str, take_turn: bool) -> Held:
    if not take_turn:
        return Held(until=earliest, reason=reason)
    turn = max(earliest, state.queue_end + spacing, now)
    return Held(until=turn, reason=reason, queue_end=turn)


def rate_reason(limits: Limits) -> str:
    burst = f", burst {limits.burst}" if limits.burst and limits.burst > 1 else ""
    return f"over max_per_second {limits.max_per_second:g}{burst}"


def queue_reason(limits: Limits) -> str:
    parts = []
    if limits.max_per_second is not None:
        parts.append(rate_reason(limits))
    if limits.max_in_flight is not None:
        parts.append(f"max_in_flight {limits.max_in_flight}")
    return " and ".join(parts) or "paced"


def moving_latency(previous: timedelta | None, latest: timedelta) -> timedelta:
    """The webhook's recent latency: an exponential moving average, a fifth for the latest."""
    return latest if previous is None else previous * 0.8 + latest * 0.2


def after_pause(paused_until: datetime, now: datetime, rng: random.Random | None = None) -> datetime:
    """When a delivery held by a receiver's pause comes back: spread after the pause ends."""
    spread = min(PAUSE_SPREAD, (paused_until - now) / 10)
    return paused_until + spread * (rng or random).random()


def pause_reason(host: str, status_code: int, delay: timedelta) -> str:
    return f"{host} answered HTTP {status_code} with Retry-After {format_delay(delay)}"
