"""Shared fixtures: one real Temporal dev server per session, a real store per test (SQLite, and
PostgreSQL when it answers), a real HTTP receiver, and a worker on a fresh task queue."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.async_api import Browser, async_playwright
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.config import Settings
from devstack.receiver import Receiver
from devstack.stack import ephemeral_environment
from services.access import create_key
from store.migrate import upgrade
from store.queries import Store
from worker import build_worker

# The store's secrets are encrypted under this fixed key in every test, and in every process a test
# starts (they inherit the environment); opening a store installs it (store.keys).
os.environ["WEBHOOKS_SECRETS_KEY"] = "test:" + "dGVzdC1zZWNyZXRzLWtleS1ub3QtZm9yLXByb2R1Y3Q="

PG_ADMIN_URL = os.environ.get("WEBHOOKS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SHORT_SCHEDULE = (timedelta(milliseconds=200), timedelta(milliseconds=200))


def postgres_available() -> bool:
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


PG_UP = postgres_available()
if not PG_UP and os.environ.get("CI"):
    raise RuntimeError(f"CI must test the store on PostgreSQL, but {PG_ADMIN_URL} does not answer")


CHROMIUM = Path(os.environ.get("WEBHOOKS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_THERE = CHROMIUM.exists()
if not CHROMIUM_THERE and os.environ.get("CI"):
    raise RuntimeError(f"CI must run the console's browser tests, but there is no Chromium at {CHROMIUM}")


def pytest_report_header() -> list[str]:
    if PG_UP:
        stores = f"store backends: sqlite, postgresql ({PG_ADMIN_URL})"
    else:
        stores = f"store backends: sqlite only; PostgreSQL at {PG_ADMIN_URL} does not answer, its tests are skipped"
    if CHROMIUM_THERE:
        return [stores, f"browser: {CHROMIUM}"]
    return [stores, f"browser: none at {CHROMIUM}; the console's browser tests are skipped (apt install chromium)"]


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await ephemeral_environment() as env:
        yield env


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, driven by Playwright (no browser of Playwright's own is downloaded)."""
    if not CHROMIUM_THERE:
        pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        await browser.close()


@pytest.fixture
def client(env: WorkflowEnvironment) -> Client:
    return env.client


STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@contextlib.contextmanager
def empty_database(kind: str, tmp_path: Path, template: str | None = None) -> Iterator[str]:
    """A database of its own for one test: a SQLite file, or a fresh PostgreSQL database (a copy of
    the database `template`, when given)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'webhooks.db'}"
        return
    if not PG_UP:
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} does not answer")
    name = f"webhooks_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Each kind of store migrated once per test process, made as a test's own database is: the
    test's is a copy of it (a SQLite file copied, a PostgreSQL database made from it as a template),
    which costs a small part of running the migrations again (0.3 s of CPU per SQLite test)."""
    made: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for kind in ("sqlite", "postgresql") if PG_UP else ("sqlite",):
            url = stack.enter_context(empty_database(kind, tmp_path_factory.mktemp("migrated")))
            upgrade(url)
            made[kind] = url
        yield made


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, migrated: dict[str, str]) -> Iterator[str]:
    template = migrated.get(request.param)
    if request.param == "sqlite" and template is not None:
        shutil.copyfile(template.removeprefix("sqlite:///"), tmp_path / "webhooks.db")
    in_postgres = template.rsplit("/", 1)[1] if request.param == "postgresql" and template else None
    with empty_database(request.param, tmp_path, template=in_postgres) as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = Store.from_url(database_url)
    yield store
    await store.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        task_queue=f"webhooks-test-{uuid.uuid4().hex[:8]}",
        retry_schedule=SHORT_SCHEDULE,
        request_timeout=timedelta(seconds=5),
        allow_private_urls=True,
        # Production runs workflows outside the sandbox; the tests run them in it, so that a
        # non-deterministic call fails here rather than a replay in production.
        workflow_sandbox=True,
    )


@pytest.fixture
async def acme_http(client: Client, settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API (the ASGI app over httpx), signed in with a key of workspace ws_acme."""
    app = create_app(settings, store=store, temporal=client)
    key = (await create_key(store, "ws_acme", "acme")).key
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {key}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=headers) as http,
    ):
        yield http


@pytest.fixture
async def worker(client: Client, settings: Settings, store: Store) -> AsyncIterator[Worker]:
    async with build_worker(client, settings, store) as worker, worker:
        yield worker
