"""The benchmark's receiver: a process of its own, so that what it costs is not taken from the driver
or the worker, and so lean (raw asyncio HTTP/1.1, keep-alive, Content-Length bodies, nothing else)
that it is not what limits a run on two cores. It answers 200 to every POST and records when each
one arrived: deliveries per second and event-to-receipt latency are counted here, where the
requests arrive, for the pipeline and the reference alike.

    python -m bench.sink PORT

GET /count says how many POSTs it has had; GET /records?since=N returns those from the N-th on, as
[arrival (time.time()), path, webhook-id header, data.event_id of the JSON body].
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from devstack.processes import STARTUP_TIMEOUT, Process, free_port

OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"


@dataclass(frozen=True)
class Arrival:
    at: float
    """time.time() when the whole request had been read."""
    path: str
    webhook_id: str | None
    event_id: str | None


def event_id_of(body: bytes) -> str | None:
    """data.event_id of a delivery's body; read when the records are asked for, not on arrival, so
    that the sink spends as little as it can while a run is under way."""
    try:
        found = json.loads(body)["data"]["event_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return found if isinstance(found, str) else None


def parse_head(head: bytes) -> tuple[bytes, str, dict[bytes, bytes]]:
    """Method, target and headers (names lower-cased) of a request's head."""
    request_line, *lines = head.rstrip(b"\r\n").split(b"\r\n")
    method, target, _ = request_line.split(b" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return method, target.decode("latin-1"), headers


class SinkServer:
    """The records, and one connection's loop of requests."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str, bytes | None, bytes]] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                method, target, headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                if method == b"POST":
                    self.received.append((time.time(), target, headers.get(b"webhook-id"), body))
                    writer.write(OK)
                else:
                    writer.write(self.answer(target))
                    await writer.drain()
                if headers.get(b"connection", b"").lower() == b"close":
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass  # the client went away (or sent what this sink does not take): drop the connection
        finally:
            writer.close()

    def answer(self, target: str) -> bytes:
        url = urlsplit(target)
        if url.path == "/count":
            content: object = len(self.received)
        elif url.path == "/records":
            since = int(parse_qs(url.query).get("since", ["0"])[0])
            content = [
                [at, path, None if hook is None else hook.decode(), event_id_of(body)]
                for at, path, hook, body in self.received[since:]
            ]
        else:
            return b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
        payload = json.dumps(content).encode()
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
            len(payload),
            payload,
        )


async def serve(port: int) -> None:
    sink = SinkServer()
    # A deep backlog: a worker's pool filling up at the start of a burst must not see resets.
    server = await asyncio.start_server(sink.serve, "127.0.0.1", port, backlog=1024)
    print(f"sink listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


class SinkProcess(Process):
    """The sink as a child process, and the driver's way to ask it what arrived."""

    def __init__(self, folder: Path) -> None:
        super().__init__("the sink", folder / "sink.log")
        self.port = free_port()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._spawn([sys.executable, "-m", "bench.sink", str(self.port)])

    async def ready(self) -> None:
        """Return once it answers."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                await self.count()
                return
            except httpx.TransportError:
                if self.exited() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not start; see {self.log_path}:\n{self.log_tail()}") from None
                await asyncio.sleep(0.1)

    async def _get(self, path: str) -> object:
        async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
            response = await http.get(self.url(path))
            response.raise_for_status()
            return response.json()

    async def count(self) -> int:
        """POSTs so far: a mark, to take only a run's own records afterwards."""
        found = await self._get("/count")
        assert isinstance(found, int)
        return found

    async def since(self, mark: int) -> list[Arrival]:
        found = await self._get(f"/records?since={mark}")
        assert isinstance(found, list)
        return [Arrival(*record) for record in found]


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
