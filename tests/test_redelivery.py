"""Re-running failed deliveries on a real dev server: each selection (a workflow, a webhook over a
time range, a visibility query), the API, the command line, and the Temporal CLI's batch reset all
re-send only to the webhook that failed, once, with the same webhook-id."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowFailureError
from typer.testing import CliRunner

from cli.main import app as cli
from core.config import Settings
from devstack.processes import settings_environment, venv_binary
from devstack.receiver import Answer, Receiver
from models import search_attributes as sa
from models.events import parse_event
from models.redelivery import RedeliveryAction
from models.runs import EventOutcome
from models.samples import sample_event
from models.tables import DeliveryStatus, Webhook, WebhookCreate, utcnow
from services import redelivery
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store

pytestmark = pytest.mark.usefixtures("worker")
RESET = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
WS = "ws_acme"


class Failed:
    """An event sent to a good and a bad webhook; the bad one gave up after the whole schedule."""

    def __init__(self, event: dict[str, Any], good: Webhook, bad: Webhook, receiver: Receiver) -> None:
        self.event, self.good, self.bad, self.receiver = event, good, bad, receiver
        self.workflow_id = f"event-{WS}-{event['event_id']}"
        self.bad_copies = len(receiver.at("/bad"))

    def assert_resent_to_the_bad_one_only(self) -> None:
        bad = self.receiver.at("/bad")
        assert len(bad) == self.bad_copies + 1, "one more request to the failed webhook"
        assert len({r.headers["webhook-id"] for r in bad}) == 1, "with the same webhook-id"
        assert len(self.receiver.at("/good")) == 1, "nothing again to the one that got it"


@pytest.fixture
async def failed(client: Client, settings: Settings, store: Store, receiver: Receiver) -> Failed:
    def hook(name: str) -> WebhookCreate:
        return WebhookCreate(name=name, event_type="tag.applied", url=receiver.url(f"/{name}"))

    good = await create_webhook(store, WS, hook("good"), allow_private=True)
    bad = await create_webhook(store, WS, hook("bad"), allow_private=True)
    receiver.script("/bad", [Answer(500)] * (1 + len(settings.retry_schedule)))
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    with pytest.raises(WorkflowFailureError):
        await (await publish(client, event, task_queue=settings.task_queue)).result()
    return Failed(event, good, bad, receiver)


async def rerun_result(client: Client, workflow_id: str, run_id: str | None) -> EventOutcome:
    outcome: EventOutcome = await client.get_workflow_handle(
        workflow_id, run_id=run_id, result_type=EventOutcome
    ).result()
    return outcome


async def visible(client: Client, query: str) -> None:
    """Visibility is eventually consistent: wait until the query finds the workflow."""
    async with asyncio.timeout(20):
        while not [w async for w in client.list_workflows(query)]:
            await asyncio.sleep(0.2)


def select_workflow(f: Failed, client: Client, store: Store) -> Awaitable[list[str]]:
    async def ids() -> list[str]:
        return [f.workflow_id]

    return ids()


async def select_webhook(f: Failed, client: Client, store: Store) -> list[str]:
    return await redelivery.by_webhook(store, f.bad.id, utcnow() - timedelta(hours=1), None)


async def select_query(f: Failed, client: Client, store: Store) -> list[str]:
    query = f"{sa.FAILED_WEBHOOK_IDS.name} = '{f.bad.id}'"
    await visible(client, query)
    return (await redelivery.by_query(client, store, query)).workflow_ids


@pytest.mark.parametrize(
    "select", [select_workflow, select_webhook, select_query], ids=["workflow", "webhook", "query"]
)
async def test_each_selection_resends_only_the_failed_webhook_once(
    failed: Failed,
    client: Client,
    store: Store,
    settings: Settings,
    select: Callable[[Failed, Client, Store], Awaitable[list[str]]],
) -> None:
    selected = await select(failed, client, store)
    assert selected == [failed.workflow_id]

    report = await redelivery.redeliver_all(
        client, store, selected, "endpoint fixed", task_queue=settings.task_queue, ui_url=settings.ui_url
    )

    [done] = report.results
    assert done.action == RedeliveryAction.RESET
    outcome = await rerun_result(client, failed.workflow_id, done.run_id)
    assert {o.webhook_id: o.status for o in outcome.deliveries} == {
        failed.good.id: DeliveryStatus.DELIVERED,
        failed.bad.id: DeliveryStatus.DELIVERED,
    }
    failed.assert_resent_to_the_bad_one_only()
    # In the Temporal UI, the new run opens with the reset and its reason.
    history = client.get_workflow_handle(failed.workflow_id, run_id=done.run_id).fetch_history_events()
    resets = [
        e.workflow_task_failed_event_attributes
        async for e in history
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        and e.workflow_task_failed_event_attributes.cause
        == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
    ]
    assert resets and "redeliver: endpoint fixed" in resets[0].failure.message


async def test_an_event_whose_workflow_is_gone_is_started_again_from_the_stored_event(
    client: Client, store: Store, settings: Settings, receiver: Receiver
) -> None:
    hook = WebhookCreate(name="late", event_type="tag.applied", url=receiver.url("/late"))
    await create_webhook(store, WS, hook, allow_private=True)
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    workflow_id = f"event-{WS}-{event['event_id']}"
    # What the store holds once the namespace's retention has removed the workflow: the event, a failed row.
    [row] = (await store.record_event(parse_event(event), workflow_id)).matches.webhooks
    await store.update_delivery(row.delivery_id, status=DeliveryStatus.FAILED, attempts=8)

    done = await redelivery.redeliver(
        client, store, workflow_id, "gone", task_queue=settings.task_queue, ui_url=settings.ui_url
    )

    assert done.action == RedeliveryAction.STARTED
    assert (await rerun_result(client, workflow_id, done.run_id)).delivered == 1
    [sent] = receiver.at("/late")
    assert sent.headers["webhook-id"] == row.delivery_id


async def test_a_completed_or_running_workflow_is_left_alone(
    client: Client, store: Store, settings: Settings, receiver: Receiver
) -> None:
    hook = WebhookCreate(name="fine", event_type="tag.applied", url=receiver.url("/fine"))
    await create_webhook(store, WS, hook, allow_private=True)
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    await (await publish(client, event, task_queue=settings.task_queue)).result()

    done = await redelivery.redeliver(
        client, store, f"event-{WS}-{event['event_id']}", "why not", task_queue=settings.task_queue, ui_url=""
    )

    assert (done.action, done.detail) == (
        RedeliveryAction.SKIPPED,
        "completed: every delivery succeeded or was skipped",
    )
    assert len(receiver.at("/fine")) == 1


async def test_the_api_redelivers_one_delivery_and_refuses_a_delivered_one(
    failed: Failed, client: Client, store: Store, acme_http: httpx.AsyncClient
) -> None:
    [bad] = await store.list_deliveries(failed.bad.id)
    [good] = await store.list_deliveries(failed.good.id)
    dry = await acme_http.post(f"/workspaces/{WS}/webhooks/{failed.bad.id}/redeliver", json={"dry_run": True})
    refused = await acme_http.post(f"/workspaces/{WS}/deliveries/{good.id}/redeliver")
    accepted = await acme_http.post(f"/workspaces/{WS}/deliveries/{bad.id}/redeliver", json={"reason": "fixed"})

    assert dry.status_code == 202 and dry.json()["workflow_ids"] == [failed.workflow_id]
    assert refused.status_code == 409 and "was delivered" in refused.json()["error"]["message"]
    assert accepted.status_code == 202, accepted.text
    await rerun_result(client, failed.workflow_id, accepted.json()["run_id"])
    failed.assert_resent_to_the_bad_one_only()


async def test_the_command_line_says_how_many_and_asks_first(
    failed: Failed, client: Client, settings: Settings
) -> None:
    env = settings_environment(settings) | {"TEMPORAL_ADDRESS": client.service_client.config.target_host}
    args = ["redeliver", "--webhook", failed.bad.id, "--since", (utcnow() - timedelta(hours=1)).isoformat()]

    declined = await asyncio.to_thread(CliRunner().invoke, cli, args, input="n\n", env=env)
    assert declined.exit_code == 1 and "1 workflow(s) will be re-run" in declined.stdout
    assert len(failed.receiver.at("/bad")) == failed.bad_copies

    done = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--yes", "--json"], env=env)
    assert done.exit_code == 0, done.stderr
    [result] = json.loads(done.stdout)["results"]
    await rerun_result(client, failed.workflow_id, result["run_id"])
    failed.assert_resent_to_the_bad_one_only()


async def test_the_temporal_clis_batch_reset_does_the_same(failed: Failed, client: Client) -> None:
    query = f"{sa.FAILED_WEBHOOK_IDS.name} = '{failed.bad.id}'"
    await visible(client, query)
    handle = client.get_workflow_handle(failed.workflow_id, result_type=EventOutcome)
    failed_run = (await handle.describe()).run_id
    reset = await asyncio.create_subprocess_exec(
        venv_binary("temporal"), "workflow", "reset", "--query", query, "--type", "FirstWorkflowTask",
        "--reason", "endpoint fixed", "--yes", "--address", client.service_client.config.target_host,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await reset.communicate()
    assert reset.returncode == 0, output.decode()

    async with asyncio.timeout(30):  # the batch runs in the background: wait for the reset's run
        while (await handle.describe()).run_id == failed_run:
            await asyncio.sleep(0.2)
    assert (await handle.result()).delivered == 2
    failed.assert_resent_to_the_bad_one_only()
