"""The pipeline end to end: a real Temporal dev server, a real worker, real HTTP receivers on
127.0.0.1, and the store on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from core.config import Settings
from devstack.receiver import Answer, Received, Receiver
from models import search_attributes as sa
from models.events import FILTER_KEYS, PLATFORM_EVENT_TYPES, parse_event
from models.payload import delivery_id_for
from models.runs import EventOutcome
from models.samples import SAMPLE_DATA, sample_event
from models.tables import DeliveryStatus, Webhook, WebhookCreate
from services.events import accept_event
from services.webhooks import create_webhook
from starter import InvalidEvent, publish
from store.queries import Store

pytestmark = pytest.mark.usefixtures("worker")


async def make_hook(
    store: Store,
    url: str,
    event_type: str = "tag.applied",
    workspace: str = "ws_acme",
    **values: Any,
) -> Webhook:
    name = values.pop("name", f"{event_type} {uuid.uuid4().hex[:6]}")
    create = WebhookCreate(name=name, event_type=event_type, url=url, **values)
    return await create_webhook(store, workspace, create, allow_private=True)


async def send(client: Client, settings: Settings, event: dict[str, Any]) -> EventOutcome:
    handle = await publish(client, event, task_queue=settings.task_queue)
    return await handle.result()


async def send_failing(client: Client, settings: Settings, event: dict[str, Any]) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as failure:
        await send(client, settings, event)
    assert isinstance(failure.value.cause, ApplicationError)
    return failure.value.cause


def new_event(event_type: str = "tag.applied", **kwargs: Any) -> dict[str, Any]:
    return sample_event(event_type, event_id=f"evt_{uuid.uuid4().hex[:10]}", **kwargs)


def other_value(value: str) -> str:
    return "human" if value == "bot" else "bot" if value == "human" else value + " (other)"


async def test_each_trigger_type_reaches_exactly_its_webhooks(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    expected: dict[str, set[str]] = {}  # event type -> paths that must receive it
    secrets: dict[str, str] = {}
    for event_type in PLATFORM_EVENT_TYPES:
        slug = event_type.replace(".", "-")
        wanted = {f"/{slug}/any"}
        hooks = [await make_hook(store, receiver.url(f"/{slug}/any"), event_type)]
        for key in FILTER_KEYS.get(event_type, ()):
            value = SAMPLE_DATA[event_type][key]
            hooks.append(await make_hook(store, receiver.url(f"/{slug}/same"), event_type, filter={key: value}))
            await make_hook(store, receiver.url(f"/{slug}/other"), event_type, filter={key: other_value(value)})
            wanted.add(f"/{slug}/same")
        off = await make_hook(store, receiver.url(f"/{slug}/off"), event_type)
        await store.set_enabled(off.id, False)
        await make_hook(store, receiver.url(f"/{slug}/ws-b"), event_type, workspace="ws_other")
        expected[event_type] = wanted
        secrets.update({receiver.url(h.url.split(str(receiver.port), 1)[1]): h.secret for h in hooks})

    events = {t: new_event(t) for t in PLATFORM_EVENT_TYPES}
    outcomes = await asyncio.gather(*(send(client, settings, e) for e in events.values()))

    assert all(o.failed == 0 and o.delivered == o.matched for o in outcomes)
    got_paths = {r.path for r in receiver.requests}
    assert got_paths == set().union(*expected.values())
    assert len(receiver.requests) == len(got_paths), "each webhook gets exactly one request"
    for request in receiver.requests:
        event_type = request.json()["type"]
        assert request.path in expected[event_type]
        event = events[event_type]
        verified = Verifier(secrets[receiver.url(request.path)]).verify(request.body, request.headers)
        assert verified["data"]["contact"] == event["contact"]
        assert verified["data"]["event"] == event["data"]
        assert verified["data"]["event_id"] == event["event_id"]
        assert verified["data"]["workspace_id"] == "ws_acme"
        assert verified["timestamp"] == event["occurred_at"]
        hook_id = verified["data"]["webhook"]["id"]
        assert request.headers["webhook-id"] == delivery_id_for("ws_acme", event["event_id"], hook_id)
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("chatbot-webhooks/")


async def test_fails_twice_then_succeeds_with_one_webhook_id(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = await make_hook(store, receiver.url("/flaky"))
    receiver.script("/flaky", [Answer(500), Answer(502)])
    event = new_event()

    outcome = await send(client, settings, event)

    requests = receiver.at("/flaky")
    assert len(requests) == 3
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert outcome.deliveries[0].status == DeliveryStatus.DELIVERED
    assert outcome.deliveries[0].attempts == 3
    queried = await client.get_workflow_handle(f"event-ws_acme-{event['event_id']}").query("outcomes")
    assert [(o["webhook_id"], o["status"]) for o in queried] == [(hook.id, "delivered")]
    [ledger] = await store.deliveries_of_event("ws_acme", event["event_id"])
    assert (ledger.webhook_id, ledger.status, ledger.attempts) == (
        hook.id,
        DeliveryStatus.DELIVERED,
        3,
    )
    assert ledger.last_status_code == 200 and ledger.delivered_at is not None
    assert ledger.last_error is None and ledger.response_excerpt == "ok"


async def test_410_turns_the_webhook_off_and_stops(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = await make_hook(store, receiver.url("/gone"))
    receiver.script("/gone", [Answer(410)])

    error = await send_failing(client, settings, new_event())

    assert hook.id in error.message and "410" in error.message
    assert len(receiver.at("/gone")) == 1
    hook = await store.get_webhook(hook.id)
    assert not hook.enabled
    assert hook.disabled_reason and "410" in hook.disabled_reason
    await send(client, settings, new_event())  # turned off: matches nothing now
    assert len(receiver.at("/gone")) == 1


async def test_a_redirect_is_a_failure_and_is_not_followed(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = await make_hook(store, receiver.url("/moved"))
    redirect = Answer(302, {"location": receiver.url("/elsewhere")})
    receiver.script("/moved", [redirect] * 3)

    error = await send_failing(client, settings, new_event())

    assert hook.id in error.message and "302" in error.message and "not followed" in error.message
    assert len(receiver.at("/moved")) == 1 + len(settings.retry_schedule)
    assert receiver.at("/elsewhere") == []


async def test_retry_after_is_honoured(client: Client, settings: Settings, store: Store, receiver: Receiver) -> None:
    await make_hook(store, receiver.url("/busy"))
    receiver.script("/busy", [Answer(503, {"retry-after": "2"})])

    await send(client, settings, new_event())

    first, second = receiver.at("/busy")
    # The schedule alone would retry after 0.2 s; Retry-After asked for 2 s. A lower bound only:
    # a busy machine can make the gap longer, never shorter.
    assert second.at - first.at >= 1.9


async def test_the_same_event_twice_is_delivered_once(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    await make_hook(store, receiver.url("/once"))
    event = new_event()

    first, second = await asyncio.gather(
        publish(client, event, task_queue=settings.task_queue),
        publish(client, event, task_queue=settings.task_queue),
    )
    assert first.id == second.id
    await first.result()
    third = await publish(client, event, task_queue=settings.task_queue)  # after completion
    assert (await third.result()).delivered == 1

    assert len(receiver.at("/once")) == 1


async def test_a_webhook_turned_off_before_its_attempt_gets_nothing(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = await make_hook(store, receiver.url("/toggle"))
    receiver.script("/toggle", [Answer(500)])
    loop = asyncio.get_running_loop()

    def turn_off(_: Received) -> None:
        turned_off = store.set_enabled(hook.id, False, reason="turned off by a test")
        asyncio.run_coroutine_threadsafe(turned_off, loop).result()

    receiver.on_request = turn_off

    outcome = await send(client, settings, new_event())

    assert len(receiver.at("/toggle")) == 1  # the first attempt; the retry found it off
    assert outcome.deliveries[0].status == DeliveryStatus.SKIPPED
    assert "turned off" in outcome.deliveries[0].detail


async def test_a_failed_workflow_names_the_webhook_and_a_reset_resends_only_that_one(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    good = await make_hook(store, receiver.url("/good"))
    bad = await make_hook(store, receiver.url("/bad"))
    receiver.script("/bad", [Answer(500)] * (1 + len(settings.retry_schedule)))
    event = new_event()

    error = await send_failing(client, settings, event)
    assert bad.id in error.message and good.id not in error.message
    assert "HTTP 500" in error.message

    handle = client.get_workflow_handle(f"event-ws_acme-{event['event_id']}")
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.FAILED_WEBHOOK_IDS) == [bad.id]

    new_run = await reset_to_first_task(client, handle.id)
    outcome = await client.get_workflow_handle(handle.id, run_id=new_run, result_type=EventOutcome).result()

    assert len(receiver.at("/good")) == 1
    assert len(receiver.at("/bad")) == 2 + len(settings.retry_schedule)
    assert {o.webhook_id: o.status for o in outcome.deliveries} == {
        good.id: DeliveryStatus.DELIVERED,
        bad.id: DeliveryStatus.DELIVERED,
    }


async def reset_to_first_task(client: Client, workflow_id: str) -> str:
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.enums.v1 import EventType
    from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest

    handle = client.get_workflow_handle(workflow_id)
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    first_task = min([e.event_id async for e in handle.fetch_history_events() if e.event_type == completed])
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            reason="test: re-send what failed",
            workflow_task_finish_event_id=first_task,
            request_id=str(uuid.uuid4()),
        )
    )
    return response.run_id


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e["data"].pop("tag"), "data.tag: field required"),
        (lambda e: e.pop("event_id"), "event_id: field required"),
        (lambda e: e.update(type="tag.exploded"), "unknown event type 'tag.exploded'"),
        (lambda e: e["contact"].pop("id"), "contact.id: field required"),
        (lambda e: e.update(occurred_at="yesterday"), "occurred_at:"),
    ],
)
async def test_a_raw_start_with_malformed_input_fails_at_once_naming_the_field(
    client: Client, settings: Settings, mutate: Any, field: str
) -> None:
    """As another language's SDK would start it: plain JSON, no Python models, no validation."""
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client as PlainClient

    plain = await PlainClient.connect(client.service_client.config.target_host, namespace=client.namespace)
    event = new_event()
    mutate(event)
    handle = await plain.start_workflow(
        "TriggerEventWorkflow", event, id=f"raw-{uuid.uuid4().hex}", task_queue=settings.task_queue
    )

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.non_retryable
    assert cause.type == "InvalidInput"
    assert field in cause.message
    events = [e.event_type async for e in handle.fetch_history_events()]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in events


async def test_a_raw_start_with_valid_json_is_delivered(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    from temporalio.client import Client as PlainClient

    await make_hook(store, receiver.url("/raw"))
    plain = await PlainClient.connect(client.service_client.config.target_host, namespace=client.namespace)
    event = new_event()
    handle = await plain.start_workflow(
        "TriggerEventWorkflow",
        event,
        id=f"event-ws_acme-{event['event_id']}",
        task_queue=settings.task_queue,
    )
    result = await handle.result()
    assert result["delivered"] == 1
    assert json.loads(receiver.at("/raw")[0].body)["data"]["event_id"] == event["event_id"]


async def test_publish_refuses_a_malformed_event_and_starts_nothing(client: Client, settings: Settings) -> None:
    from temporalio.service import RPCError

    event = new_event("conversation.assigned")
    del event["data"]["agent_id"]

    with pytest.raises(InvalidEvent, match=r"invalid event: data\.agent_id: field required"):
        await publish(client, event, task_queue=settings.task_queue)

    with pytest.raises(RPCError, match="not found"):
        await client.get_workflow_handle(f"event-ws_acme-{event['event_id']}").describe()


async def test_the_contact_is_delivered_as_received(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    await make_hook(store, receiver.url("/as-received"))
    event = new_event()
    event["contact"] = {"id": "c_9", "channel": "zalo", "locale": "vi_VN"}  # no name, tags or zone

    await send(client, settings, event)

    assert receiver.at("/as-received")[0].json()["data"]["contact"] == {
        "id": "c_9",
        "channel": "zalo",
        "locale": "vi_VN",
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_event_matching_a_hundred_webhooks_reaches_them_all(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hooks = [await make_hook(store, receiver.url(f"/{n}")) for n in range(100)]
    event = new_event()

    outcome = await (await publish(client, event, task_queue=settings.task_queue)).result()

    assert outcome.delivered == 100 and len(receiver.requests) == 100
    # A search attribute value holds 2 KiB: WebhookIds lists those that fit, the ledger all of them.
    described = await client.get_workflow_handle(f"event-ws_acme-{event['event_id']}").describe()
    listed = described.typed_search_attributes.get(sa.WEBHOOK_IDS) or []
    assert 50 < len(listed) < 100 and set(listed) <= {h.id for h in hooks}
    assert len(await store.deliveries_of_event("ws_acme", event["event_id"])) == 100


async def test_the_intake_sets_the_matches_at_start_and_the_workflow_corrects_only_what_changed(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    first = await make_hook(store, receiver.url("/first"))
    second = await make_hook(store, receiver.url("/second"))
    both = sorted([first.id, second.id])

    async def indexed(handle: WorkflowHandle[Any, EventOutcome]) -> tuple[list[str], int]:
        """WebhookIds once the workflow is done, and how many upserts its history holds."""
        await handle.result()
        history = [e async for e in handle.fetch_history_events()]
        upserts = sum(1 for e in history if e.HasField("upsert_workflow_search_attributes_event_attributes"))
        return list((await handle.describe()).typed_search_attributes.get(sa.WEBHOOK_IDS) or []), upserts

    def start(**publish_args: Any) -> Awaitable[WorkflowHandle[Any, EventOutcome]]:
        return publish(client, new_event(), task_queue=settings.task_queue, **publish_args)

    # The API's intake: the matches read at admission are set at start; no upsert (one action less).
    assert await indexed(await accept_event(store, client, settings.task_queue, parse_event(new_event()))) == (both, 0)
    # A start from another SDK knows no matches: the workflow upserts them.
    assert await indexed(await start()) == (both, 1)
    # Matches that changed between admission and the workflow's own match: the workflow's win.
    assert await indexed(await start(webhook_ids=[first.id])) == (both, 1)


async def test_a_cookie_one_receiver_sets_never_goes_with_another_delivery(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    # One HTTP client serves every workspace: a cookie kept from one receiver's answer would go
    # with every later delivery to that host, another workspace's included.
    await make_hook(store, receiver.url("/sets-cookie"))
    await make_hook(store, receiver.url("/other"), workspace="ws_other")
    receiver.script("/sets-cookie", [Answer(200, headers={"set-cookie": "session=secret-of-acme; Path=/"})])

    await send(client, settings, new_event())
    await send(client, settings, new_event(workspace_id="ws_other"))
    await send(client, settings, new_event())

    assert [r.path for r in receiver.requests] == ["/sets-cookie", "/other", "/sets-cookie"]
    assert all("cookie" not in r.headers for r in receiver.requests), [r.headers for r in receiver.requests]
