"""Sending one request: a signed Standard Webhooks POST, bounded in time and in what it reads,
following redirects only when the webhook asks to, hop by hop under the address guard."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx

from core.netguard import UnsafeAddressError
from core.shaping import JSON_CONTENT_TYPE, USER_AGENT, ShapedRequest
from core.signing import signature_headers

EXCERPT_BYTES = 1024
"""How much of a receiver's answer the ledger keeps; the rest is not even read."""
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
AS_GET = frozenset({301, 302, 303})
"""After a POST these continue as a GET without the body, as browsers do; 307 and 308 repeat the POST."""


@dataclass(frozen=True)
class Hop:
    """One request of a redirect chain: the host it went to and the status it got."""

    host: str
    status_code: int


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
    redirects: tuple[Hop, ...] = ()
    """Every request made, when there was at least one redirect."""


@dataclass(frozen=True)
class Redirects:
    """What a webhook allows of redirects."""

    follow: bool = False
    forward_credentials: bool = False


async def send_signed(
    http: httpx.AsyncClient,
    request: ShapedRequest,
    secrets: list[str],
    message_id: str,
    limit: timedelta,
    redirects: Redirects = Redirects(),
) -> Attempt:
    """One signed Standard Webhooks POST (and the redirects it leads to, when allowed), bounded in
    time as a whole and in what it reads of each answer."""
    own = {
        **request.headers,
        **signature_headers(secrets, message_id, int(time.time()), request.body),
    }
    common = {"user-agent": USER_AGENT, "accept-encoding": "identity"}
    origin = httpx.URL(request.url)
    method, url = "POST", origin
    body: bytes | None = request.body
    hops: list[Hop] = []
    started = time.perf_counter()

    def failed(detail: str, response: httpx.Response | None = None, *, unsafe: bool = False) -> Attempt:
        if hops and response is None:
            detail = f"redirect {len(hops)} to {url.host}: {detail}"
        return Attempt(
            response.status_code if response else None, detail, None, elapsed_ms(started), unsafe=unsafe,
            location=response.headers.get("location") if response else None, redirects=tuple(hops),
        )  # fmt: skip

    try:
        async with asyncio.timeout(limit.total_seconds()):
            while True:
                # Another origin (host, scheme or port) gets neither the signature nor the
                # webhook's own headers and credentials, unless the webhook forwards them.
                carried = own if same_origin(url, origin) or redirects.forward_credentials else {}
                headers = {**carried, **common}
                if body is not None:
                    headers["content-type"] = request.content_type
                async with http.stream(method, url, content=body, headers=headers) as response:
                    excerpt = await read_excerpt(response)
                location = response.headers.get("location")
                following = redirects.follow and response.status_code in REDIRECTS and location
                if following or hops:
                    hops.append(Hop(url.host, response.status_code))
                if not following or location is None:
                    break
                if len(hops) > MAX_REDIRECTS:
                    return failed(f"more than {MAX_REDIRECTS} redirects", response)
                try:
                    url = redirect_target(url, location)
                except ValueError as err:
                    return failed(f"redirect refused: {err}", response, unsafe=True)
                if response.status_code in AS_GET:
                    method, body = "GET", None
    except TimeoutError:
        return failed(f"no answer within {limit.total_seconds():g} s")
    except httpx.HTTPError as err:
        return failed(describe_http_error(err), unsafe=isinstance(err.__cause__, UnsafeAddressError))
    except Exception as err:
        # Whatever a receiver's answer provokes ends the attempt, not the activity (which would be
        # retried without end); the text may quote the request (a header's value): only its kind.
        return failed(f"the request could not be made ({type(err).__name__})")
    return Attempt(
        status_code=response.status_code,
        error=None,
        excerpt=excerpt,
        latency_ms=elapsed_ms(started),
        retry_after=response.headers.get("retry-after"),
        location=location,
        redirects=tuple(hops),
    )


def same_origin(url: httpx.URL, origin: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (origin.scheme, origin.host, origin.port)


def redirect_target(url: httpx.URL, location: str) -> httpx.URL:
    """Where a `Location` leads from `url`; ValueError for one not to follow."""
    try:
        target = url.join(location)
    except (httpx.InvalidURL, UnicodeError) as err:
        raise ValueError(f"invalid Location ({type(err).__name__})") from None
    if target.scheme not in ("http", "https"):
        raise ValueError(f"not an HTTP URL ({target.scheme}:)")
    if target.port is not None and not 0 < target.port < 65536:
        raise ValueError(f"invalid port {target.port}")
    if not target.host:
        raise ValueError("no host")
    return target


async def post_json_signed(
    http: httpx.AsyncClient, url: str, secrets: list[str], message_id: str, body: bytes, limit: timedelta
) -> Attempt:
    """A signed POST of the contract's own JSON (workspace notifications)."""
    return await send_signed(http, ShapedRequest(url, body, JSON_CONTENT_TYPE, {}), secrets, message_id, limit)


async def read_excerpt(response: httpx.Response) -> str:
    """The start of the answer, reading no more than that: an endless body cannot stall us."""
    taken = bytearray()
    async for chunk in response.aiter_bytes():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return taken[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def describe_http_error(err: httpx.HTTPError) -> str:
    if isinstance(err, httpx.LocalProtocolError):
        # Its text quotes the offending header, which may be a credential.
        return "the request could not be sent: a header value is not valid HTTP (check the webhook's headers and auth)"
    text = str(err) or type(err).__name__
    if isinstance(err, httpx.TimeoutException):
        return f"timed out: {text}"
    if isinstance(err, httpx.ConnectError):
        return f"cannot connect: {text}"
    return f"{type(err).__name__}: {text}"


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
