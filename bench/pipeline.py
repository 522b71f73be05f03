"""`make bench`: the pipeline against a minimal one-activity workflow, on the same local dev server
and the same local receiver, in one run. Prints the figures and their ratios; writes them to
bench/results/latest.json.

    python -m bench.pipeline [--events 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from core.config import Settings
from devstack.receiver import Receiver
from devstack.stack import ephemeral_environment
from models.samples import sample_event
from models.tables import WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.migrate import upgrade
from store.queries import Store
from worker import build_worker

RESULTS = Path(__file__).parent / "results"
IN_FLIGHT_STARTS = 50
"""Starts under way at once: enough to keep the server busy, as a platform's burst would."""


@activity.defn
async def touch(workflow_id: str) -> None:
    """The reference's activity: note when it ran; no I/O."""
    REFERENCE_SEEN[workflow_id] = time.monotonic()


REFERENCE_SEEN: dict[str, float] = {}


@workflow.defn(sandboxed=False)
class ReferenceWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            touch, workflow.info().workflow_id, start_to_close_timeout=timedelta(seconds=30)
        )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def drive(start: Callable[[int], Awaitable[Any]], events: int, rate: float | None) -> float:
    """Start `events` workflows, as a burst (a bounded number under way at once) or paced at
    `rate` per second, wait for all of them, and return the seconds it took."""
    gate = asyncio.Semaphore(IN_FLIGHT_STARTS)

    async def one(i: int) -> Any:
        if rate:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        async with gate:
            return await start(i)

    t0 = time.monotonic()
    handles = await asyncio.gather(*(one(i) for i in range(events)))
    await asyncio.gather(*(h.result() for h in handles))
    return time.monotonic() - t0


def latency(latencies_ms: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(latencies_ms, 50), "p99_ms": percentile(latencies_ms, 99)}


async def reference(client: Client, events: int, rate: float | None) -> dict[str, float]:
    queue = f"bench-ref-{uuid.uuid4().hex[:6]}"
    REFERENCE_SEEN.clear()
    started: dict[str, float] = {}

    async def start(i: int) -> Any:
        wid = f"ref-{queue}-{i}"
        started[wid] = time.monotonic()
        return await client.start_workflow(ReferenceWorkflow.run, id=wid, task_queue=queue)

    async with Worker(client, task_queue=queue, workflows=[ReferenceWorkflow], activities=[touch]):
        elapsed = await drive(start, events, rate)
    return {"per_s": events / elapsed} | latency([(REFERENCE_SEEN[w] - started[w]) * 1000 for w in started])


async def pipeline(client: Client, events: int, fan_out: int, workdir: Path, rate: float | None) -> dict[str, float]:
    run = f"bench-{fan_out}-{uuid.uuid4().hex[:6]}"
    url = f"sqlite:///{workdir / f'{run}.db'}"
    upgrade(url)
    store = Store.from_url(url)
    settings = Settings(
        database_url=url, task_queue=run, allow_private_urls=True, retry_schedule=(timedelta(seconds=1),)
    )
    with Receiver() as receiver:
        for i in range(fan_out):
            create = WebhookCreate(name=f"hook {i}", event_type="tag.applied", url=receiver.url(f"/{i}"))
            await create_webhook(store, "ws_bench", create, allow_private=True)
        started: dict[str, float] = {}

        async def send(i: int) -> Any:
            event = sample_event("tag.applied", event_id=f"evt_{run}_{i}", workspace_id="ws_bench")
            started[event["event_id"]] = time.monotonic()
            return await publish(client, event, task_queue=settings.task_queue)

        async with build_worker(client, settings, store) as worker, worker:
            elapsed = await drive(send, events, rate)
        assert len(receiver.requests) == events * fan_out, "every delivery arrived exactly once"
        latencies = [(r.at - started[r.json()["data"]["event_id"]]) * 1000 for r in receiver.requests]
    await store.close()
    return {"per_s": events * fan_out / elapsed} | latency(latencies)


async def main(events: int, paced_events: int) -> dict[str, Any]:
    async with await ephemeral_environment() as env:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            await pipeline(env.client, 50, 1, work, None)  # warm-up: imports, connections, caches
            ref = await reference(env.client, events, None)
            ref_paced = await reference(env.client, paced_events, ref["per_s"] / 2)
            figures: dict[str, Any] = {
                "reference": {
                    "workflows_per_s": ref["per_s"],
                    "start_to_activity_p50_ms": ref_paced["p50_ms"],
                    "start_to_activity_p99_ms": ref_paced["p99_ms"],
                    "paced_at_per_s": ref["per_s"] / 2,
                }
            }
            for fan_out in (1, 10):
                burst = await pipeline(env.client, events, fan_out, work, None)
                rate = burst["per_s"] / fan_out / 2
                paced = await pipeline(env.client, paced_events, fan_out, work, rate)
                figures[f"fan_out_{fan_out}"] = {
                    "deliveries_per_s": burst["per_s"],
                    "paced_at_events_per_s": rate,
                    "event_to_receipt_p50_ms": paced["p50_ms"],
                    "event_to_receipt_p99_ms": paced["p99_ms"],
                    "deliveries_per_s_vs_reference_workflows_per_s": burst["per_s"] / ref["per_s"],
                    "p50_vs_reference_p50": paced["p50_ms"] / ref_paced["p50_ms"],
                    "p99_vs_reference_p99": paced["p99_ms"] / ref_paced["p99_ms"],
                }
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "events": events,
        "paced_events": paced_events,
        "store": "sqlite",
        **figures,
    }


def show(figures: dict[str, Any]) -> None:
    ref = figures["reference"]
    print(f"\n{figures['machine']}, store {figures['store']}")
    print(
        f"throughput: a burst of {figures['events']} events; latency: {figures['paced_events']} events "
        "paced at half the throughput measured for the same run"
    )
    print(f"{'run':<22}{'per second':>16}{'p50 ms':>10}{'p99 ms':>10}{'x ref/s':>10}{'x ref p50':>11}")
    print(
        f"{'reference workflow':<22}{ref['workflows_per_s']:>12.1f} wf/s"
        f"{ref['start_to_activity_p50_ms']:>10.1f}{ref['start_to_activity_p99_ms']:>10.1f}"
    )
    for name in ("fan_out_1", "fan_out_10"):
        run = figures[name]
        print(
            f"{name.replace('_', ' '):<22}{run['deliveries_per_s']:>10.1f} dlv/s"
            f"{run['event_to_receipt_p50_ms']:>10.1f}{run['event_to_receipt_p99_ms']:>10.1f}"
            f"{run['deliveries_per_s_vs_reference_workflows_per_s']:>10.2f}{run['p50_vs_reference_p50']:>11.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="events in each throughput burst")
    parser.add_argument("--paced-events", type=int, default=150, help="events in each latency run")
    args = parser.parse_args()
    figures = asyncio.run(main(args.events, args.paced_events))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(figures, indent=2) + "\n")
    show(figures)
