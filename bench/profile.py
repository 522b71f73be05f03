"""Where the CPU goes: one burst of the pipeline at a given fan-out and one of the reference, on
`make bench`'s rig (the dev server persisting to a file, the sink and each worker in processes of
their own), with the CPU time of the dev server, the worker, the driver and the sink (from /proc)
per delivery, and py-spy sampling the pipeline worker's Python threads while they hold the GIL,
summed by what the samples were doing. The reference's worker is measured the same way, so the
two workers' cost per delivery can be set side by side (issue 13).

    python -m bench.profile [--fan-out 100] [--events 20] [--reference-events 200]

Prints the split and the categories; writes the raw samples (py-spy's collapsed stacks) to
bench/results/profile-fanout-N.txt, for a flame graph or a closer look.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.pipeline import RESULTS, Watch, pipeline, reference
from bench.rig import Rig, cpu_seconds, running_rig
from devstack.processes import WorkerProcess, venv_binary

CATEGORIES = (
    # (name, any of these in a sample's stack), first match wins
    ("workflow instance creation (the sandbox imports the workflow's module)", ("_Instance.__init__",)),
    (
        "workflow activations (sandbox, payload conversion)",
        ("workflow_sandbox", "_workflow_instance", "_WorkflowWorker"),
    ),
    ("match (the local activity)", ("MatchingActivities",)),
    ("HTTP (httpx, httpcore)", ("httpx", "httpcore")),
    ("store (SQLAlchemy, drivers)", ("sqlalchemy", "greenlet", "aiosqlite", "psycopg", "store/queries")),
    ("SDK activity plumbing and the core bridge", ("_ActivityWorker", "temporalio/bridge", "converter")),
    ("logging", ("logging",)),
)
OTHER = "event loop and the rest"
PROCESSES = ("server", "worker", "driver", "sink")


def categorize(samples: Path) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for line in samples.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        name = next((name for name, keys in CATEGORIES if any(k in stack for k in keys)), OTHER)
        counts[name] += int(n)
    return counts


@contextlib.contextmanager
def py_spy(worker: WorkerProcess, samples: Path) -> Iterator[None]:
    """py-spy recording the worker's Python while it holds the GIL, into `samples`."""
    spy = [venv_binary("py-spy"), "record", "--pid", str(worker.pid), "--gil", "--nonblocking", "--rate", "200"]
    with subprocess.Popen([*spy, "--format", "raw", "--output", str(samples)], stdout=subprocess.DEVNULL) as process:
        try:
            yield
        finally:
            process.send_signal(signal.SIGINT)  # py-spy writes its samples on SIGINT


def watching(rig: Rig, cpu: dict[str, float], samples: Path | None = None) -> Watch:
    """A watch that puts into `cpu` the CPU seconds each process spent during the run (and the wall
    time), with py-spy on the worker when `samples` is given."""

    @contextlib.contextmanager
    def watch(worker: WorkerProcess) -> Iterator[None]:
        def readings() -> dict[str, float]:
            return {
                "server": cpu_seconds(rig.server.pid),
                "worker": cpu_seconds(worker.pid),
                "driver": time.process_time(),
                "sink": cpu_seconds(rig.sink.pid),
                "wall": time.monotonic(),
            }

        with py_spy(worker, samples) if samples else contextlib.nullcontext():
            before = readings()
            yield
            cpu.update({name: value - before[name] for name, value in readings().items()})

    return watch


def show_split(title: str, per_s: float, cpu: dict[str, float], deliveries: int) -> None:
    print(f"\n{title}: {deliveries} deliveries, {per_s:.1f} deliveries/s at the sink, {cpu['wall']:.1f} s")
    print(f"{'CPU':<10}{'seconds':>9}{'ms per delivery':>17}{'share of the cores':>20}")
    for name in PROCESSES:
        share = cpu[name] / (cpu["wall"] * (os.cpu_count() or 1))
        print(f"{name:<10}{cpu[name]:>9.1f}{cpu[name] * 1000 / deliveries:>17.1f}{share:>20.0%}")


def show_categories(samples: Path) -> None:
    counts = categorize(samples)
    total = sum(counts.values())
    print(f"\nthe pipeline worker's Python, {total} samples holding the GIL ({samples}):")
    for name, n in counts.most_common():
        print(f"{n / total:>6.1%}  {name}")


async def main(fan_out: int, events: int, reference_events: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    samples = RESULTS / f"profile-fanout-{fan_out}.txt"
    pipeline_cpu: dict[str, float] = {}
    reference_cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with running_rig(Path(tmp)) as rig:
            await pipeline(rig, f"sqlite:///{Path(tmp) / 'warm.db'}", 1, 30, None)  # warm-up
            database = f"sqlite:///{Path(tmp) / 'run.db'}"
            burst = await pipeline(rig, database, fan_out, events, None, watching(rig, pipeline_cpu, samples))
            ref = await reference(rig, reference_events, None, watching(rig, reference_cpu))
    show_split(f"pipeline, fan-out {fan_out}, {events} events", burst["per_s"], pipeline_cpu, fan_out * events)
    show_split("reference, one-activity workflows", ref["per_s"], reference_cpu, reference_events)
    show_categories(samples)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fan-out", type=int, default=100)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--reference-events", type=int, default=200, help="workflows in the reference's burst")
    args = parser.parse_args()
    asyncio.run(main(args.fan_out, args.events, args.reference_events))
