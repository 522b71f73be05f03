"""Configuration from the environment (the contract's section 5), read once per process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.schedule import DEFAULT_SCHEDULE, parse_duration, parse_schedule

DATA_DIR = Path(".data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEBHOOKS_", extra="ignore")

    database_url: str = f"sqlite:///{DATA_DIR / 'webhooks.db'}"
    task_queue: str = "webhooks"
    retry_schedule: Annotated[tuple[timedelta, ...], NoDecode] = DEFAULT_SCHEDULE
    request_timeout: Annotated[timedelta, NoDecode] = timedelta(seconds=15)
    allow_private_urls: bool = False
    ledger_retention: Annotated[timedelta, NoDecode] = timedelta(days=30)
    """Ledger rows (with their response excerpts) and stored events older than this are removed daily."""
    encryption_key: str | None = None
    """`ID:BASE64[,ID:BASE64...]`: encrypt every payload Temporal stores (core.codec)."""
    secrets_key: str | None = None
    """`ID:BASE64[,ID:BASE64...]`: the keys the store's secrets are encrypted under (store.crypto); the
    first encrypts, every one decrypts. A key of its own, not WEBHOOKS_ENCRYPTION_KEY's. Parsed when
    the store is opened, where a malformed one is refused in one line."""
    secrets_key_file: Path = DATA_DIR / "secrets.key"
    """Where the key is kept when WEBHOOKS_SECRETS_KEY is not set and the store is SQLite (one
    machine): created with a fresh key, mode 0600, when absent. PostgreSQL needs the variable."""
    metrics_port: int | None = None
    """Where a worker serves Prometheus metrics; none by default."""
    disable_after: Annotated[timedelta, NoDecode] = timedelta(days=5)
    """A webhook whose deliveries have failed this long with no 2xx in between is turned off."""
    ui_url: str = "http://localhost:8233"
    """The Temporal UI that printed links point at."""
    workflow_sandbox: bool = False
    """Run workflows in the SDK's sandbox, which refuses non-deterministic calls as they happen.
    Off in production: it cost a third of the worker's CPU per event and 1.5 x its throughput at one
    webhook per event (docs/benchmark.md). The test suite runs every workflow in it, and replays the
    recorded histories of past releases in it, which is where a non-deterministic call is caught."""

    @field_validator("encryption_key")
    @classmethod
    def _keys(cls, value: str | None) -> str | None:
        if value:
            from core.codec import parse_keys

            parse_keys(value)  # refuse a malformed key at start, naming the problem
        return value or None

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        return parse_schedule(value) if isinstance(value, str) else value

    @field_validator("request_timeout", "disable_after", "ledger_retention", mode="before")
    @classmethod
    def _timeout(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value
