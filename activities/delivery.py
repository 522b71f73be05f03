"""One delivery attempt: read the webhook and the ledger, sign, POST, classify, record."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version
from typing import Any, NoReturn

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.outage import outage_cause, store_outage_retried
from core import metrics
from core.errors import NotFound
from core.netguard import UnsafeAddressError
from core.outcome import Verdict, classify
from core.schedule import parse_retry_after, retry_delay
from core.signing import signature_headers
from models.payload import delivery_body
from models.runs import DeliveryInput, DeliveryOutcome
from models.tables import Delivery, DeliveryStatus, Webhook, utcnow
from store.db import STORE_UNAVAILABLE
from store.queries import Store, url_host

USER_AGENT = f"chatbot-webhooks/{version('chatbot-webhooks')}"
EXCERPT_BYTES = 1024
"""How much of a receiver's answer the ledger keeps; the rest is not even read."""

RECORD_FIRST_PAUSE = timedelta(milliseconds=250)
RECORD_MAX_PAUSE = timedelta(seconds=2)
RECORD_MARGIN = timedelta(seconds=1)
"""Recording a 2xx is retried with these pauses until this long before the attempt's timeout."""

GAVE_UP = "DeliveryGaveUp"
RETRYING = "DeliveryFailed"


@dataclass(frozen=True)
class Attempt:
    """What one POST came to, before it is judged."""

    status_code: int | None
    error: str | None
    excerpt: str | None
    latency_ms: float
    retry_after: str | None = None
    location: str | None = None
    unsafe: bool = False


class DeliveryActivities:
    def __init__(
        self,
        store: Store,
        http: httpx.AsyncClient,
        *,
        schedule: tuple[timedelta, ...],
        request_timeout: timedelta,
        disable_after: timedelta,
    ) -> None:
        self.store = store
        self.http = http
        self.schedule = schedule
        self.request_timeout = request_timeout
        self.disable_after = disable_after

    @activity.defn(name="deliver")
    async def deliver(self, input: DeliveryInput) -> DeliveryOutcome:
        with store_outage_retried():
            return await self._deliver(input)

    async def _deliver(self, input: DeliveryInput) -> DeliveryOutcome:
        try:
            ctx = await self.store.delivery_context(input.workspace_id, input.event_id, input.webhook_id)
        except NotFound as err:  # the event or its ledger row is gone (removed by hand, or by retention)
            raise ApplicationError(str(err), type=GAVE_UP, non_retryable=True) from None
        ledger, hook = ctx.delivery, ctx.webhook
        if ledger.status == DeliveryStatus.DELIVERED:
            return outcome(ledger, DeliveryStatus.DELIVERED, "delivered earlier; not sent again")
        if hook is None or not hook.enabled:
            detail = (
                "webhook deleted" if hook is None else f"webhook turned off ({hook.disabled_reason or 'by a user'})"
            )
            await self.store.update_delivery(ledger.id, status=DeliveryStatus.SKIPPED, last_error=detail)
            metrics.delivery(DeliveryStatus.SKIPPED, None)
            return outcome(ledger, DeliveryStatus.SKIPPED, detail)

        body = json.dumps(delivery_body(ctx.event, hook.id, hook.name), separators=(",", ":")).encode()
        attempt = await post_signed(
            self.http, hook.url, signing_secrets(hook), ledger.id, body, hook.headers, self.request_timeout
        )
        return await self._judge(ledger, hook, attempt)

    async def _judge(self, ledger: Delivery, hook: Webhook, attempt: Attempt) -> DeliveryOutcome:
        now = utcnow()
        attempts = ledger.attempts + 1
        record: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": attempt.status_code,
            "response_excerpt": attempt.excerpt,
            "latency_ms": attempt.latency_ms,
            "last_attempt_at": now,
            "next_attempt_at": None,
        }
        if attempt.status_code is not None:
            judged = classify(attempt.status_code, attempt.location)
            verdict, detail = judged.verdict, judged.detail
        else:
            verdict, detail = Verdict.RETRY, attempt.error or "no answer"
        done = ledger.model_copy(update={"attempts": attempts, "last_status_code": attempt.status_code})
        result = "delivered" if verdict is Verdict.DELIVERED else "failed"
        metrics.attempt(result, attempt.status_code, timedelta(milliseconds=attempt.latency_ms))
        activity.logger.info(
            "delivery attempt %d to %s: %s (%.0f ms)", attempts, url_host(hook.url), detail, attempt.latency_ms,
            extra={
                "workspace_id": ledger.workspace_id, "event_id": ledger.event_id, "webhook_id": ledger.webhook_id,
                "delivery_id": ledger.id, "status_code": attempt.status_code, "outcome": result,
            },
        )  # fmt: skip

        if verdict is Verdict.DELIVERED:
            await self._record_delivered(
                ledger.id, **record, status=DeliveryStatus.DELIVERED, last_error=None, delivered_at=now
            )
            if hook.failing_since is not None:
                await self.store.clear_failing(hook.id)
            metrics.delivery(DeliveryStatus.DELIVERED, attempt.status_code)
            return outcome(done, DeliveryStatus.DELIVERED, detail)

        if verdict is Verdict.GONE:
            await self._turn_off(hook, f"{detail} ({now:%Y-%m-%d %H:%M:%S} UTC)", cause="gone")
            await self._give_up(done, record, detail, turned_off=True)
        if attempt.unsafe:
            await self._give_up(done, record, detail)
        if hook.failing_since is None:
            await self.store.mark_failing(hook.id, now)
        elif now - hook.failing_since >= self.disable_after:
            reason = (
                f"no successful delivery since {hook.failing_since:%Y-%m-%d %H:%M:%S} UTC "
                f"(turned off after {format_delay(self.disable_after)}); last error: {detail}"
            )
            await self._turn_off(hook, reason, cause="failing")
            await self._give_up(done, record, f"{detail}; the webhook was turned off: {reason}", turned_off=True)
        delay = self._next_delay(attempt)
        if delay is None:
            await self._give_up(done, record, f"{detail}; gave up after {attempts} attempts")
        await self.store.update_delivery(
            ledger.id,
            **(record | {"next_attempt_at": now + delay}),
            status=DeliveryStatus.PENDING,
            last_error=detail,
        )
        retry_later(detail, delay)

    async def _turn_off(self, hook: Webhook, reason: str, *, cause: str) -> None:
        await self.store.set_enabled(hook.id, False, reason=reason)
        metrics.disabled(cause)
        activity.logger.warning("webhook %s of workspace %s turned off: %s", hook.id, hook.workspace_id, reason)

    async def _record_delivered(self, delivery_id: str, **values: Any) -> None:
        """A 2xx must reach the ledger, or the next attempt would send the event again: ride out a
        store outage for as long as this attempt may last (what is left of its start-to-close)."""
        info = activity.info()
        deadline = info.started_time + (info.start_to_close_timeout or timedelta()) - RECORD_MARGIN
        pause = RECORD_FIRST_PAUSE
        while True:
            try:
                await self.store.update_delivery(delivery_id, **values)
                return
            except STORE_UNAVAILABLE as err:
                if utcnow() + pause > deadline:
                    raise
                activity.logger.warning("store unavailable while recording a 2xx, trying again: %s", outage_cause(err))
                await asyncio.sleep(pause.total_seconds())
                pause = min(pause * 2, RECORD_MAX_PAUSE)

    def _next_delay(self, attempt: Attempt) -> timedelta | None:
        scheduled = retry_delay(self.schedule, activity.info().attempt)
        if scheduled is None:
            return None
        if attempt.status_code is not None and classify(attempt.status_code).honours_retry_after:
            return parse_retry_after(attempt.retry_after) or scheduled
        return scheduled

    async def _give_up(
        self, ledger: Delivery, record: dict[str, Any], detail: str, *, turned_off: bool = False
    ) -> NoReturn:
        """Record the failure, and end the activity with it: no more retries."""
        await self.store.update_delivery(ledger.id, **record, status=DeliveryStatus.FAILED, last_error=detail)
        metrics.delivery(DeliveryStatus.FAILED, ledger.last_status_code)
        final = outcome(ledger, DeliveryStatus.FAILED, detail).model_copy(update={"webhook_disabled": turned_off})
        raise ApplicationError(detail, final.model_dump(mode="json"), type=GAVE_UP, non_retryable=True)


def retry_later(detail: str, delay: timedelta) -> NoReturn:
    """End this attempt; the next one comes after `delay` (the schedule's, or the receiver's)."""
    raise ApplicationError(
        f"{detail}; next attempt in {format_delay(delay)}",
        type=RETRYING,
        next_retry_delay=delay,
        # An expected outcome, not a fault of the worker: the SDK logs it at debug level.
        category=ApplicationErrorCategory.BENIGN,
    )


async def post_signed(
    http: httpx.AsyncClient,
    url: str,
    secrets: list[str],
    message_id: str,
    body: bytes,
    extra_headers: dict[str, str],
    limit: timedelta,
) -> Attempt:
    """One signed Standard Webhooks POST, bounded in time and in what it reads of the answer."""
    headers = {
        **extra_headers,
        **signature_headers(secrets, message_id, int(time.time()), body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "accept-encoding": "identity",
    }
    started = time.perf_counter()
    try:
        async with (
            asyncio.timeout(limit.total_seconds()),
            http.stream("POST", url, content=body, headers=headers) as response,
        ):
            excerpt = await read_excerpt(response)
    except TimeoutError:
        return Attempt(None, f"no answer within {limit.total_seconds():g} s", None, elapsed_ms(started))
    except httpx.HTTPError as err:
        unsafe = isinstance(err.__cause__, UnsafeAddressError)
        return Attempt(None, describe_http_error(err), None, elapsed_ms(started), unsafe=unsafe)
    return Attempt(
        status_code=response.status_code,
        error=None,
        excerpt=excerpt,
        latency_ms=elapsed_ms(started),
        retry_after=response.headers.get("retry-after"),
        location=response.headers.get("location"),
    )


def signing_secrets(hook: Webhook) -> list[str]:
    """The current secret, and during a rotation the previous one until it expires."""
    expires = hook.previous_secret_expires_at
    if hook.previous_secret and expires is not None and expires > utcnow():
        return [hook.secret, hook.previous_secret]
    return [hook.secret]


async def read_excerpt(response: httpx.Response) -> str:
    """The start of the answer, reading no more than that: an endless body cannot stall us."""
    taken = bytearray()
    async for chunk in response.aiter_bytes():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return taken[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def describe_http_error(err: httpx.HTTPError) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, httpx.TimeoutException):
        return f"timed out: {text}"
    if isinstance(err, httpx.ConnectError):
        return f"cannot connect: {text}"
    return f"{type(err).__name__}: {text}"


def outcome(ledger: Delivery, status: DeliveryStatus, detail: str) -> DeliveryOutcome:
    return DeliveryOutcome(
        webhook_id=ledger.webhook_id,
        delivery_id=ledger.id,
        status=status,
        attempts=ledger.attempts,
        status_code=ledger.last_status_code,
        detail=detail,
    )


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def format_delay(delay: timedelta) -> str:
    seconds = delay.total_seconds()
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
