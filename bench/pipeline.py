"""`make bench`: in one run, against the same local dev server and the same local receiver:

- the ceiling for raw HTTP: direct httpx POSTs of a delivery's body to the receiver (from this
  process, which also runs the receiver: a ceiling for this receiver, not for HTTP);
- the reference: a minimal one-activity workflow (its worker a process of its own), per second,
  and its start-to-activity latency at half that rate;
- the pipeline at fan-out 1, 10 and 100 (`webhooks worker` as a process): deliveries per second
  for a burst, event-to-receipt latency at half that rate, the worker's peak memory; on SQLite,
  and on PostgreSQL when one answers (WEBHOOKS_TEST_PG, as the tests use);
- each figure as a ratio to the reference measured in the same run.

Writes bench/results/latest.json and latest.png (throughput and latency against fan-out).

    python -m bench.pipeline [--scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from temporalio.client import Client, WorkflowHandle

from bench.reference import ReferenceWorkflow
from core.config import Settings
from devstack.processes import MemorySampler, WorkerProcess
from devstack.receiver import Receiver
from devstack.stack import ephemeral_environment
from models.events import parse_event
from models.payload import delivery_body
from models.samples import sample_event
from models.tables import WebhookCreate
from services.events import accept_event
from services.webhooks import create_webhook
from store.migrate import upgrade
from store.queries import Store

RESULTS = Path(__file__).parent / "results"
IN_FLIGHT = 50
"""Starts (or raw POSTs) under way at once: enough to keep the server busy, as a platform's burst would."""
RUNS = ((1, 400, 120), (10, 80, 40), (100, 12, 8))
"""(fan-out, events in the throughput burst, events in the paced latency run), at scale 1."""
PG_ADMIN_URL = os.environ.get("WEBHOOKS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def drive(
    start: Callable[[int], Awaitable[WorkflowHandle[Any, Any]]], count: int, rate: float | None
) -> tuple[float, list[Any]]:
    """Start workflows 0..count-1, as a burst (a bounded number of starts under way) or paced at
    `rate` per second; wait for every one; return the seconds it took and their results."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> Any:
        if rate:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        async with gate:
            return await start(i)

    t0 = time.monotonic()
    handles = await asyncio.gather(*(one(i) for i in range(count)))
    results = await asyncio.gather(*(h.result() for h in handles))
    return time.monotonic() - t0, results


def latency(latencies_ms: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(latencies_ms, 50), "p99_ms": percentile(latencies_ms, 99)}


async def raw_http(receiver: Receiver, count: int) -> float:
    """POSTs per second straight to the receiver, with the body a delivery carries."""
    body = json.dumps(delivery_body(sample_event("tag.applied"), "wh_raw", "raw")).encode()
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(limits=limits) as http:

        async def post() -> None:
            async with gate:
                (await http.post(receiver.url("/raw"), content=body)).raise_for_status()

        started = time.monotonic()
        await asyncio.gather(*(post() for _ in range(count)))
    return count / (time.monotonic() - started)


class Rig:
    """The dev server's address, a work folder, and the worker processes started on it."""

    def __init__(self, client: Client, workdir: Path) -> None:
        self.client = client
        self.address = client.service_client.config.target_host
        self.workdir = workdir

    def worker(self, name: str, settings: Settings, command: list[str] | None = None) -> WorkerProcess:
        return WorkerProcess(name, self.workdir / f"{name}.log", settings, self.address, command)


async def reference(rig: Rig, events: int, rate: float | None) -> dict[str, float]:
    queue = f"bench-ref-{uuid.uuid4().hex[:6]}"
    settings = Settings(task_queue=queue)
    worker = rig.worker(queue, settings, [sys.executable, "-m", "bench.reference", queue])
    worker.start()
    started: dict[str, float] = {}
    try:
        await worker.ready()

        async def start(i: int) -> Any:
            wid = f"{queue}-{i}"
            started[wid] = time.time()
            return await rig.client.start_workflow(ReferenceWorkflow.run, id=wid, task_queue=queue)

        seconds, ran = await drive(start, events, rate)
    finally:
        worker.stop()
    return {"per_s": events / seconds} | latency([(r - s) * 1000 for r, s in zip(ran, started.values(), strict=True)])


async def pipeline(
    rig: Rig,
    database_url: str,
    fan_out: int,
    events: int,
    rate: float | None,
    receiver: Receiver,
    watch: Callable[[WorkerProcess], contextlib.AbstractContextManager[object]] | None = None,
) -> dict[str, float]:
    """`watch`, given the worker once it polls, is entered around the events (`bench.profile`)."""
    run = f"bench-{fan_out}-{uuid.uuid4().hex[:6]}"
    upgrade(database_url)
    store = Store.from_url(database_url)
    settings = Settings(
        database_url=database_url, task_queue=run, allow_private_urls=True, retry_schedule=(timedelta(seconds=1),)
    )
    for i in range(fan_out):
        create = WebhookCreate(name=f"hook {i}", event_type="tag.applied", url=receiver.url(f"/{run}/{i}"))
        await create_webhook(store, f"ws_{run}", create, allow_private=True)
    worker = rig.worker(run, settings)
    worker.start()
    started: dict[str, float] = {}
    try:
        await worker.ready()
        first = len(receiver.requests)

        async def send(i: int) -> Any:
            event = parse_event(sample_event("tag.applied", event_id=f"evt_{i}", workspace_id=f"ws_{run}"))
            started[event.event_id] = time.monotonic()
            return await accept_event(store, rig.client, run, event)  # as the API's intake takes it

        with MemorySampler(worker) as memory, (watch or (lambda _: contextlib.nullcontext()))(worker):
            seconds, _ = await drive(send, events, rate)
    finally:
        worker.stop()
        await store.close()
    received = receiver.requests[first:]
    assert len(received) == events * fan_out, "every delivery arrived exactly once"
    latencies = [(r.at - started[r.json()["data"]["event_id"]]) * 1000 for r in received]
    return {"per_s": events * fan_out / seconds, "peak_rss_mib": memory.peak} | latency(latencies)


@contextlib.contextmanager
def postgres_database() -> Iterator[str | None]:
    """A database of the run's own on the tests' PostgreSQL (dropped afterwards), or None when it
    does not answer. Runs keep apart by workspace and task queue."""
    name = f"webhooks_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=2) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        yield None
        return
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def main(scale: float) -> dict[str, Any]:
    runs = [(fan_out, max(2, round(burst * scale)), max(2, round(paced * scale))) for fan_out, burst, paced in RUNS]
    async with await ephemeral_environment() as env:
        with tempfile.TemporaryDirectory() as tmp, Receiver() as receiver, postgres_database() as postgresql:
            rig = Rig(env.client, Path(tmp))

            def sqlite() -> str:
                return f"sqlite:///{Path(tmp) / f'{uuid.uuid4().hex[:6]}.db'}"

            stores: dict[str, Callable[[], str]] = {"sqlite": sqlite}
            if postgresql:
                stores["postgresql"] = lambda: postgresql
            await pipeline(rig, sqlite(), 1, 30, None, receiver)  # warm-up: caches, connections
            raw = await raw_http(receiver, 2000)
            ref = await reference(rig, runs[0][1], None)
            ref_paced = await reference(rig, runs[0][2], ref["per_s"] / 2)
            figures: dict[str, Any] = {
                "raw_http_posts_per_s": raw,
                "reference": {
                    "workflows_per_s": ref["per_s"],
                    "start_to_activity_p50_ms": ref_paced["p50_ms"],
                    "start_to_activity_p99_ms": ref_paced["p99_ms"],
                },
                "runs": [],
            }
            for store_name, database in stores.items():
                for fan_out, burst_events, paced_events in runs:
                    burst = await pipeline(rig, database(), fan_out, burst_events, None, receiver)
                    rate = burst["per_s"] / fan_out / 2
                    paced = await pipeline(rig, database(), fan_out, paced_events, rate, receiver)
                    figures["runs"].append(
                        {
                            "store": store_name,
                            "fan_out": fan_out,
                            "deliveries_per_s": burst["per_s"],
                            "vs_reference_workflows_per_s": burst["per_s"] / ref["per_s"],
                            "paced_at_events_per_s": rate,
                            "event_to_receipt_p50_ms": paced["p50_ms"],
                            "event_to_receipt_p99_ms": paced["p99_ms"],
                            "p50_vs_reference_p50": paced["p50_ms"] / ref_paced["p50_ms"],
                            "p99_vs_reference_p99": paced["p99_ms"] / ref_paced["p99_ms"],
                            "worker_peak_rss_mib": max(burst["peak_rss_mib"], paced["peak_rss_mib"]),
                        }
                    )
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "runs_at_scale": scale,
        **figures,
    }


def show(figures: dict[str, Any]) -> None:
    ref = figures["reference"]
    print(f"\n{figures['machine']}; raw HTTP ceiling {figures['raw_http_posts_per_s']:.0f} POSTs/s")
    print(
        f"reference: {ref['workflows_per_s']:.1f} workflows/s, start-to-activity p50 "
        f"{ref['start_to_activity_p50_ms']:.1f} ms, p99 {ref['start_to_activity_p99_ms']:.1f} ms"
    )
    columns: list[tuple[str, int]] = [("store", 11), ("fan-out", 8), ("dlv/s", 9), ("x ref", 7), ("p50 ms", 9)]
    columns += [("x ref", 7), ("p99 ms", 9), ("x ref", 7), ("RSS MiB", 9)]
    print("".join(name.ljust(width) if name == "store" else name.rjust(width) for name, width in columns))
    for r in figures["runs"]:
        print(
            f"{r['store']:<11}{r['fan_out']:>8}{r['deliveries_per_s']:>9.1f}{r['vs_reference_workflows_per_s']:>7.2f}"
            f"{r['event_to_receipt_p50_ms']:>9.1f}{r['p50_vs_reference_p50']:>7.2f}"
            f"{r['event_to_receipt_p99_ms']:>9.1f}{r['p99_vs_reference_p99']:>7.2f}{r['worker_peak_rss_mib']:>9.0f}"
        )


def plot(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = figures["reference"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for store in sorted({r["store"] for r in figures["runs"]}):
        runs = [r for r in figures["runs"] if r["store"] == store]
        fan_outs = [r["fan_out"] for r in runs]
        left.plot(fan_outs, [r["deliveries_per_s"] for r in runs], marker="o", label=f"pipeline ({store})")
        right.plot(fan_outs, [r["event_to_receipt_p50_ms"] for r in runs], marker="o", label=f"p50 ({store})")
        right.plot(fan_outs, [r["event_to_receipt_p99_ms"] for r in runs], marker="x", ls="--", label=f"p99 ({store})")
    left.axhline(ref["workflows_per_s"], color="grey", ls=":", label="reference workflows/s")
    right.axhline(ref["start_to_activity_p50_ms"], color="grey", ls=":", label="reference p50")
    panels = ((left, "throughput", "deliveries per second"), (right, "latency", "event to receipt, ms"))
    for axis, title, unit in panels:
        axis.set_xscale("log")
        axis.set_xticks([1, 10, 100], ["1", "10", "100"])
        axis.set_xlabel("webhooks per event (fan-out)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(f"chatbot-webhooks on the Temporal dev server, {figures['machine']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of events of each run")
    args = parser.parse_args()
    figures = asyncio.run(main(args.scale))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(figures, indent=2) + "\n")
    plot(figures, RESULTS / "latest.png")
    show(figures)
