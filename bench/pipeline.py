"""`make bench`, as issue 13 specifies it: side by side in one run, on a Temporal dev server
persisting to a file, with every worker a process of its own and the receiver (`bench.sink`) one
of its own too, every rate and latency counted where the requests arrive:

- the sink's ceiling: httpx POSTs of a delivery's body straight to it, and the sink's CPU per
  request (so it is seen not to be what limits the runs);
- the reference (`bench.reference`): one workflow running one activity that POSTs the same body to
  the same sink; deliveries per second for a burst, start-to-receipt latency at half that rate;
- the pipeline at fan-out 1, 10 and 100 (`webhooks worker`): deliveries per second for a burst,
  event-to-receipt latency at half that rate, the worker's peak memory; on SQLite, and on
  PostgreSQL when one answers (WEBHOOKS_TEST_PG, as the tests use);
- each figure as a ratio to the reference's, beside the issue's target.

A burst's rate is the deliveries that arrived over the time from its first start to the last
arrival; a latency is from just before a workflow's start (the event's intake for the pipeline) to
its request's arrival. Every delivery must arrive exactly once (by webhook-id).

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
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from temporalio.client import WorkflowHandle

from bench.reference import ReferencePost, ReferenceWorkflow
from bench.rig import Rig, cpu_seconds, running_rig
from bench.sink import Arrival
from core.config import Settings
from devstack.processes import MemorySampler, WorkerProcess
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
RAW_POSTS = 2000
THROUGHPUT_TARGETS = {1: 1.2, 10: 6.0, 100: 12.0}
"""Issue 13: the pipeline's deliveries per second, at least this many times the reference's."""
P50_TARGETS = {1: 1.0}
"""Issue 13: the pipeline's event-to-receipt p50, at most this many times the reference's."""
WORKER_PROCESSES = os.cpu_count() or 1
"""The second set of runs: as many worker processes as cores, for the pipeline and the reference."""
PG_ADMIN_URL = os.environ.get("WEBHOOKS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

T = TypeVar("T")
Starter = Callable[[str], Awaitable[WorkflowHandle[Any, Any]]]
"""Starts the workflow of one event id: the pipeline's event, or the reference's POST."""
Watch = Callable[[WorkerProcess], contextlib.AbstractContextManager[object]]
"""Entered around a run's events once its worker polls (`bench.profile` reads CPU times in it)."""


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def drive(start: Callable[[int], Awaitable[T]], count: int, rate: float | None) -> list[T]:
    """Call start(0..count-1), as a burst (a bounded number under way at once) or paced at `rate`
    per second, and return what they returned."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    t0 = time.monotonic()

    async def one(i: int) -> T:
        if rate:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        async with gate:
            return await start(i)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def exactly_once(arrivals: Sequence[Arrival], expected: int) -> None:
    copies = Counter(a.webhook_id for a in arrivals)
    if len(arrivals) != expected or len(copies) != expected or None in copies:
        raise AssertionError(
            f"every delivery should arrive exactly once: {expected} expected, {len(arrivals)} arrived, "
            f"{len(copies)} distinct webhook-ids"
        )


def per_second(arrivals: Sequence[Arrival], began: float) -> float:
    """Requests over the time from the first start (time.time()) to the last arrival."""
    return len(arrivals) / (max(a.at for a in arrivals) - began)


def latency(arrivals: Sequence[Arrival], started: Mapping[str, float]) -> dict[str, float]:
    """p50 and p99 of each request's arrival less its event's start, in ms."""
    ms = [(a.at - started[a.event_id]) * 1000 for a in arrivals if a.event_id is not None]
    return {"p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99)}


async def raw_http(rig: Rig, count: int) -> dict[str, float]:
    """The sink's ceiling: POSTs of a delivery's body straight to it (the sender here, one Python
    process, gives out first), and the sink's CPU per request, whose inverse is its own ceiling."""
    body = json.dumps(delivery_body(sample_event("tag.applied"), "wh_raw", "raw")).encode()
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    mark = await rig.sink.count()
    async with httpx.AsyncClient(limits=limits, trust_env=False) as http:

        async def post(i: int) -> None:
            headers = {"webhook-id": f"raw_{i}"}
            (await http.post(rig.sink.url("/raw"), content=body, headers=headers)).raise_for_status()

        cpu_before, began = cpu_seconds(rig.sink.pid), time.time()
        await drive(post, count, None)
        cpu = cpu_seconds(rig.sink.pid) - cpu_before
    arrivals = await rig.sink.since(mark)
    exactly_once(arrivals, count)
    return {"posts_per_s": per_second(arrivals, began), "sink_cpu_ms_per_request": cpu * 1000 / count}


async def measure(
    rig: Rig,
    workers: Sequence[WorkerProcess],
    start: Starter,
    events: int,
    fan_out: int,
    rate: float | None,
    watch: Watch | None,
) -> dict[str, float]:
    """Start the workers; once they poll, start `events` workflows (event ids evt_0...) and wait
    for each to finish; stop them. Counted at the sink: the rate, the latency, each delivery once.
    Memory and `watch` are the first worker's."""
    started: dict[str, float] = {}

    async def one(i: int) -> WorkflowHandle[Any, Any]:
        event_id = f"evt_{i}"
        started[event_id] = time.time()
        return await start(event_id)

    for worker in workers:
        worker.start()
    try:
        await asyncio.gather(*(worker.ready() for worker in workers))
        mark = await rig.sink.count()
        with MemorySampler(workers[0]) as memory, (watch or (lambda _: contextlib.nullcontext()))(workers[0]):
            began = time.time()
            handles = await drive(one, events, rate)
            await asyncio.gather(*(h.result() for h in handles))
    finally:
        for worker in workers:
            worker.stop()
    arrivals = await rig.sink.since(mark)
    exactly_once(arrivals, events * fan_out)
    return {"per_s": per_second(arrivals, began), "peak_rss_mib": memory.peak} | latency(arrivals, started)


async def reference(
    rig: Rig, events: int, rate: float | None, watch: Watch | None = None, processes: int = 1
) -> dict[str, float]:
    """The reference's workflows, on a task queue and worker processes of their own."""
    queue = f"bench-ref-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "-m", "bench.reference", queue]
    workers = [rig.worker(f"{queue}-{n}", Settings(task_queue=queue), command) for n in range(processes)]

    async def start(event_id: str) -> WorkflowHandle[Any, Any]:
        event = sample_event("tag.applied", event_id=event_id, workspace_id=f"ws_{queue}")
        post = ReferencePost(
            url=rig.sink.url(f"/{queue}"),
            body=delivery_body(event, "wh_reference", "reference"),
            webhook_id=f"msg_{queue}_{event_id}",
        )
        return await rig.client.start_workflow(ReferenceWorkflow.run, post, id=f"{queue}-{event_id}", task_queue=queue)

    return await measure(rig, workers, start, events, 1, rate, watch)


async def pipeline(
    rig: Rig,
    database_url: str,
    fan_out: int,
    events: int,
    rate: float | None,
    watch: Watch | None = None,
    processes: int = 1,
) -> dict[str, float]:
    """The pipeline's events, through the API's intake (`accept_event`), to `fan_out` webhooks
    each, on a workspace, task queue and `webhooks worker` processes of their own."""
    run = f"bench-{fan_out}-{uuid.uuid4().hex[:6]}"
    upgrade(database_url)
    store = Store.from_url(database_url)
    settings = Settings(
        database_url=database_url, task_queue=run, allow_private_urls=True, retry_schedule=(timedelta(seconds=1),)
    )
    for i in range(fan_out):
        create = WebhookCreate(name=f"hook {i}", event_type="tag.applied", url=rig.sink.url(f"/{run}/{i}"))
        await create_webhook(store, f"ws_{run}", create, allow_private=True)

    async def start(event_id: str) -> WorkflowHandle[Any, Any]:
        event = parse_event(sample_event("tag.applied", event_id=event_id, workspace_id=f"ws_{run}"))
        return await accept_event(store, rig.client, run, event)

    try:
        workers = [rig.worker(f"{run}-{n}", settings) for n in range(processes)]
        return await measure(rig, workers, start, events, fan_out, rate, watch)
    finally:
        await store.close()


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


def paced_rate(burst: dict[str, float], fan_out: int) -> float:
    """Events per second for the latency run: half the burst's, so that queueing does not hide the latency."""
    return burst["per_s"] / fan_out / 2


def compared(
    store: str, fan_out: int, burst: dict[str, float], paced: dict[str, float], ref: dict[str, Any]
) -> dict[str, Any]:
    """One row of the results: the pipeline's figures, their ratios to the reference's (run with
    as many worker processes) and the issue's targets for them (None where it sets none)."""
    return {
        "store": store,
        "worker_processes": ref["worker_processes"],
        "fan_out": fan_out,
        "deliveries_per_s": burst["per_s"],
        "vs_reference_deliveries_per_s": burst["per_s"] / ref["deliveries_per_s"],
        "target_vs_reference_deliveries_per_s": THROUGHPUT_TARGETS.get(fan_out),
        "paced_at_events_per_s": paced_rate(burst, fan_out),
        "event_to_receipt_p50_ms": paced["p50_ms"],
        "event_to_receipt_p99_ms": paced["p99_ms"],
        "p50_vs_reference_p50": paced["p50_ms"] / ref["start_to_receipt_p50_ms"],
        "target_p50_vs_reference_p50": P50_TARGETS.get(fan_out),
        "p99_vs_reference_p99": paced["p99_ms"] / ref["start_to_receipt_p99_ms"],
        "worker_peak_rss_mib": max(burst["peak_rss_mib"], paced["peak_rss_mib"]),
    }


async def main(scale: float) -> dict[str, Any]:
    runs = [(fan_out, max(2, round(burst * scale)), max(2, round(paced * scale))) for fan_out, burst, paced in RUNS]
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as postgresql:
        async with running_rig(Path(tmp)) as rig:

            def sqlite() -> str:
                return f"sqlite:///{Path(tmp) / f'{uuid.uuid4().hex[:6]}.db'}"

            stores: dict[str, Callable[[], str]] = {"sqlite": sqlite}
            if postgresql:
                stores["postgresql"] = lambda: postgresql
            await pipeline(rig, sqlite(), 1, 30, None)  # warm-up: the server's caches and file
            raw = await raw_http(rig, max(200, round(RAW_POSTS * scale)))
            # The reference is measured before and after the pipeline's runs it is compared with,
            # and the two averaged: the server's file grows during the run and drifts its rates.
            sets: list[tuple[int, Sequence[str]]] = [(1, list(stores))]
            if postgresql:
                # One worker process per core, for the reference too: one Python process is one
                # core (the GIL), which is what limits the pipeline at fan-out 10 and 100.
                sets.append((WORKER_PROCESSES, ["postgresql"]))
            refs, rows = {}, []
            for processes, names in sets:
                before = await reference_figures(rig, runs[0], processes)
                measured = [
                    (name, run[0], await pipeline_runs(rig, stores[name](), run, processes))
                    for name in names
                    for run in runs
                ]
                refs[processes] = averaged(before, await reference_figures(rig, runs[0], processes))
                rows += [compared(name, fan_out, *figures, refs[processes]) for name, fan_out, figures in measured]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "runs_at_scale": scale,
        "raw_http_posts_per_s": raw["posts_per_s"],
        "sink_cpu_ms_per_request": raw["sink_cpu_ms_per_request"],
        "reference": refs[1],
        "references": list(refs.values()),
        "runs": rows,
    }


async def reference_figures(rig: Rig, run: tuple[int, int, int], processes: int) -> dict[str, Any]:
    """The reference's burst rate and paced latency, with this many worker processes."""
    _, burst_events, paced_events = run
    burst = await reference(rig, burst_events, None, processes=processes)
    paced = await reference(rig, paced_events, paced_rate(burst, 1), processes=processes)
    return {
        "worker_processes": processes,
        "deliveries_per_s": burst["per_s"],
        "start_to_receipt_p50_ms": paced["p50_ms"],
        "start_to_receipt_p99_ms": paced["p99_ms"],
        "worker_peak_rss_mib": max(burst["peak_rss_mib"], paced["peak_rss_mib"]),
    }


async def pipeline_runs(
    rig: Rig, database_url: str, run: tuple[int, int, int], processes: int
) -> tuple[dict[str, float], dict[str, float]]:
    """The pipeline's burst, then its run paced at half the burst's rate, at one fan-out."""
    fan_out, burst_events, paced_events = run
    burst = await pipeline(rig, database_url, fan_out, burst_events, None, processes=processes)
    paced_at = paced_rate(burst, fan_out)
    return burst, await pipeline(rig, database_url, fan_out, paced_events, paced_at, processes=processes)


def averaged(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The reference's figures as the mean of its runs before and after, which are kept beside."""
    keys = ("deliveries_per_s", "start_to_receipt_p50_ms", "start_to_receipt_p99_ms")
    return (
        before
        | {key: (before[key] + after[key]) / 2 for key in keys}
        | {"worker_peak_rss_mib": max(before["worker_peak_rss_mib"], after["worker_peak_rss_mib"])}
        | {"before": {key: before[key] for key in keys}, "after": {key: after[key] for key in keys}}
    )


def against(ratio: float, target: float | None, at_least: bool) -> str:
    """A ratio with the issue's target beside it, and whether it is met."""
    if target is None:
        return f"{ratio:>7.2f}{'':>11}"
    met = ratio >= target if at_least else ratio <= target
    return f"{ratio:>7.2f}  {'>=' if at_least else '<='}{target:<4g} {'ok' if met else 'no'}"


def show(figures: dict[str, Any]) -> None:
    sink_ms = figures["sink_cpu_ms_per_request"]
    print(
        f"\n{figures['machine']}; the sink took {figures['raw_http_posts_per_s']:.0f} POSTs/s from httpx "
        f"at {sink_ms:.2f} ms CPU each (a ceiling of {1000 / max(sink_ms, 1e-3):,.0f}/s on one core)"
    )
    for ref in figures["references"]:
        print(
            f"reference, {ref['worker_processes']} worker process(es): {ref['deliveries_per_s']:.1f} deliveries/s "
            f"({ref['before']['deliveries_per_s']:.1f} before, {ref['after']['deliveries_per_s']:.1f} after), "
            f"start-to-receipt p50 {ref['start_to_receipt_p50_ms']:.1f} ms, p99 {ref['start_to_receipt_p99_ms']:.1f} ms"
        )
    columns = [("store", -11), ("procs", 6), ("fan-out", 8), ("dlv/s", 9), ("x ref", 7), ("  target", -11)]
    columns += [("p50 ms", 9), ("x ref", 7), ("  target", -11), ("p99 ms", 9), ("x ref", 7), ("RSS MiB", 9)]
    print("".join(name.ljust(-width) if width < 0 else name.rjust(width) for name, width in columns))
    for r in figures["runs"]:
        print(
            f"{r['store']:<11}{r['worker_processes']:>6}{r['fan_out']:>8}{r['deliveries_per_s']:>9.1f}"
            f"{against(r['vs_reference_deliveries_per_s'], r['target_vs_reference_deliveries_per_s'], True)}"
            f"{r['event_to_receipt_p50_ms']:>9.1f}"
            f"{against(r['p50_vs_reference_p50'], r['target_p50_vs_reference_p50'], False)}"
            f"{r['event_to_receipt_p99_ms']:>9.1f}{r['p99_vs_reference_p99']:>7.2f}{r['worker_peak_rss_mib']:>9.0f}"
        )


def plot(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = figures["reference"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for n, (store, processes) in enumerate(sorted({(r["store"], r["worker_processes"]) for r in figures["runs"]})):
        runs = [r for r in figures["runs"] if (r["store"], r["worker_processes"]) == (store, processes)]
        store = f"{store}, {processes} worker{'s' if processes > 1 else ''}"
        fan_outs = [r["fan_out"] for r in runs]
        line = {"color": f"C{n}", "marker": "o"}
        left.plot(fan_outs, [r["deliveries_per_s"] for r in runs], **line, label=f"pipeline ({store})")
        right.plot(fan_outs, [r["event_to_receipt_p50_ms"] for r in runs], **line, label=f"p50 ({store})")
        right.plot(fan_outs, [r["event_to_receipt_p99_ms"] for r in runs], **line, ls="--", label=f"p99 ({store})")
    left.axhline(ref["deliveries_per_s"], color="grey", ls=":", label="reference")
    targets = sorted(THROUGHPUT_TARGETS.items())
    left.plot(
        [f for f, _ in targets], [ref["deliveries_per_s"] * t for _, t in targets], "k_", ms=14, label="issue 13 target"
    )
    right.axhline(ref["start_to_receipt_p50_ms"], color="grey", ls=":", label="reference p50 (fan-out 1 target)")
    panels = ((left, "throughput", "deliveries per second, at the sink"), (right, "latency", "event to receipt, ms"))
    for axis, title, unit in panels:
        axis.set_xscale("log")
        axis.set_xticks([1, 10, 100], ["1", "10", "100"])
        axis.set_xlabel("webhooks per event (fan-out)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(f"chatbot-webhooks on the Temporal dev server (SQLite file), {figures['machine']}", fontsize=10)
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
