"""One delivery attempt, in six steps: take the delivery (store.queries.claim_delivery: no other
attempt sends it meanwhile), build the request, wait for its turn (activities.pacing), send it,
judge the answer, record it.

Two entry points run the same attempt: `deliver_first`, the first attempt as a local activity in
the event's workflow task, which returns whatever came of it (a failure that will be retried
included); and `deliver`, the durable activity that makes the later attempts on the retry
schedule, which ends a failed attempt the way Temporal retries it (a delay it sets itself) or
gives up for good."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from temporalio import activity

from activities.intake import Intake
from activities.outage import outage_cause, store_outage_retried
from activities.pacing import LATE, SENDING, Hold, Pacer
from activities.retries import give_up, retry_later
from activities.sending import Attempt, Redirects, send_signed
from core import metrics
from core.errors import NotFound
from core.outcome import Verdict, classify
from core.schedule import format_delay, parse_retry_after, retry_delay
from core.shaping import ShapedRequest, shape_request
from core.templates import TemplateError
from models.payload import delivery_id_for
from models.runs import DeliveryInput, DeliveryOutcome
from models.tables import Delivery, DeliveryStatus, Webhook, utcnow
from store.db import STORE_UNAVAILABLE
from store.queries import DeliveryContext, Store, url_host

T = TypeVar("T")

WAIT_IN_PLACE = timedelta(seconds=2)
"""A durable attempt held for less than this waits for its turn where it is; longer, it ends and
comes back at its turn (a retry that uses up no attempt of the schedule)."""
MIN_HOLD = timedelta(milliseconds=50)
SEND_MARGIN = timedelta(seconds=1)
"""Kept in hand at the last moment an attempt may send (its deadline less the request timeout):
for the answer to reach the ledger while the attempt still holds its delivery."""
CLAIM_RECHECK = timedelta(seconds=1)
"""How soon a delivery held by another attempt of it looks again: that attempt is usually over in
a moment (its answer recorded, or let go before its request); only a dead worker's lasts until
its deadline."""
RECORD_FIRST_PAUSE = timedelta(milliseconds=250)
RECORD_MAX_PAUSE = timedelta(seconds=2)
RECORD_MARGIN = timedelta(seconds=1)
"""Recording a 2xx is retried with these pauses until this long before the attempt's timeout."""


class DeliveryActivities:
    def __init__(
        self,
        store: Store,
        http: httpx.AsyncClient,
        *,
        schedule: tuple[timedelta, ...],
        request_timeout: timedelta,
        disable_after: timedelta,
        intake: Intake | None = None,
    ) -> None:
        self.store = store
        self.pacer = Pacer(store, intake)
        self.http = http
        self.schedule = schedule
        self.request_timeout = request_timeout
        self.disable_after = disable_after
        self._finishing: set[asyncio.Future[Any]] = set()
        """Sends under way, kept until they end (a shielded task is otherwise only weakly held)."""

    @activity.defn(name="deliver_first")
    async def deliver_first(self, input: DeliveryInput) -> DeliveryOutcome:
        """The first attempt: its outcome, pending with the delay to the next if it failed, or
        throttled with the delay to its turn if it was held back (it never waits in place)."""
        with store_outage_retried():
            return await self._attempt(input, number=1, wait_up_to=timedelta(0))

    @activity.defn(name="deliver")
    async def deliver(self, input: DeliveryInput) -> DeliveryOutcome:
        """A later attempt (or every attempt, for a workflow started before local first attempts).
        A hold ends the attempt too, counted in its heartbeat so that it uses up no attempt."""
        info = activity.info()
        holds: int = info.heartbeat_details[0] if info.heartbeat_details else 0
        with store_outage_retried():
            result = await self._attempt(
                input, number=input.prior_attempts + info.attempt - holds, wait_up_to=WAIT_IN_PLACE
            )
        if result.status == DeliveryStatus.THROTTLED and result.retry_in is not None:
            activity.heartbeat(holds + 1)  # carried to the next attempt, which comes at the turn
            retry_later(result.detail, result.retry_in)
        if result.status == DeliveryStatus.PENDING and result.retry_in is not None:
            retry_later(f"attempt {result.attempts}: {result.detail}", result.retry_in)
        if result.status == DeliveryStatus.FAILED:
            give_up(result.detail, result.model_dump(mode="json"))
        return result

    async def _attempt(self, input: DeliveryInput, number: int, wait_up_to: timedelta) -> DeliveryOutcome:
        """Attempt `number` of this run's schedule (1 is the first), held back if not its turn."""
        budget = activity.info().start_to_close_timeout or self.request_timeout
        deadline, send_by = deadlines(budget, self.request_timeout)
        try:
            ctx = await self.store.claim_delivery(input.workspace_id, input.event_id, input.webhook_id, until=deadline)
        except NotFound as err:  # the event or its ledger row is gone (removed by hand, or by retention)
            delivery_id = delivery_id_for(input.workspace_id, input.event_id, input.webhook_id)
            return DeliveryOutcome(
                webhook_id=input.webhook_id, delivery_id=delivery_id, status=DeliveryStatus.FAILED,
                attempts=0, detail=str(err),
            )  # fmt: skip
        ledger = ctx.delivery
        if ledger.status == DeliveryStatus.DELIVERED:
            return outcome(ledger, DeliveryStatus.DELIVERED, "delivered earlier; not sent again")
        if not ctx.claimed:
            return held_elsewhere(ledger)
        try:
            ready = await self._ready(ctx, wait_up_to, lease_for=budget)
        except BaseException:
            # Ended before its request (cancelled, the store down): the attempt that replaces this
            # one need not wait for the deadline.
            with contextlib.suppress(*STORE_UNAVAILABLE):
                await self._finish(self.store.update_delivery(ledger.id, claimed_until=deadline, sending_until=None))
            raise
        if isinstance(ready, DeliveryOutcome):
            return ready
        request, hook, leased = ready
        if (now := utcnow()) > send_by:  # the checks took so long that the request could outlast the claim
            if leased:
                await self.pacer.release(hook, ledger.id, None)
            return await self._held(ledger, Hold(now, "this attempt's time ran out before its request", LATE))
        # Once the request is out, its answer reaches the ledger even if the attempt is cancelled
        # (a workflow task handed to another worker cancels its local activities here): the other
        # worker's attempt then finds it delivered, rather than the outcome unknown and sent again.
        return await self._finish(self._send(ledger, hook, request, leased, number))

    async def _ready(
        self, ctx: DeliveryContext, wait_up_to: timedelta, *, lease_for: timedelta
    ) -> tuple[ShapedRequest, Webhook, bool] | DeliveryOutcome:
        """The request, its webhook and whether it took a concurrency lease, once it is the
        delivery's turn; or the outcome of an attempt that sends nothing (skipped, a template
        that cannot fit, held back)."""
        ledger, hook = ctx.delivery, ctx.webhook
        if hook is None or not hook.enabled:
            detail = (
                "webhook deleted" if hook is None else f"webhook turned off ({hook.disabled_reason or 'by a user'})"
            )
            await self._record(ledger, status=DeliveryStatus.SKIPPED, last_error=detail)
            metrics.delivery(DeliveryStatus.SKIPPED, None)
            return outcome(ledger, DeliveryStatus.SKIPPED, detail)
        try:
            request = shape_request(hook, ctx.event, ledger.id)
        except TemplateError as err:  # this event's data cannot fit the template: no attempt would do better
            done = ledger.model_copy(update={"attempts": ledger.attempts + 1})
            record = {"attempts": done.attempts, "last_attempt_at": utcnow(), "next_attempt_at": None}
            return await self._gave_up(done, record, f"body template: {err}")
        turn = await self.pacer.clear(ctx, hook, lease_for=lease_for, wait_up_to=wait_up_to)
        if isinstance(turn, Hold):
            return await self._held(ledger, turn)
        return request, hook, turn.leased

    async def finish_sends(self, within: timedelta) -> None:
        """Wait (up to `within`) for sends whose attempts were cancelled to record their answers:
        a worker stopping calls this before it closes the HTTP client and the store."""
        if self._finishing:
            await asyncio.wait(self._finishing, timeout=within.total_seconds())

    async def _finish(self, step: Coroutine[Any, Any, T]) -> T:
        """Run `step` to its end even if the attempt is cancelled meanwhile (which then ends at once)."""
        task = asyncio.ensure_future(step)
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        return await asyncio.shield(task)

    async def _send(
        self, ledger: Delivery, hook: Webhook, request: ShapedRequest, leased: bool, number: int
    ) -> DeliveryOutcome:
        """Send the request, then judge and record its answer."""
        cleared_at = utcnow()
        redirects = Redirects(follow=hook.follow_redirects, forward_credentials=hook.forward_credentials)
        try:
            sent = await send_signed(
                self.http, request, signing_secrets(hook), ledger.id, self.request_timeout, redirects
            )
        finally:
            if leased:
                await self.pacer.release(hook, ledger.id, utcnow() - cleared_at)
        return await self._judge(ledger, hook, sent, number)

    async def _held(self, ledger: Delivery, hold: Hold) -> DeliveryOutcome:
        """Not this delivery's turn: no request, no attempt used up; the ledger says until when."""
        await self._record(ledger, status=DeliveryStatus.THROTTLED, next_attempt_at=hold.until, held_reason=hold.reason)
        metrics.held(hold.cause)
        wait = max(hold.until - utcnow(), MIN_HOLD)
        activity.logger.debug("delivery %s held back for %s: %s", ledger.id, format_delay(wait), hold.reason)
        return outcome(ledger, DeliveryStatus.THROTTLED, f"held back: {hold.reason}").model_copy(
            update={"retry_in": wait}
        )

    async def _judge(self, ledger: Delivery, hook: Webhook, sent: Attempt, number: int) -> DeliveryOutcome:
        now = utcnow()
        attempts = ledger.attempts + 1
        record: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": sent.status_code,
            "response_excerpt": sent.excerpt,
            "latency_ms": sent.latency_ms,
            "last_attempt_at": now,
            "next_attempt_at": None,
            "redirects": [asdict(hop) for hop in sent.redirects] or None,
            "held_reason": None,
        }
        if sent.status_code is not None and sent.error is None:
            judged = classify(sent.status_code, sent.location, hint_redirects=not hook.follow_redirects)
            verdict, detail = judged.verdict, judged.detail
        elif sent.status_code is not None:
            verdict, detail = Verdict.RETRY, f"HTTP {sent.status_code}: {sent.error}"
        else:
            verdict, detail = Verdict.RETRY, sent.error or "no answer"
        done = ledger.model_copy(update={"attempts": attempts, "last_status_code": sent.status_code})
        result = "delivered" if verdict is Verdict.DELIVERED else "failed"
        metrics.attempt(result, sent.status_code, timedelta(milliseconds=sent.latency_ms))
        activity.logger.info(
            "delivery attempt %d to %s: %s (%.0f ms)", attempts, url_host(hook.url), detail, sent.latency_ms,
            extra=log_fields(ledger, attempt=attempts, status_code=sent.status_code, outcome=result),
        )  # fmt: skip

        if verdict is Verdict.DELIVERED:
            await self._record_delivered(
                ledger, **record, status=DeliveryStatus.DELIVERED, last_error=None, delivered_at=now
            )
            if hook.failing_since is not None:
                await self.store.clear_failing(hook.id)
            metrics.delivery(DeliveryStatus.DELIVERED, sent.status_code)
            return outcome(done, DeliveryStatus.DELIVERED, detail)

        if verdict is Verdict.GONE:
            await self._turn_off(hook, f"{detail} ({now:%Y-%m-%d %H:%M:%S} UTC)", cause="gone")
            return await self._gave_up(done, record, detail, turned_off=True)
        if sent.unsafe:
            return await self._gave_up(done, record, detail)
        if hook.failing_since is None:
            await self.store.mark_failing(hook.id, now)
        elif now - hook.failing_since >= self.disable_after:
            reason = (
                f"no successful delivery since {hook.failing_since:%Y-%m-%d %H:%M:%S} UTC "
                f"(turned off after {format_delay(self.disable_after)}); last error: {detail}"
            )
            await self._turn_off(hook, reason, cause="failing")
            return await self._gave_up(done, record, f"{detail}; the webhook was turned off: {reason}", turned_off=True)
        delay = await self._next_delay(hook, sent, number)
        if delay is None:
            return await self._gave_up(done, record, f"{detail}; gave up after {attempts} attempts")
        await self._record(
            ledger, **(record | {"next_attempt_at": now + delay}), status=DeliveryStatus.PENDING, last_error=detail
        )
        return outcome(done, DeliveryStatus.PENDING, detail).model_copy(update={"retry_in": delay})

    async def _turn_off(self, hook: Webhook, reason: str, *, cause: str) -> None:
        await self.store.set_enabled(hook.id, False, reason=reason)
        metrics.disabled(cause)
        activity.logger.warning("webhook %s of workspace %s turned off: %s", hook.id, hook.workspace_id, reason)

    async def _record(self, ledger: Delivery, **values: Any) -> None:
        """Write what came of the attempt to the ledger and let the delivery go, if the attempt's
        claim still holds it: past its deadline the next attempt may have it, and its outcome."""
        await self.store.update_delivery(ledger.id, claimed_until=ledger.sending_until, **values, sending_until=None)

    async def _record_delivered(self, ledger: Delivery, **values: Any) -> None:
        """A 2xx must reach the ledger, or the next attempt would send the event again: whoever
        holds the delivery now, and riding out a store outage for as long as this attempt may last
        (until its claim ends)."""
        deadline = (ledger.sending_until or utcnow()) - RECORD_MARGIN
        pause = RECORD_FIRST_PAUSE
        while True:
            try:
                await self.store.update_delivery(ledger.id, **values, sending_until=None)
                return
            except STORE_UNAVAILABLE as err:
                if utcnow() + pause > deadline:
                    raise
                activity.logger.warning("store unavailable while recording a 2xx, trying again: %s", outage_cause(err))
                await asyncio.sleep(pause.total_seconds())
                pause = min(pause * 2, RECORD_MAX_PAUSE)

    async def _next_delay(self, hook: Webhook, sent: Attempt, number: int) -> timedelta | None:
        """The schedule's next delay, or the receiver's Retry-After, which then holds the
        webhook's other deliveries too."""
        asked = None
        if sent.status_code is not None and classify(sent.status_code).honours_retry_after:
            asked = parse_retry_after(sent.retry_after)
            if asked is not None:
                await self.pacer.slow_down(hook, sent.status_code, asked)
        scheduled = retry_delay(self.schedule, number)
        if scheduled is None:
            return None
        return asked or scheduled

    async def _gave_up(
        self, ledger: Delivery, record: dict[str, Any], detail: str, *, turned_off: bool = False
    ) -> DeliveryOutcome:
        """Record the failure for good: no more retries."""
        await self._record(ledger, **record, status=DeliveryStatus.FAILED, last_error=detail)
        metrics.delivery(DeliveryStatus.FAILED, ledger.last_status_code)
        activity.logger.warning(
            "delivery failed for good: %s", detail,
            extra=log_fields(ledger, status_code=ledger.last_status_code, outcome="gave up"),
        )  # fmt: skip
        return outcome(ledger, DeliveryStatus.FAILED, detail).model_copy(update={"webhook_disabled": turned_off})


def deadlines(budget: timedelta, request_timeout: timedelta) -> tuple[datetime, datetime]:
    """An attempt's deadline, when Temporal may take it for lost and start another (its `budget`,
    the start-to-close, on this worker's clock, which other workers' claims are compared with),
    and the last moment it may send: early enough for the request to end before it (unless the
    attempt is given no more than a request's time anyway)."""
    deadline = utcnow() + budget
    reserve = request_timeout + SEND_MARGIN
    return deadline, deadline - reserve if reserve < budget else deadline


def held_elsewhere(ledger: Delivery) -> DeliveryOutcome:
    """Another attempt of this delivery is under way (an attempt run twice, or a worker killed
    mid-request whose attempt has not timed out yet): look again soon, and go once it is over. The
    ledger is left to that attempt, which writes its outcome."""
    now = utcnow()
    until = ledger.sending_until or now
    metrics.held(SENDING)
    detail = f"held back: another attempt is sending it (until {until:%H:%M:%S} UTC at the latest)"
    activity.logger.debug("delivery %s %s", ledger.id, detail)
    return outcome(ledger, DeliveryStatus.THROTTLED, detail).model_copy(
        update={"retry_in": max(min(until - now, CLAIM_RECHECK), MIN_HOLD)}
    )


def log_fields(ledger: Delivery, **more: Any) -> dict[str, Any]:
    """The fields of a delivery's log lines (core.logs): its ids, and its attempt count so far."""
    return {
        "workspace_id": ledger.workspace_id, "event_id": ledger.event_id, "webhook_id": ledger.webhook_id,
        "delivery_id": ledger.id, "attempt": ledger.attempts, **more,
    }  # fmt: skip


def signing_secrets(hook: Webhook) -> list[str]:
    """The current secret, and during a rotation the previous one until it expires."""
    expires = hook.previous_secret_expires_at
    if hook.previous_secret and expires is not None and expires > utcnow():
        return [hook.secret, hook.previous_secret]
    return [hook.secret]


def outcome(ledger: Delivery, status: DeliveryStatus, detail: str) -> DeliveryOutcome:
    return DeliveryOutcome(
        webhook_id=ledger.webhook_id,
        delivery_id=ledger.id,
        status=status,
        attempts=ledger.attempts,
        status_code=ledger.last_status_code,
        detail=detail,
    )
