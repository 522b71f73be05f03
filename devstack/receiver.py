"""A real HTTP receiver on 127.0.0.1 that records every request: the dev stack's demo endpoint,
and the far end of the tests and benchmarks.

Answers can be scripted per path (status, headers, delay), so a test can make an endpoint fail
twice and then succeed, redirect, answer 410 or ask to be retried later; or decided per request by
a function of the request (`decide`), say from its webhook-id or body. It can also be taken down
(connections refused, open ones cut) and brought back on the same port, or made slow for everyone.
With `services` (devstack.services.ServiceEmulator) it also stands in for the services the receiver
presets send to, under `/svc/{service}/...`; it answers GET as well as POST. In the dev stack it
also has paths that fail on purpose (`DemoPaths`: /fail, /flaky/N, /slow/S, /gone, /redirect/PATH,
/busy/S), listed by `GET /`, so that retries, timeouts and dead endpoints can be tried on `make run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from devstack.services import ServiceEmulator


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """time.monotonic() when the request was read."""
    answer: Answer = Answer()
    """What it was answered (or was about to be, had the caller waited)."""
    method: str = "POST"

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    """The listen backlog: a burst of new connections (a worker's pool filling up) must not be reset."""


class Receiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, services: ServiceEmulator | None = None) -> None:
        self.requests: list[Received] = []
        self.default = Answer()
        """The answer when a path has no script left."""
        self.services = services
        """Stand-ins for real services (devstack.services): they answer `/svc/...` requests
        instead of the scripts and the default (the requests are recorded all the same)."""
        self.on_request: Callable[[Received], None] | None = None
        self.decide: Callable[[Received], Answer | None] | None = None
        """Picks the answer to a request from what it got (its `answer` field is not set yet), before
        the path's script and the default, which answer when it returns None (the services'
        stand-ins come first). Called under the receiver's lock, one request at a time: it may keep
        state without a lock of its own, and must be quick."""
        self._scripts: dict[str, deque[Answer]] = defaultdict(deque)
        self._lock = threading.Condition()
        self._address = (host, port)
        self._server: _Server | None = None
        self._connections: set[socket.socket] = set()

    @property
    def port(self) -> int:
        return self._address[1]

    def url(self, path: str = "/") -> str:
        return f"http://{self._address[0]}:{self.port}{path}"

    def start(self) -> Receiver:
        """Listen (again, on the same port once one was picked)."""
        self._server = _Server(self._address, self._handler_class())
        self._address = (self._address[0], int(self._server.server_address[1]))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and cut the connections kept alive: the endpoint is down."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def script(self, path: str, answers: Iterable[Answer]) -> None:
        """Answer the next requests to `path` with these, in order; then 200."""
        with self._lock:
            self._scripts[path].extend(answers)

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until `count` requests in all have arrived (or the timeout passes)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def _take(self, path: str, headers: dict[str, str], body: bytes, method: str = "POST") -> Received:
        services = self.services
        service_answer = services.answer(method, path, headers, body) if services is not None else None
        with self._lock:
            received = Received(path, headers, body, at=time.monotonic(), method=method)
            decided = self.decide(received) if self.decide is not None and service_answer is None else None
            if service_answer is not None:
                answer = Answer(status=service_answer[0], headers=service_answer[1], body=service_answer[2])
            elif decided is not None:
                answer = decided
            else:
                script = self._scripts.get(path)
                answer = script.popleft() if script else self.default
            received = dataclasses.replace(received, answer=answer)
            self.requests.append(received)
            self._lock.notify_all()
        if self.on_request:
            self.on_request(received)
        return received

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._send(receiver._take(self.path, headers, body).answer)

            def do_GET(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)  # a GET's body, if any, is read and dropped
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._send(receiver._take(self.path, headers, b"", method="GET").answer)

            def _send(self, answer: Answer) -> None:
                if answer.delay:
                    time.sleep(answer.delay)
                with contextlib.suppress(OSError):  # the caller gave up waiting, or we were taken down
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the dev stack prints deliveries itself, through on_request

        return Handler


SLOW_AT_MOST = 60.0
"""Seconds /slow/S waits at most: past the default request timeout (15 s), so a timeout can be shown."""


def whole_number(text: str) -> int:
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


@dataclass(frozen=True)
class DemoPath:
    """One of the demo receiver's paths: `/NAME`, or `/NAME/ARG` with its argument."""

    usage: str
    does: str
    answer: Callable[[str], Answer]
    """Its answer, from ARG (ValueError: ARG does not fit)."""
    times: Callable[[str], int] | None = None
    """How many requests of each delivery (each webhook-id) get that answer before a 200; None:
    every request. A redelivery is the same delivery and continues the count; each test send is a
    delivery of its own (a fresh test event), counted afresh."""


DEMO_PATHS: dict[str, DemoPath] = {
    "fail": DemoPath(
        "/fail", "500 every time: retried on the schedule, then given up",
        lambda _: Answer(500, body=b"demo receiver: /fail always fails"),
    ),
    "flaky": DemoPath(
        "/flaky/N", "500 to each delivery's first N requests (by webhook-id), then 200",
        lambda _: Answer(500, body=b"demo receiver: /flaky fails this time"), times=whole_number,
    ),
    "slow": DemoPath(
        "/slow/S", f"200 after S seconds (at most {SLOW_AT_MOST:g}); past the request timeout, no answer",
        lambda s: Answer(body=b"demo receiver: slow, but fine", delay=min(whole_number(s), SLOW_AT_MOST)),
    ),
    "gone": DemoPath(
        "/gone", "410 Gone: the webhook is turned off at once (a dead endpoint)",
        lambda _: Answer(410, body=b"demo receiver: /gone is gone"),
    ),
    "redirect": DemoPath(
        "/redirect/PATH", "307 to /PATH: followed only by a webhook that follows redirects",
        # Always a path of this receiver: "//host/x" would be another host's (protocol-relative).
        lambda path: Answer(307, {"location": "/" + path.lstrip("/")}, b""),
    ),
    "busy": DemoPath(
        "/busy/S", "429 with Retry-After: S to each delivery's first request, then 200",
        lambda s: Answer(429, {"retry-after": str(whole_number(s))}, b"demo receiver: busy, come back later"),
        times=lambda _: 1,
    ),
}  # fmt: skip


def demo_usage() -> str:
    return "\n".join(f"{demo.usage:<15} {demo.does}" for demo in DEMO_PATHS.values())


class DemoPaths:
    """The dev stack's `Receiver.decide`: the answers of DEMO_PATHS, and their list on `GET /`;
    any other path is left to the receiver (200)."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()
        """Requests so far per (path, webhook-id)."""

    def __call__(self, request: Received) -> Answer | None:
        path = urlsplit(request.path).path
        if path == "/" and request.method == "GET":
            listed = f"Demo receiver: these paths answer as they say; any other path answers 200.\n\n{demo_usage()}\n"
            return Answer(headers={"content-type": "text/plain; charset=utf-8"}, body=listed.encode())
        name, _, argument = path.strip("/").partition("/")
        demo = DEMO_PATHS.get(name)
        if demo is None:
            return None
        try:
            answer = demo.answer(argument)
            times = None if demo.times is None else demo.times(argument)
        except ValueError:
            return Answer(400, body=f"demo receiver: expected {demo.usage} ({demo.does})".encode())
        if times is not None:
            key = (path, request.headers.get("webhook-id", ""))
            self.requests[key] += 1
            if self.requests[key] > times:
                return Answer(body=f"demo receiver: {path} answers 200 now".encode())
        return answer


@contextlib.asynccontextmanager
async def misbehaving_server() -> AsyncIterator[str]:
    """A receiver on 127.0.0.1 (in the running event loop) that answers /endless with a body that
    never ends and anything else with a 200 KB header (past httpcore's 100 KiB limit). Each answer
    gives up by itself after 30 s. Yields its base URL."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            if request.startswith(b"POST /endless"):
                writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    writer.write(b"4000\r\n" + b"z" * 0x4000 + b"\r\n")
                    await writer.drain()
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nx-huge: " + b"h" * 200_000 + b"\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"
        server.close()
