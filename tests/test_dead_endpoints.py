"""Dead endpoints: a 410, or failing with no 2xx for the configured time, turns a webhook off with
the reason and time kept, and tells the workspace (`webhook.disabled`, signed, to its notification
URL when one is set; logged either way). Turning it back on clears the reason and the streak."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from temporalio.client import Client, WorkflowFailureError

from core.config import Settings
from core.errors import Refused
from devstack.receiver import Answer, Receiver
from models.payload import notification_workflow_id_for
from models.runs import NotificationOutcome
from models.samples import sample_event
from models.tables import Webhook, WebhookCreate, WorkspaceSettingsUpdate
from services import workspaces
from services.webhooks import create_webhook, set_enabled
from starter import publish
from store.queries import Store
from worker import build_worker

WS = "ws_acme"
DISABLE_AFTER = timedelta(milliseconds=300)
"""Shorter than the test schedule (two retries 200 ms apart), so the third attempt turns it off."""


@pytest.fixture
async def quick_to_disable(client: Client, settings: Settings, store: Store) -> AsyncIterator[None]:
    hasty = settings.model_copy(update={"disable_after": DISABLE_AFTER})
    async with build_worker(client, hasty, store) as worker, worker:
        yield


async def hook_at(store: Store, receiver: Receiver, path: str) -> Webhook:
    create = WebhookCreate(name=path.strip("/"), event_type="tag.applied", url=receiver.url(path))
    return await create_webhook(store, WS, create, allow_private=True)


async def send(client: Client, settings: Settings) -> dict[str, Any]:
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    with pytest.raises(WorkflowFailureError) as failure:
        await (await publish(client, event, task_queue=settings.task_queue)).result()
    assert failure.value.cause is not None
    return {"event": event, "message": str(failure.value.cause)}


async def notice(client: Client, hook: Webhook, event: dict[str, Any]) -> NotificationOutcome:
    handle = client.get_workflow_handle(
        notification_workflow_id_for(WS, hook.id, event["event_id"]), result_type=NotificationOutcome
    )
    outcome: NotificationOutcome = await handle.result()
    return outcome


@pytest.mark.usefixtures("worker")
async def test_a_410_turns_the_webhook_off_and_tells_the_workspace(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = await hook_at(store, receiver, "/gone")
    receiver.script("/gone", [Answer(410)])
    ops = await workspaces.update_settings(
        store, WS, WorkspaceSettingsUpdate(notification_url=receiver.url("/ops")), allow_private=True
    )

    sent = await send(client, settings)

    off = await store.get_webhook(hook.id)
    assert not off.enabled and off.disabled_at is not None and "410" in (off.disabled_reason or "")
    assert (await notice(client, hook, sent["event"])).sent
    [told] = receiver.at("/ops")
    Verifier(ops.notification_secret).verify(told.body, told.headers)  # raises unless signed with it
    body = told.json()
    assert body["type"] == "webhook.disabled"
    assert body["data"]["webhook"] == {"id": hook.id, "name": "gone", "url": hook.url}
    assert body["data"]["reason"] == off.disabled_reason and body["data"]["event_id"] == sent["event"]["event_id"]
    assert "jane" not in told.body.decode().lower(), "no contact data in an operational event"


@pytest.mark.usefixtures("quick_to_disable")
async def test_failing_with_no_success_for_too_long_turns_it_off_and_turning_it_on_clears_it(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = await hook_at(store, receiver, "/dying")
    receiver.script("/dying", [Answer(503)] * 10)

    sent = await send(client, settings)

    off = await store.get_webhook(hook.id)
    assert not off.enabled and off.failing_since is not None
    assert (off.disabled_reason or "").startswith("no successful delivery since")
    assert "last error: HTTP 503" in (off.disabled_reason or "")
    assert "the webhook was turned off" in sent["message"]
    told = await notice(client, hook, sent["event"])
    assert (told.sent, told.detail) == (False, "no notification URL is set for the workspace: logged only")

    on = await set_enabled(store, WS, hook.id, True, None)
    assert on.enabled and (on.disabled_reason, on.disabled_at, on.failing_since) == (None, None, None)


@pytest.mark.usefixtures("quick_to_disable")
async def test_a_success_ends_the_failing_streak(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = await hook_at(store, receiver, "/flaky")
    receiver.script("/flaky", [Answer(500)])

    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    await (await publish(client, event, task_queue=settings.task_queue)).result()

    after = await store.get_webhook(hook.id)
    assert after.enabled and after.failing_since is None
    assert len(receiver.at("/flaky")) == 2


async def test_the_api_sets_the_notification_url_with_the_api_rules(
    acme_http: httpx.AsyncClient,
) -> None:
    before = (await acme_http.get(f"/workspaces/{WS}/settings")).json()
    bad = await acme_http.put(f"/workspaces/{WS}/settings", json={"notification_url": "ftp://x"})
    good = await acme_http.put(f"/workspaces/{WS}/settings", json={"notification_url": "https://ops.example/hooks"})
    other = await acme_http.get("/workspaces/ws_other/settings")

    assert before["notification_url"] is None and before["notification_secret"].startswith("whsec_")
    assert good.json()["notification_secret"] == before["notification_secret"], "the secret shown is the one kept"
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "notification_url"
    assert good.status_code == 200 and good.json()["notification_url"] == "https://ops.example/hooks"
    assert other.status_code == 403


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_private_notification_url_is_refused_naming_notification_url(store: Store) -> None:
    private = WorkspaceSettingsUpdate(notification_url="http://127.0.0.1:9/ops")
    with pytest.raises(Refused) as refused:
        await workspaces.update_settings(store, WS, private, allow_private=False)
    assert refused.value.field == "notification_url" and "127.0.0.1" in refused.value.message
