"""`webhooks hook ...`: the Webhooks page from a terminal, on the same services as the API."""

from __future__ import annotations

import math
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import HookId, Workspace, with_store, workspace_of
from cli.output import JsonOption, emit, fail, table
from cli.started import connected, describe_start, report_start
from cli.stats import hook_stats
from core.config import Settings
from core.errors import ServiceError
from core.templates import BodyFormat
from models.presets import PRESETS, apply_preset
from models.tables import (
    MAX_PACE,
    MIN_RATE,
    OrderOnFailure,
    Webhook,
    WebhookCreate,
    WebhookPublic,
    WebhookUpdate,
    WebhookWithSecret,
)
from services import webhooks as service
from store.queries import Store

AUTH_SECRET_ENV = "WEBHOOKS_AUTH_SECRET"

hook_app = typer.Typer(
    help="Webhooks: create, list, change, turn on or off, test, rotate, delete; their health (stats).",
    no_args_is_help=True,
)
hook_app.command("stats")(hook_stats)

Filters = Annotated[list[str] | None, typer.Option("--filter", help="KEY=VALUE narrowing the trigger, e.g. tag=VIP.")]
Headers = Annotated[list[str] | None, typer.Option("--header", help="NAME=VALUE sent with every delivery.")]
FollowRedirects = Annotated[
    bool | None,
    typer.Option(
        "--follow-redirects/--no-follow-redirects",
        help="Follow up to 5 redirects (a Google Apps Script web app needs it).",
        show_default=False,
    ),
]
ForwardCredentials = Annotated[
    bool | None,
    typer.Option(
        "--forward-credentials/--no-forward-credentials",
        help="Send the signature, headers and auth to another host a redirect leads to.",
        show_default=False,
    ),
]
BodyFormatOption = Annotated[
    BodyFormat | None,
    typer.Option("--body-format", help="standard: the contract's JSON; json or form: rendered from --template."),
]
TemplateFile = Annotated[
    Path | None,
    typer.Option("--template", help="A body template file (JSON with {{ placeholders }}); - reads stdin."),
]
AuthKind = Annotated[
    str | None,
    typer.Option(
        "--auth",
        help=f"basic, bearer or none. The password or token is read from ${AUTH_SECRET_ENV} if set, "
        "else asked for without echo: never on the command line.",
    ),
]
AuthUser = Annotated[str | None, typer.Option("--auth-user", help="The user name, with --auth basic.")]
MaxPerSecond = Annotated[
    float | None,
    typer.Option(
        "--max-per-second",
        help="At most this many requests a second to the webhook, whichever worker sends them "
        "(up to 1000; 0.5 is one every 2 seconds). Deliveries over it wait, using up no attempt.",
        show_default=False,
    ),
]
Burst = Annotated[
    int | None,
    typer.Option(
        "--burst",
        help="With --max-per-second: how many may go at once before the pace applies (default 1: evenly spaced).",
        show_default=False,
    ),
]
MaxInFlight = Annotated[
    int | None,
    typer.Option("--max-in-flight", help="At most this many requests open at once (up to 1000).", show_default=False),
]
Ordered = Annotated[
    bool | None,
    typer.Option(
        "--ordered/--unordered",
        help="Send one contact's events one at a time, in the order they occurred.",
        show_default=False,
    ),
]
OrderedOnFailure = Annotated[
    OrderOnFailure | None,
    typer.Option(
        "--ordered-on-failure",
        help="With --ordered, when a delivery gives up: release the contact's next events, "
        "or hold them until it is redelivered.",
        show_default=False,
    ),
]
NoRateLimit = Annotated[
    bool, typer.Option("--no-rate-limit", help="Remove the rate limit (--max-per-second and --burst).")
]
NoMaxInFlight = Annotated[bool, typer.Option("--no-max-in-flight", help="Remove the cap on requests open at once.")]


def pairs(option: str, items: list[str] | None) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} tag='Order Closed'")
        parsed[key.strip()] = value
    return parsed


def receiver_options(
    follow_redirects: bool | None,
    forward_credentials: bool | None,
    body_format: BodyFormat | None,
    template: Path | None,
    auth: str | None,
    auth_user: str | None,
) -> dict[str, Any]:
    """The options that shape the request for the receiver, as webhook fields (only those given)."""
    values: dict[str, Any] = {}
    if follow_redirects is not None:
        values["follow_redirects"] = follow_redirects
    if forward_credentials is not None:
        values["forward_credentials"] = forward_credentials
    if body_format is not None:
        values["body_format"] = body_format
    if template is not None:
        values["body_template"] = read_text(template, "--template")
    if auth is not None:
        values["auth"] = read_auth(auth, auth_user)
    return values


def pacing_options(
    max_per_second: float | None,
    burst: int | None,
    max_in_flight: int | None,
    ordered: bool | None,
    ordered_on_failure: OrderOnFailure | None,
    *,
    no_rate_limit: bool = False,
    no_max_in_flight: bool = False,
) -> dict[str, Any]:
    """The pacing options given, as webhook fields; the `--no-...` ones as nulls (a removed limit)."""
    if no_rate_limit and (max_per_second is not None or burst is not None):
        fail("--no-rate-limit removes the rate and its burst: give it without --max-per-second and --burst")
    if no_max_in_flight and max_in_flight is not None:
        fail("--no-max-in-flight removes the cap: give it without --max-in-flight")
    if max_per_second is not None and not math.isfinite(max_per_second):
        fail(f"max_per_second: must be a number from {MIN_RATE:g} to {MAX_PACE}")
    given = {
        "max_per_second": max_per_second, "burst": burst, "max_in_flight": max_in_flight,
        "ordered": ordered, "ordered_on_failure": ordered_on_failure,
    }  # fmt: skip
    values: dict[str, Any] = {field: value for field, value in given.items() if value is not None}
    if no_rate_limit:
        values |= {"max_per_second": None, "burst": None}
    if no_max_in_flight:
        values["max_in_flight"] = None
    return values


def read_text(path: Path, option: str) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text()
    except OSError as err:
        fail(f"{option} {path}: {err.strerror or err}")


def read_auth(kind: str, user: str | None) -> dict[str, str] | None:
    """Credentials for the receiver: the secret part from the environment or a hidden prompt."""
    if kind == "none":
        return None
    if kind not in ("basic", "bearer"):
        fail(f"--auth {kind!r}: expected basic, bearer or none")
    if kind == "basic" and not user:
        fail("--auth basic needs --auth-user (the user name; the password is asked for)")
    label = "password" if kind == "basic" else "token"
    secret = os.environ.get(AUTH_SECRET_ENV) or typer.prompt(f"{label} for the receiver", hide_input=True)
    if kind == "basic":
        return {"type": "basic", "username": user or "", "password": secret}
    return {"type": "bearer", "token": secret}


def rate(value: float) -> str:
    """A rate as typed: 20, 0.5."""
    return f"{value:g}"


def pacing_words(hook: Webhook | WebhookPublic) -> str | None:
    """The webhook's rate limit and concurrency cap in words, or None when it has neither."""
    words = []
    if hook.max_per_second is not None:
        burst = f" (bursts of {hook.burst})" if hook.burst and hook.burst > 1 else ""
        words.append(f"at most {rate(hook.max_per_second)} a second{burst}")
    if hook.max_in_flight is not None:
        words.append(f"at most {hook.max_in_flight} at once")
    return ", ".join(words) or None


def pacing_brief(hook: Webhook | WebhookPublic) -> str:
    """The same for a table's cell: `20/s burst 5, 3 at once, ordered (hold)`."""
    parts = []
    if hook.max_per_second is not None:
        parts.append(
            f"{rate(hook.max_per_second)}/s" + (f" burst {hook.burst}" if hook.burst and hook.burst > 1 else "")
        )
    if hook.max_in_flight is not None:
        parts.append(f"{hook.max_in_flight} at once")
    if hook.ordered:
        parts.append("ordered" + (" (hold)" if hook.ordered_on_failure == OrderOnFailure.HOLD else ""))
    return ", ".join(parts)


def show_hook(
    hook: Webhook | WebhookPublic, secret: str | None = None, credentials: str | None = None, waiting: int | None = None
) -> None:
    """`credentials`: the receiver's, in clear, only when asked for (`show --secret`); `waiting`:
    how many of its deliveries are held back now (`show`)."""
    state = "on" if hook.enabled else f"off ({hook.disabled_reason})" if hook.disabled_reason else "off"
    typer.echo(f"{hook.id}  {hook.name}")
    typer.echo(f"  workspace  {hook.workspace_id}" + (f"  folder {hook.folder_id}" if hook.folder_id else ""))
    typer.echo(f"  when       {hook.event_type}" + "".join(f"  {k}={v!r}" for k, v in hook.filter.items()))
    typer.echo(f"  url        {hook.url}")
    for name, value in hook.headers.items():
        typer.echo(f"  header     {name}: {value}")
    shown = hook if isinstance(hook, WebhookPublic) else WebhookPublic.of(hook)
    if credentials is not None:
        typer.echo(f"  auth       {credentials}")
    elif shown.auth is not None:
        typer.echo(f"  auth       {shown.auth.type} (credentials kept encrypted, not shown)")
    if hook.body_format != BodyFormat.STANDARD:
        typer.echo(f"  body       {hook.body_format}, from a template ({len(hook.body_template or '')} characters)")
    if hook.follow_redirects:
        forwarded = "with" if hook.forward_credentials else "without"
        typer.echo(f"  redirects  followed (to other hosts {forwarded} signature, headers and auth)")
    if hook.preset:
        typer.echo(f"  preset     {hook.preset}")
    if (paced := pacing_words(hook)) is not None:
        typer.echo(f"  pacing     {paced}")
    if hook.ordered:
        held = hook.ordered_on_failure == OrderOnFailure.HOLD
        then = "hold the next until it is redelivered" if held else "release the next"
        typer.echo(f"  ordered    one at a time per contact, in order; when one gives up: {then}")
    if waiting is not None and (waiting or paced or hook.ordered):
        typer.echo(f"  waiting    {waiting} deliver{'y' if waiting == 1 else 'ies'} held back (status throttled)")
    typer.echo(
        f"  state      {state}" + (f", since {hook.disabled_at:%Y-%m-%d %H:%M:%S} UTC" if hook.disabled_at else "")
    )
    if hook.failing_since:
        typer.echo(f"  failing    since {hook.failing_since:%Y-%m-%d %H:%M:%S} UTC, no 2xx since")
    if secret:
        typer.echo(f"  secret     {secret}")


def public(hook: Webhook) -> WebhookPublic:
    return WebhookPublic.of(hook)


@hook_app.command("create")
def hook_create(
    workspace: Workspace,
    name: Annotated[str, typer.Option(help="Shown on the Webhooks page and sent in each delivery.")],
    event: Annotated[str, typer.Option(help="The trigger type, e.g. tag.applied.")],
    url: Annotated[str | None, typer.Option(help="Where deliveries are POSTed (http or https).")] = None,
    filter: Filters = None,
    header: Headers = None,
    folder: Annotated[str | None, typer.Option(help="The folder's id.")] = None,
    preset: Annotated[
        str | None, typer.Option(help="Start from a receiver preset (webhooks hook presets lists them).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="KEY=VALUE for a preset's field, e.g. --set subdomain=acme.")
    ] = None,
    follow_redirects: FollowRedirects = None,
    forward_credentials: ForwardCredentials = None,
    body_format: BodyFormatOption = None,
    template: TemplateFile = None,
    auth: AuthKind = None,
    auth_user: AuthUser = None,
    max_per_second: MaxPerSecond = None,
    burst: Burst = None,
    max_in_flight: MaxInFlight = None,
    ordered: Ordered = None,
    ordered_on_failure: OrderedOnFailure = None,
    json_: bool = JsonOption,
) -> None:
    """Create a webhook; prints it with its signing secret."""
    values: dict[str, Any] = {"name": name, "event_type": event, "folder_id": folder}
    if preset is not None:
        try:
            values |= apply_preset(preset, pairs("--set", set_))
        except ValueError as err:
            fail(f"--preset {preset}: {err}")
    elif set_:
        fail("--set fills in a preset's fields: use it with --preset")
    if url is not None:
        values["url"] = url
    elif "url" not in values:
        fail("--url is required (or --preset with its fields)")
    values |= {"filter": pairs("--filter", filter)}
    values["headers"] = values.get("headers", {}) | pairs("--header", header)
    values |= receiver_options(follow_redirects, forward_credentials, body_format, template, auth, auth_user)
    values |= pacing_options(max_per_second, burst, max_in_flight, ordered, ordered_on_failure)

    async def work(store: Store) -> Webhook:
        create = WebhookCreate.model_validate(values)
        return await service.create_webhook(store, workspace, create, allow_private=Settings().allow_private_urls)

    hook = with_store(work)
    emit(
        WebhookWithSecret.of(hook),
        json_,
        lambda: show_hook(hook, hook.secret),
    )


@hook_app.command("list")
def hook_list(
    workspace: Workspace,
    folder: Annotated[str | None, typer.Option(help="Only this folder's webhooks.")] = None,
    event: Annotated[str | None, typer.Option(help="Only webhooks of this trigger type.")] = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled", help="Only on, or only off.")] = None,
    json_: bool = JsonOption,
) -> None:
    """List a workspace's webhooks, oldest first, with their pacing and how many deliveries wait."""

    async def work(store: Store) -> list[service.WebhookShown]:
        hooks = await store.list_webhooks(workspace, folder_id=folder, event_type=event, enabled=enabled)
        waiting = await store.pacing.waiting([h.id for h in hooks])
        return [service.shown(h, waiting) for h in hooks]

    shown = with_store(work)
    emit(
        shown,
        json_,
        lambda: table(
            [
                (h.id, h.name, h.event_type, "on" if h.enabled else "off", pacing_brief(h), h.waiting or "", h.url)
                for h in shown
            ],
            ["ID", "NAME", "TRIGGER", "STATE", "PACING", "WAITING", "URL"],
        ),
    )


@hook_app.command("show")
def hook_show(
    hook_id: HookId,
    secret: Annotated[
        bool, typer.Option("--secret", help="Also print the signing secret and the receiver's credentials.")
    ] = False,
    json_: bool = JsonOption,
) -> None:
    """Show one webhook, with how many of its deliveries are held back now (waiting); --secret adds
    its signing secret and the receiver's credentials."""

    async def work(store: Store) -> tuple[Webhook, int]:
        hook = await store.get_webhook(hook_id)
        return hook, (await store.pacing.waiting([hook.id])).get(hook.id, 0)

    hook, waiting = with_store(work)
    shown: dict[str, Any] = (WebhookWithSecret if secret else WebhookPublic).of(hook).model_dump(mode="json")
    shown["waiting"] = waiting
    if secret and hook.receiver_auth is not None:
        shown["auth"] = hook.receiver_auth.model_dump()  # asked for: in clear
    revealed = hook.receiver_auth.model_dump_json() if secret and hook.receiver_auth else None
    emit(shown, json_, lambda: show_hook(hook, hook.secret if secret else None, revealed, waiting))


@hook_app.command("update")
def hook_update(
    hook_id: HookId,
    name: Annotated[str | None, typer.Option()] = None,
    event: Annotated[str | None, typer.Option(help="A new trigger type (its filter must fit it).")] = None,
    url: Annotated[str | None, typer.Option()] = None,
    filter: Annotated[
        list[str] | None, typer.Option("--filter", help="Replaces the filter; --filter '' clears it.")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="Replaces the headers; --header '' clears them.")
    ] = None,
    folder: Annotated[str | None, typer.Option(help="Move to this folder; '' for the top level.")] = None,
    follow_redirects: FollowRedirects = None,
    forward_credentials: ForwardCredentials = None,
    body_format: BodyFormatOption = None,
    template: TemplateFile = None,
    auth: AuthKind = None,
    auth_user: AuthUser = None,
    max_per_second: MaxPerSecond = None,
    burst: Burst = None,
    max_in_flight: MaxInFlight = None,
    ordered: Ordered = None,
    ordered_on_failure: OrderedOnFailure = None,
    no_rate_limit: NoRateLimit = False,
    no_max_in_flight: NoMaxInFlight = False,
    json_: bool = JsonOption,
) -> None:
    """Change a webhook; what is not given keeps its value."""
    values: dict[str, Any] = {"name": name, "event_type": event, "url": url}
    change = {k: v for k, v in values.items() if v is not None}
    change |= receiver_options(follow_redirects, forward_credentials, body_format, template, auth, auth_user)
    change |= pacing_options(
        max_per_second, burst, max_in_flight, ordered, ordered_on_failure,
        no_rate_limit=no_rate_limit, no_max_in_flight=no_max_in_flight,
    )  # fmt: skip
    if filter is not None:
        change["filter"] = pairs("--filter", [f for f in filter if f])
    if header is not None:
        change["headers"] = pairs("--header", [h for h in header if h])
    if folder is not None:
        change["folder_id"] = folder or None

    async def work(store: Store) -> Webhook:
        return await service.update_webhook(
            store, await workspace_of(store, hook_id), hook_id, WebhookUpdate.model_validate(change),
            allow_private=Settings().allow_private_urls,
        )  # fmt: skip

    hook = with_store(work)
    emit(public(hook), json_, lambda: show_hook(hook))


def toggle(hook_id: str, enabled: bool, reason: str | None, json_: bool) -> None:
    async def work(store: Store) -> Webhook:
        return await service.set_enabled(store, await workspace_of(store, hook_id), hook_id, enabled, reason)

    hook = with_store(work)
    emit(public(hook), json_, lambda: show_hook(hook))


@hook_app.command("enable")
def hook_enable(hook_id: HookId, json_: bool = JsonOption) -> None:
    """Turn a webhook on (clears the reason it was turned off)."""
    toggle(hook_id, True, None, json_)


@hook_app.command("disable")
def hook_disable(
    hook_id: HookId,
    reason: Annotated[
        str, typer.Option(help="Kept with the webhook and shown to its owners.")
    ] = "turned off by a user",
    json_: bool = JsonOption,
) -> None:
    """Turn a webhook off: events stop reaching it, pending retries are skipped."""
    toggle(hook_id, False, reason, json_)


@hook_app.command("delete")
def hook_delete(hook_id: HookId, json_: bool = JsonOption) -> None:
    """Delete a webhook; its pending retries are skipped, its delivery log is kept."""

    async def work(store: Store) -> None:
        await service.delete_webhook(store, await workspace_of(store, hook_id), hook_id)

    with_store(work)
    emit({"id": hook_id, "deleted": True}, json_, lambda: typer.echo(f"deleted {hook_id}"))


@hook_app.command("rotate-secret")
def hook_rotate_secret(
    hook_id: HookId,
    overlap_hours: Annotated[float, typer.Option(help="How long the old secret keeps signing too.")] = 24,
    json_: bool = JsonOption,
) -> None:
    """Give a webhook a new signing secret; the old one signs beside it during the overlap."""

    async def work(store: Store) -> Webhook:
        workspace = await workspace_of(store, hook_id)
        return await service.rotate_secret(store, workspace, hook_id, timedelta(hours=overlap_hours))

    hook = with_store(work)
    shown = {
        "id": hook.id,
        "secret": hook.secret,
        "previous_secret_expires_at": hook.previous_secret_expires_at,
    }
    emit(
        {**shown, "previous_secret_expires_at": str(hook.previous_secret_expires_at)},
        json_,
        lambda: typer.echo(f"new secret  {hook.secret}\nold secret signs too until {hook.previous_secret_expires_at}"),
    )


@hook_app.command("test")
def hook_test(
    hook_id: HookId,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the receiver's answer to the first attempt, and print it.")
    ] = False,
    json_: bool = JsonOption,
) -> None:
    """Send a signed sample event of the webhook's trigger to it alone, marked as a test."""
    settings = Settings()

    async def work(store: Store) -> dict[str, Any]:
        client = await connected()
        workspace = await workspace_of(store, hook_id)
        sent = await service.send_test(store, client, settings.task_queue, workspace, hook_id)
        shown = await describe_start(client, sent.handle, settings.ui_url)
        if sent.note is not None:
            shown["note"] = sent.note
        if wait:
            tested = await service.await_test(store, workspace, sent, settings.request_timeout + service.ANSWER_GRACE)
            shown |= {"answer": tested.answer.model_dump(mode="json") if tested.answer else None}
            if tested.result is not None:
                shown["result"] = tested.result.model_dump(mode="json")
            if tested.error is not None:
                shown["error"] = tested.error
        return shown

    report_start(with_store(work), json_)


@hook_app.command("preview")
def hook_preview(hook_id: HookId, json_: bool = JsonOption) -> None:
    """Show the request the webhook would send for a sample event of its trigger, without sending it."""
    shown = with_store(lambda s: s.get_webhook(hook_id))
    try:
        request = service.preview(shown)
    except ServiceError as err:
        fail(str(err))

    def human() -> None:
        typer.echo(f"{request.method} {request.url}" + ("  (redirects followed)" if request.follow_redirects else ""))
        for name, value in request.headers.items():
            typer.echo(f"{name}: {value}")
        typer.echo("")
        typer.echo(request.body)

    emit(request, json_, human)


@hook_app.command("presets")
def hook_presets(json_: bool = JsonOption) -> None:
    """The receiver presets --preset accepts, with the fields each one asks for."""
    listed = [
        {"key": p.key, "label": p.label, "url": p.url_pattern, "auth": p.auth, "fields": [f.key for f in p.fields],
         "suggested_event": p.suggested_event}
        for p in PRESETS.values()
    ]  # fmt: skip
    emit(
        listed,
        json_,
        lambda: table(
            [(p["key"], p["label"], p["auth"], " ".join(f"--set {f}=..." for f in p["fields"])) for p in listed],
            ["PRESET", "SENDS TO", "AUTH", "FIELDS"],
        ),
    )
