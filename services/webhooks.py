"""Webhooks and folders: the rules that need the store or the network, on top of the models'
shape rules. The API and the command line both call these, so every face applies the same rules."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlmodel import SQLModel
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from core.errors import Conflict, NotFound, Refused
from core.names import folder_name_taken, webhook_name_taken
from core.netguard import UnsafeAddressError, check_host
from core.shaping import USER_AGENT, auth_headers, shape_request
from core.templates import BodyFormat, TemplateError
from models.events import problems_of
from models.payload import delivery_id_for
from models.preview import ReceiverAnswer, RequestPreview
from models.runs import EventOutcome
from models.samples import sample_event
from models.tables import (
    UNFINISHED,
    Folder,
    FolderCreate,
    Webhook,
    WebhookBase,
    WebhookCreate,
    WebhookPublic,
    WebhookUpdate,
    dump_auth,
    new_secret,
    utcnow,
)
from services.paging import rows_for, split
from starter import publish
from store.queries import Store

DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)


async def check_url_target(url: str, *, allow_private: bool, field: str = "url") -> None:
    """Refuse a URL whose host resolves to a loopback, private, link-local or reserved address,
    naming `field` (the request's own name for it). Deliveries check again on the address they
    dial, so a later DNS change cannot get around it."""
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        await check_host(parts.hostname or "", port)
    except UnsafeAddressError as err:
        raise Refused(str(err), field) from None


async def _check_placement(store: Store, workspace_id: str, hook: WebhookCreate, except_id: str | None) -> None:
    if hook.folder_id is not None:
        await store.get_folder(hook.folder_id, workspace_id)
    taken = await store.webhook_named(workspace_id, hook.folder_id, hook.name, except_id)
    if taken is not None:
        raise webhook_name_taken(hook.name, hook.folder_id, taken)


async def create_webhook(store: Store, workspace_id: str, create: WebhookCreate, *, allow_private: bool) -> Webhook:
    await _check_placement(store, workspace_id, create, None)
    await check_url_target(create.url, allow_private=allow_private)
    hook = new_webhook(workspace_id, create)
    await store.add(hook)
    return hook


def new_webhook(workspace_id: str, create: WebhookCreate) -> Webhook:
    return Webhook.model_validate(
        create.model_dump(exclude={"auth"}), update={"workspace_id": workspace_id, "auth": dump_auth(create.auth)}
    )


def preview(hook: Webhook) -> RequestPreview:
    """The request the webhook would send for a sample event of its trigger (one that fits its
    filter), credentials masked; nothing is sent."""
    event = sample_for(hook, event_id="evt_preview")
    delivery_id = delivery_id_for(hook.workspace_id, event["event_id"], hook.id)
    try:
        shaped = shape_request(hook, event, delivery_id)
    except TemplateError as err:
        raise Refused(str(err), "body_template") from None
    headers = {
        **hook.headers,
        **auth_headers(hook.receiver_auth, masked=True),
        "content-type": shaped.content_type,
        "user-agent": USER_AGENT,
        "webhook-id": delivery_id,
        "webhook-timestamp": "(the moment of sending)",
        "webhook-signature": "v1,(signed at sending with the webhook's secret)",
    }
    return RequestPreview(
        url=shaped.url, headers=headers, body=shaped.body.decode(), content_type=shaped.content_type,
        follow_redirects=hook.follow_redirects, event=event,
    )  # fmt: skip


def sample_for(hook: Webhook, *, event_id: str) -> dict[str, Any]:
    """A sample event of the webhook's trigger whose data fits its filter."""
    event = sample_event(hook.event_type, event_id=event_id, workspace_id=hook.workspace_id)
    event["data"].update(hook.filter)
    return event


async def update_webhook(
    store: Store, workspace_id: str, webhook_id: str, change: WebhookUpdate, *, allow_private: bool
) -> Webhook:
    """Apply a partial change, checked as a whole (a new trigger must fit the filter, and so on)."""
    hook = await store.get_webhook(webhook_id, workspace_id)
    changed = change.model_dump(exclude_unset=True)
    if "enabled" in changed and changed["enabled"] is None:
        raise Refused("must be true or false", "enabled")
    if "max_per_second" in changed and changed["max_per_second"] is None:
        changed.setdefault("burst", None)  # no rate: its burst goes with it
    if changed.get("body_format") == BodyFormat.STANDARD:
        changed.setdefault("body_template", None)  # back to the standard body: the template goes
    current = {field: getattr(hook, field) for field in WebhookBase.model_fields} | {"auth": hook.receiver_auth}
    merged = validated(WebhookCreate, current | changed)
    await _check_placement(store, workspace_id, merged, hook.id)
    if merged.url != hook.url:
        await check_url_target(merged.url, allow_private=allow_private)
    if merged.enabled != hook.enabled:
        hook.disabled_reason = None if merged.enabled else "turned off by a user"
        hook.disabled_at = None if merged.enabled else utcnow()
    for field, value in merged.model_dump(exclude={"auth"}).items():
        setattr(hook, field, value)
    hook.auth = dump_auth(merged.auth)
    return await store.save_webhook(hook)


async def set_enabled(store: Store, workspace_id: str, webhook_id: str, enabled: bool, reason: str | None) -> Webhook:
    await store.get_webhook(webhook_id, workspace_id)
    return await store.set_enabled(webhook_id, enabled, None if enabled else reason or "turned off by a user")


async def delete_webhook(store: Store, workspace_id: str, webhook_id: str) -> None:
    await store.get_webhook(webhook_id, workspace_id)
    await store.delete_webhook(webhook_id)


async def rotate_secret(
    store: Store, workspace_id: str, webhook_id: str, overlap: timedelta = DEFAULT_ROTATION_OVERLAP
) -> Webhook:
    """A new secret signs from now on; the old one keeps signing beside it for `overlap`, so
    receivers can switch without missing a delivery."""
    if overlap < timedelta(0) or overlap > timedelta(days=7):
        raise Refused("must be between 0 and 168 hours", "overlap_hours")
    hook = await store.get_webhook(webhook_id, workspace_id)
    hook.previous_secret, hook.secret = hook.secret, new_secret()
    hook.previous_secret_expires_at = utcnow() + overlap
    return await store.save_webhook(hook)


class WebhookShown(WebhookPublic):
    """A webhook as the reads show it (one, or a page): with what it holds back right now."""

    waiting: int = 0
    """Its deliveries held back now (status `throttled`): by its rate limit or concurrency cap, behind
    an earlier event of the same contact (ordered), or by its receiver's Retry-After."""


class WebhookShownPage(SQLModel):
    items: list[WebhookShown]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last one."""


def shown(hook: Webhook, waiting: dict[str, int]) -> WebhookShown:
    return WebhookShown.of(hook).model_copy(update={"waiting": waiting.get(hook.id, 0)})


async def show_webhook(store: Store, workspace_id: str, webhook_id: str) -> WebhookShown:
    """One webhook of the workspace, with its waiting count."""
    hook = await store.get_webhook(webhook_id, workspace_id)
    return shown(hook, await store.pacing.waiting([hook.id]))


async def list_webhooks(
    store: Store,
    workspace_id: str,
    *,
    folder_id: str | None = None,
    event_type: str | None = None,
    enabled: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> WebhookShownPage:
    """A page of webhooks, each with its waiting count (one grouped query for the page)."""
    rows = await store.list_webhooks(
        workspace_id, folder_id=folder_id, event_type=event_type, enabled=enabled, after=cursor, limit=rows_for(limit)
    )
    page, next_cursor = split(rows, limit)
    waiting = await store.pacing.waiting([h.id for h in page])
    return WebhookShownPage(items=[shown(h, waiting) for h in page], next_cursor=next_cursor)


@dataclass(frozen=True)
class TestSend:
    handle: WorkflowHandle[Any, EventOutcome]
    delivery_id: str
    """Its row in the ledger, which keeps the receiver's answer."""
    note: str | None = None
    """What will happen instead of a send, said before it happens: to a webhook that is off."""


OFF_NOTE = "the webhook is off: the test event is not sent, only recorded as skipped; turn it on to send one"


async def send_test(store: Store, client: Client, task_queue: str, workspace_id: str, webhook_id: str) -> TestSend:
    """A signed sample of the webhook's trigger, through the same workflow as every event, to this
    webhook only, marked `"test": true`. Its data fits the webhook's filter."""
    hook = await store.get_webhook(webhook_id, workspace_id)
    event = sample_for(hook, event_id=f"test_{uuid.uuid4().hex[:16]}")
    event["contact"]["id"] = "c_test"
    event["test_webhook_id"] = hook.id
    handle = await publish(client, event, task_queue=task_queue)
    # Every attempt skips a webhook that is off, a test's too: said now, not only once it is skipped.
    return TestSend(
        handle, delivery_id_for(workspace_id, event["event_id"], hook.id), None if hook.enabled else OFF_NOTE
    )


@dataclass(frozen=True)
class TestOutcome:
    answer: ReceiverAnswer | None
    """None when no attempt was recorded in the time allowed (no worker running, say)."""
    result: EventOutcome | None
    """When the delivery is over (delivered, skipped); None while it is being retried."""
    error: str | None
    """When it gave up."""


ANSWER_POLL = timedelta(milliseconds=100)
ANSWER_GRACE = timedelta(seconds=10)
"""Beyond the request timeout, how long a test send waits for its first attempt to be recorded."""


async def await_test(store: Store, workspace_id: str, sent: TestSend, within: timedelta) -> TestOutcome:
    """The receiver's answer to the test send's first attempt, from the ledger as soon as it is
    recorded (a failing receiver's answer too, without waiting out the retry schedule), and the
    workflow's outcome when that attempt ended it."""
    deadline = asyncio.get_running_loop().time() + within.total_seconds()
    while True:
        with contextlib.suppress(NotFound):  # not matched yet
            row = await store.get_delivery(sent.delivery_id, workspace_id)
            # Not yet attempted while pending, or held back by the webhook's pacing: wait on.
            if row.attempts or row.status not in UNFINISHED:
                break
        if asyncio.get_running_loop().time() > deadline:
            return TestOutcome(None, None, None)
        await asyncio.sleep(ANSWER_POLL.total_seconds())
    answer = ReceiverAnswer(
        status=row.status, status_code=row.last_status_code, excerpt=row.response_excerpt, error=row.last_error,
        redirects=row.redirects, next_attempt_at=row.next_attempt_at,
    )  # fmt: skip
    if row.status in UNFINISHED:
        return TestOutcome(answer, None, None)
    try:
        return TestOutcome(answer, await sent.handle.result(), None)
    except WorkflowFailureError as err:
        return TestOutcome(answer, None, str(err.cause))


# --- folders -------------------------------------------------------------------------------------


async def create_folder(store: Store, workspace_id: str, create: FolderCreate) -> Folder:
    taken = await store.folder_named(workspace_id, create.name)
    if taken is not None:
        raise folder_name_taken(create.name, taken)
    folder = Folder.model_validate(create, update={"workspace_id": workspace_id})
    await store.add(folder)
    return folder


async def rename_folder(store: Store, workspace_id: str, folder_id: str, change: FolderCreate) -> Folder:
    folder = await store.get_folder(folder_id, workspace_id)
    taken = await store.folder_named(workspace_id, change.name, except_id=folder.id)
    if taken is not None:
        raise folder_name_taken(change.name, taken)
    folder.name = change.name
    await store.add(folder)
    return folder


async def delete_folder(store: Store, workspace_id: str, folder_id: str, *, move_webhooks_out: bool) -> int:
    """Delete a folder. One that holds webhooks is refused unless they are moved out (to the top
    level) with it; returns how many were moved."""
    folder = await store.get_folder(folder_id, workspace_id)
    held = await store.delete_folder(folder, move_webhooks_out=move_webhooks_out)
    if held and not move_webhooks_out:
        raise Conflict(
            f"folder {folder.name!r} holds {held} webhook(s); move them out first, "
            "or ask to move them out with it (move_webhooks_out)",
            "folder_id",
        )
    return held


def validated(model: type[WebhookCreate], values: dict[str, Any]) -> WebhookCreate:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        raise Refused.each(problems_of(err.errors(include_url=False))) from None
