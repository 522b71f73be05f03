"""Sending one request: a signed Standard Webhooks POST, bounded in time and in what it reads."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version

import httpx

from core.netguard import UnsafeAddressError
from core.signing import signature_headers

USER_AGENT = f"chatbot-webhooks/{version('chatbot-webhooks')}"
EXCERPT_BYTES = 1024
"""How much of a receiver's answer the ledger keeps; the rest is not even read."""


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


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
