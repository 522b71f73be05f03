"""The fault suite: real processes (dev server, workers, PostgreSQL) broken on purpose. Each
scenario ends with a reckoning; the session prints them all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from devstack.processes import PostgresServer, postgres_binaries
from faults.harness import TALLIES, Stack, running_stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as stack:
        yield stack


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of the test's own, in a folder its `postgres` user can reach."""
    bin_dir = postgres_binaries()
    if bin_dir is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the store-outage scenarios, but no PostgreSQL binaries are installed")
        pytest.skip("no PostgreSQL binaries (initdb) installed: the store-outage scenarios are skipped")
    folder = Path(tempfile.mkdtemp(prefix="webhooks-faults-pg-"))
    try:
        server = PostgresServer(folder, bin_dir)
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLIES:
        terminalreporter.section("faults: what each scenario delivered")
        for tally in TALLIES:
            terminalreporter.write_line(tally.line())
