"""The database engine: SQLite by default, PostgreSQL in production, async for the activities; a
blocking one for a one-off job on the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

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
    are checked against the configured keys, and the keyring installed (store.keys): a process
    that could not read them stops here, in one line, before it reads or sends anything."""
    from store.keys import check_secrets

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


@contextmanager
def sync_engine(database_url: str, *, immediate: bool = True) -> Iterator[Engine]:
    """A blocking engine on the store for one job (the check, a re-encryption), then closed.

    On SQLite each transaction takes the write lock as it begins (`immediate`): one that read and
    then wrote would fail at once, busy timeout or not, had another process written in between."""
    url = sync_url(database_url)
    sqlite_store = make_url(url).get_backend_name() == "sqlite"
    engine = create_sync_engine(
        url, poolclass=NullPool, connect_args={"timeout": 30} if sqlite_store else {"connect_timeout": 10}
    )
    if sqlite_store and immediate:

        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # the driver's own BEGIN off: ours below

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        yield engine
    finally:
        engine.dispose()
