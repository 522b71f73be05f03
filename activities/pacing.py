"""The delivery's first step: may it go now? A receiver's pause (429/503 with Retry-After), the
contact's earlier events (an ordered webhook), then the webhook's rate and concurrency limits.

A delivery that may not go is held: the attempt ends without a request and without using up an
attempt of the retry schedule, and comes back at its turn. A durable attempt waits in place for a
hold of a moment (up to `wait_up_to`); the first attempt, run inside a workflow task, never waits.
If the store cannot be reached, nothing is admitted: the attempt fails as any store outage does and
is tried again (slower, never lost, never over a limit).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import activity

from activities.intake import Intake
from activities.outage import outage_cause
from core import pacing
from core.schedule import format_delay
from models.tables import Delivery, DeliveryStatus, OrderOnFailure, Webhook, utcnow
from store.db import STORE_UNAVAILABLE
from store.queries import DeliveryContext, Store, url_host

LIMIT, PAUSED, ORDER, SENDING, LATE = "limit", "paused", "order", "sending", "late"
"""Why a delivery is held (the metric's label); SENDING: another attempt of it is under way
(activities.delivery.held_elsewhere); LATE: the attempt's time ran out before its request."""
ORDER_POLL = timedelta(milliseconds=250)
"""How soon an ordered delivery looks again when the earlier one is being sent right now, or
events taken in before its own have not all reached a worker yet (activities.intake)."""
ORDER_MARGIN = timedelta(milliseconds=500)
"""After the earlier delivery's next attempt is due: the time that attempt may take."""
ORDER_HELD_RECHECK = timedelta(minutes=10)
"""How often a delivery held behind one that gave up (`ordered_on_failure: hold`) looks again."""


@dataclass(frozen=True)
class Hold:
    until: datetime
    reason: str
    cause: str
    """One of the causes above."""


@dataclass(frozen=True)
class Pass:
    """Admitted: `leased` when a concurrency lease was taken, to be released after the request."""

    leased: bool


def limits_of(hook: Webhook) -> pacing.Limits:
    return pacing.Limits(max_per_second=hook.max_per_second, burst=hook.burst, max_in_flight=hook.max_in_flight)


class Pacer:
    def __init__(self, store: Store, intake: Intake | None = None) -> None:
        self.store = store
        self.intake = intake
        """Without it (a worker with no Temporal client at hand), ordered deliveries do not wait
        for events taken in before theirs and not matched yet."""

    async def clear(
        self, ctx: DeliveryContext, hook: Webhook, *, lease_for: timedelta, wait_up_to: timedelta
    ) -> Pass | Hold:
        """Admit the delivery, waiting in place up to `wait_up_to` for a short hold; or hold it."""
        waited_until = utcnow() + wait_up_to
        while True:
            now = utcnow()
            verdict = await self._check(ctx, hook, now, lease_for=lease_for, in_place=waited_until)
            if isinstance(verdict, Pass) or verdict.until > waited_until:
                return verdict
            await asyncio.sleep(max(0.0, (verdict.until - now).total_seconds()))

    async def _check(
        self, ctx: DeliveryContext, hook: Webhook, now: datetime, *, lease_for: timedelta, in_place: datetime
    ) -> Pass | Hold:
        if ctx.paused_until is not None and ctx.paused_until > now:
            return Hold(pacing.after_pause(ctx.paused_until, now), f"paused: {ctx.paused_reason}", PAUSED)
        ledger = ctx.delivery
        if hook.ordered and not ledger.is_test:
            held = await self._in_order(ledger, OrderOnFailure(hook.ordered_on_failure), now)
            if held is not None:
                return held
        limits = limits_of(hook)
        if not limits.any:
            return Pass(leased=False)
        returning = ledger.status == DeliveryStatus.THROTTLED

        async def admit(take_turn: bool) -> pacing.Admitted | pacing.Held:
            return await self.store.pacing.admit(
                hook.id, ledger.id, limits, returning=returning, take_turn=take_turn, lease_for=lease_for
            )

        # With no time to wait in place, a hold takes its turn in the queue at once.
        verdict = await admit(take_turn=in_place <= now)
        if isinstance(verdict, pacing.Held) and verdict.queue_end is None and verdict.until > in_place:
            verdict = await admit(take_turn=True)
        if isinstance(verdict, pacing.Admitted):
            return Pass(leased=limits.max_in_flight is not None)
        return Hold(verdict.until, verdict.reason, LIMIT)

    async def _in_order(self, ledger: Delivery, on_failure: OrderOnFailure, now: datetime) -> Hold | None:
        """Held behind an earlier event of the contact: one in the ledger not through yet, or one
        Temporal has taken in and no worker has matched. The ledger is asked first, and Temporal's
        visibility (seconds under load) only when the ledger holds nothing back; then the ledger
        again, for an event matched between the two looks, which neither would have seen."""
        held = await self._behind_in_ledger(ledger, on_failure, now)
        if held is not None or ledger.received_at is None or ledger.contact_id is None or self.intake is None:
            return held
        unmatched = await self.intake.unmatched_before(ledger.workspace_id, ledger.contact_id, ledger.received_at)
        if unmatched:
            reason = f"behind {unmatched} earlier event(s) of the same contact not yet taken in by a worker"
            return Hold(now + ORDER_POLL, reason, ORDER)
        return await self._behind_in_ledger(ledger, on_failure, now)

    async def _behind_in_ledger(self, ledger: Delivery, on_failure: OrderOnFailure, now: datetime) -> Hold | None:
        earlier = await self.store.pacing.earlier_unfinished(ledger, on_failure)
        return None if earlier is None or stale(earlier, now) else order_hold(earlier, now)

    async def release(self, hook: Webhook, delivery_id: str, latency: timedelta | None) -> None:
        """Drop the request's lease (None: no request was made under it). Should the store be down,
        it expires on its own."""
        try:
            await self.store.pacing.release(hook.id, delivery_id, latency)
        except STORE_UNAVAILABLE as err:
            activity.logger.warning(
                "lease of %s not released (it expires by itself): %s", delivery_id, outage_cause(err)
            )

    async def slow_down(self, hook: Webhook, status_code: int, delay: timedelta) -> None:
        """The receiver asked for a pause: the webhook's other deliveries hold until it is over."""
        now = utcnow()
        reason = pacing.pause_reason(url_host(hook.url), status_code, delay)
        with contextlib.suppress(*STORE_UNAVAILABLE):  # the delivery's own retry still honours it
            await self.store.pacing.pause(hook.id, now + delay, reason, now)


def stale(earlier: Delivery, now: datetime) -> bool:
    due = earlier.next_attempt_at or earlier.last_attempt_at or earlier.created_at
    return earlier.status != DeliveryStatus.FAILED and now - due > pacing.ORDER_STALE_AFTER


def order_hold(earlier: Delivery, now: datetime) -> Hold:
    """How long a delivery waits behind an earlier event of its contact, and the reason it shows."""
    what = f"behind {earlier.id} (event {earlier.event_id}) of the same contact"
    if earlier.status == DeliveryStatus.FAILED:
        return Hold(
            now + ORDER_HELD_RECHECK,
            f"{what}, which gave up: redeliver it, or set ordered_on_failure to release",
            ORDER,
        )
    due = earlier.next_attempt_at
    if due is not None and due > now:
        state = "held back" if earlier.status == DeliveryStatus.THROTTLED else "retrying"
        return Hold(due + ORDER_MARGIN, f"{what}, {state}; its next attempt in {format_delay(due - now)}", ORDER)
    return Hold(now + ORDER_POLL, f"{what}, being sent", ORDER)
