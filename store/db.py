"""The database engine: SQLite by default, PostgreSQL in production, async for the activities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

STORE_UNAVAILABLE = (OperationalError, InterfaceError)
"""What the drivers raise when the database cannot be reached (down, restarting, connection cut)."""


def sync_url(url: str) -> str:
    """The URL for synchronous tools (Alembic): the same database, a blocking driver."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite").render_as_string(hide_password=False)
    if u.get_backend_name() == "postgresql":
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {u.drivername!r}: use sqlite:/// or postgresql+psycopg://")


def async_url(url: str) -> str:
    u = make_url(sync_url(url))
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return u.render_as_string(hide_password=False)  # psycopg 3 drives both


def ensure_sqlite_folder(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; busy_timeout queues writers instead of failing them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts; a power cut may lose the last commits, which a local store
    # can afford (Temporal retries the attempt); PostgreSQL is the production store.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """The engine every process opens the store with (`Store.from_url`). First, the store's secrets
    are checked against the configured keys, and the keyring installed (store.crypto): a process
    that could not read them stops here, in one line, before it reads or sends anything."""
    from store.crypto import check_secrets

    ensure_sqlite_folder(url)
    check_secrets(url)
    target = async_url(url)
    if make_url(target).get_backend_name() == "sqlite":
        # One connection: SQLite takes one writer at a time anyway, and queueing in the pool is
        # cheaper and fairer than writers sleeping in SQLite's busy handler.
        engine = create_async_engine(target, pool_size=1, max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(target, pool_size=10, max_overflow=20, pool_pre_ping=True)
