"""The fault suite: real processes (dev server, workers, PostgreSQL) broken on purpose. Each
scenario ends with a reckoning; the session prints them all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from faults.harness import TALLIES, Stack, running_stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as stack:
        yield stack


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLIES:
        terminalreporter.section("faults: what each scenario delivered")
        for tally in TALLIES:
            terminalreporter.write_line(tally.line())
