"""The `webhooks` command: the local stack, the long-running processes, the store, and events."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.deliveries import deliveries_app
from cli.folders import folder_app
from cli.hooks import hook_app
from cli.keys import key_app
from cli.output import JsonOption, fail
from cli.redeliver import redeliver
from cli.secrets import secrets_app
from cli.started import (
    Followed,
    connected,
    describe_start,
    outcome_of,
    print_start,
    report_start,
    stopped_waiting,
    wait_with_progress,
)
from cli.timers import timers_app
from cli.workspaces import workspace_app
from core.config import Settings
from core.temporal import ensure_retention_schedule, register_search_attributes
from models.events import EVENT_TYPES, InvalidEvent, parse_event
from models.samples import sample_event

app = typer.Typer(
    help="Webhook delivery for the chatbot platform, on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(hook_app, name="hook")
app.add_typer(folder_app, name="folder")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(key_app, name="key")
app.add_typer(workspace_app, name="workspace")
app.add_typer(timers_app, name="timers")
app.add_typer(secrets_app, name="secrets")
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def dev() -> None:
    """The whole local stack: Temporal dev server and UI (under .data/), worker, demo receiver."""
    from devstack.stack import run_dev

    asyncio.run(run_dev())


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve Prometheus metrics (the SDK's and the pipeline's) at :PORT/metrics.", min=1, max=65535
        ),
    ] = None,
) -> None:
    """Run a worker on the configured task queue until SIGINT or SIGTERM."""
    from worker import event_loop_runner, run_worker

    settings = Settings()
    if metrics_port is not None:
        settings = settings.model_copy(update={"metrics_port": metrics_port})
    event_loop_runner()(run_worker(settings))


@app.command()
def api(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) until SIGINT or SIGTERM."""
    import uvicorn

    from api.app import create_app
    from core.logs import configure_logging

    configure_logging()
    uvicorn.run(create_app(Settings()), host=host, port=port, log_config=None)


@app.command("codec-server")
def codec_server(
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8081,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    origin: Annotated[
        list[str] | None, typer.Option(help="A browser origin allowed to call it (default: WEBHOOKS_UI_URL).")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="WEBHOOKS_CODEC_TOKEN", help="Require `Authorization: Bearer TOKEN`.")
    ] = None,
    new_key: Annotated[bool, typer.Option("--new-key", help="Print a fresh key for WEBHOOKS_ENCRYPTION_KEY.")] = False,
) -> None:
    """Decode encrypted payloads for the Temporal UI (set it as the UI's codec endpoint)."""
    from core.codec import EncryptionCodec, parse_keys
    from core.codec import new_key as make_key

    if new_key:
        typer.echo(make_key())
        return
    import uvicorn

    from api.codec import create_codec_app
    from core.logs import configure_logging

    settings = Settings()
    if not settings.encryption_key:
        fail("WEBHOOKS_ENCRYPTION_KEY is not set: there is nothing to decode")
    codec = EncryptionCodec(parse_keys(settings.encryption_key))
    configure_logging()
    uvicorn.run(create_codec_app(codec, origin or [settings.ui_url], token), host=host, port=port, log_config=None)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to WEBHOOKS_DATABASE_URL."""
    from store.migrate import upgrade

    url = Settings().database_url
    upgrade(url)
    typer.echo(f"schema up to date: {url.split('@')[-1]}")


@app.command("setup-temporal")
def setup_temporal() -> None:
    """Register the search attributes and the daily ledger-retention schedule on the configured
    namespace (idempotent)."""

    async def main() -> tuple[list[str], bool]:
        client = await connected()
        return await register_search_attributes(client), await ensure_retention_schedule(client, Settings().task_queue)

    added, created = asyncio.run(main())
    typer.echo(f"registered: {', '.join(added)}" if added else "search attributes already registered")
    typer.echo("ledger retention schedule " + ("created" if created else "updated"))


@app.command()
def example(
    event_type: Annotated[str, typer.Argument(help=f"One of: {', '.join(EVENT_TYPES)}.")],
    event_id: Annotated[str, typer.Option(help="Defaults to a fresh id.")] = "",
    workspace: Annotated[str, typer.Option("--workspace", "-w")] = "ws_acme",
) -> None:
    """Print a well-formed example event of a trigger type, ready for `webhooks send -`."""
    import json
    import uuid

    if event_type not in EVENT_TYPES:
        fail(f"unknown event type {event_type!r}; expected one of {', '.join(EVENT_TYPES)}")
    event = sample_event(event_type, event_id=event_id or f"evt_{uuid.uuid4().hex[:12]}", workspace_id=workspace)
    typer.echo(json.dumps(event, indent=2))


@app.command()
def send(
    file: Annotated[str, typer.Argument(help="A JSON file with one event, or - for standard input.")],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for the deliveries, printing each attempt's outcome as it comes, then the result. "
            "Ctrl-C stops the waiting, not the delivery.",
        ),
    ] = False,
    json_: bool = JsonOption,
) -> None:
    """Publish a trigger event: starts its workflow (once per event id) and prints its id and UI link."""
    from starter import EventConflict, publish
    from store.queries import Store

    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as err:  # missing, a folder, unreadable: the file name is the mistake
        fail(f"cannot read {file}: {err.strerror or err}")
    try:
        event = parse_event(raw)
    except InvalidEvent as err:
        fail(str(err))
    settings = Settings()
    followed = Followed(event.workspace_id, event.contact.id, event.type)
    progress = wait and not json_  # with --json: one document, at the end

    async def main() -> dict[str, Any]:
        client = await connected()
        handle = await publish(client, event, task_queue=settings.task_queue)
        followed.shown = shown = await describe_start(client, handle, settings.ui_url)
        if not wait:
            return shown
        if not progress:
            return shown | await outcome_of(handle)
        print_start(shown)  # at once: the result may be a day away
        store = Store.from_url(settings.database_url)
        try:
            return shown | await wait_with_progress(handle, store, event.workspace_id, event.event_id)
        finally:
            await store.close()

    try:
        started = asyncio.run(main())
    except EventConflict as err:
        fail(str(err))
    except KeyboardInterrupt:
        stopped_waiting(followed)
    report_start(started, json_, announced=progress)


app.command()(redeliver)


def main() -> None:
    """The console script. It leaves with os._exit once the command is done and its output flushed:
    the Temporal client's native threads can otherwise crash interpreter teardown
    (temporalio/sdk-python#300), turning a successful command into SIGABRT."""
    from store.crypto import SecretsError

    try:
        app()
        code = 0
    except SystemExit as exit:
        if isinstance(exit.code, str):
            sys.stderr.write(exit.code + "\n")
        code = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
    except SecretsError as err:  # opening the store found keys that do not fit it: one line, no traceback
        sys.stderr.write(f"error: {err}\n")
        code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
