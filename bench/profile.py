"""Where the pipeline's CPU goes: one burst at a given fan-out, with the CPU time of the dev server,
the worker and the driver (from /proc) per delivery, and py-spy sampling the worker's Python
threads while they hold the GIL, summed by what the samples were doing.

    python -m bench.profile [--fan-out 100] [--events 20]

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

from bench.pipeline import RESULTS, Rig, pipeline
from devstack.processes import WorkerProcess, venv_binary
from devstack.receiver import Receiver
from devstack.stack import ephemeral_environment

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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dev_server_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and b"start-dev" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def categorize(samples: Path) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for line in samples.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        name = next((name for name, keys in CATEGORIES if any(k in stack for k in keys)), OTHER)
        counts[name] += int(n)
    return counts


async def main(fan_out: int, events: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    samples = RESULTS / f"profile-fanout-{fan_out}.txt"
    cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def watch(worker: WorkerProcess) -> Iterator[None]:
        servers = dev_server_pids()

        def readings() -> dict[str, float]:
            return {
                "server": sum(map(cpu_seconds, servers)),
                "worker": cpu_seconds(worker.pid),
                "driver": time.process_time(),
                "wall": time.monotonic(),
            }

        spy = [venv_binary("py-spy"), "record", "--pid", str(worker.pid), "--gil", "--nonblocking", "--rate", "200"]
        with subprocess.Popen([*spy, "--format", "raw", "--output", str(samples)], stdout=subprocess.DEVNULL) as py_spy:
            before = readings()
            yield
            cpu.update({name: value - before[name] for name, value in readings().items()})
            py_spy.send_signal(signal.SIGINT)  # py-spy writes its samples on SIGINT

    async with await ephemeral_environment() as env:
        with tempfile.TemporaryDirectory() as tmp, Receiver() as receiver:
            rig = Rig(env.client, Path(tmp))
            await pipeline(rig, f"sqlite:///{Path(tmp) / 'warm.db'}", 1, 30, None, receiver)
            burst = await pipeline(rig, f"sqlite:///{Path(tmp) / 'run.db'}", fan_out, events, None, receiver, watch)

    deliveries = fan_out * events
    print(f"\nfan-out {fan_out}, {events} events: {burst['per_s']:.1f} deliveries/s, {cpu['wall']:.1f} s")
    print(f"{'CPU':<10}{'seconds':>9}{'ms per delivery':>17}{'share of 2 cores':>18}")
    for name in ("server", "worker", "driver"):
        share = cpu[name] / (cpu["wall"] * (os.cpu_count() or 1))
        print(f"{name:<10}{cpu[name]:>9.1f}{cpu[name] * 1000 / deliveries:>17.1f}{share:>18.0%}")
    counts = categorize(samples)
    total = sum(counts.values())
    print(f"\nthe worker's Python, {total} samples holding the GIL ({samples}):")
    for name, n in counts.most_common():
        print(f"{n / total:>6.1%}  {name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fan-out", type=int, default=100)
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.fan_out, args.events))
