"""The rig `bench.pipeline` and `bench.profile` run on, as issue 13 asks for it: the Temporal dev
server persisting to a SQLite file (what a real server pays for durability, which the in-memory
one does not), the sink in a process of its own, and each worker a process of its own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from bench.sink import SinkProcess
from core.config import Settings
from core.temporal import register_search_attributes
from devstack.processes import TemporalServer, WorkerProcess


@dataclass
class Rig:
    server: TemporalServer
    client: Client
    sink: SinkProcess
    workdir: Path

    def worker(self, name: str, settings: Settings, command: list[str] | None = None) -> WorkerProcess:
        return WorkerProcess(name, self.workdir / f"{name}.log", settings, self.server.address, command)


@contextlib.asynccontextmanager
async def running_rig(workdir: Path) -> AsyncIterator[Rig]:
    """The dev server on `workdir`/temporal/temporal.db with the project's search attributes (the
    intake sets WebhookIds at start), and the sink; both stopped on the way out."""
    server = TemporalServer(workdir / "temporal")
    sink = SinkProcess(workdir)
    server.start()
    sink.start()
    try:
        client = await server.connect()
        await register_search_attributes(client)
        await sink.ready()
        yield Rig(server, client, sink, workdir)
    finally:
        sink.stop()
        server.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
