"""The demo receiver's paths that fail on purpose (devstack.receiver.DemoPaths), each tried with a
real delivery on the test schedule (two retries, 200 ms apart); and the local stack itself
(`run_dev` in a process of its own, on ports of its own) running with the retry schedule of its
environment, saying so in its welcome, and printing a delivery that gives up as one line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from core.config import Settings
from devstack.processes import free_port
from devstack.receiver import SLOW_AT_MOST, DemoPaths, Received, Receiver
from devstack.stack import DEV_KEY, DevPorts
from models.samples import sample_event
from models.tables import Delivery, DeliveryStatus, Webhook, WebhookCreate, WebhookPace
from services.redelivery import redeliver
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store
from worker import build_worker

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""A real delivery needs a store; which one does not matter here."""


@pytest.fixture
def demo(receiver: Receiver) -> Receiver:
    receiver.decide = DemoPaths()
    return receiver


async def hook_at(store: Store, demo: Receiver, path: str, **values: Any) -> Webhook:
    create = WebhookCreate(name=f"demo {uuid.uuid4().hex[:6]}", event_type="tag.applied", url=demo.url(path), **values)
    return await create_webhook(store, "ws_acme", create, allow_private=True)


async def deliver(client: Client, settings: Settings, store: Store, hook: Webhook) -> Delivery:
    """Send a fresh event, wait for its workflow to end, and return the webhook's ledger row."""
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    with contextlib.suppress(WorkflowFailureError):
        await (await publish(client, event, task_queue=settings.task_queue)).result()
    [row] = [d for d in await store.deliveries_of_event("ws_acme", event["event_id"]) if d.webhook_id == hook.id]
    return row


def statuses(requests: list[Received]) -> list[int]:
    return [r.answer.status for r in requests]


@SQLITE
@pytest.mark.usefixtures("worker")
async def test_fail_fails_every_attempt_until_the_schedule_gives_up(
    client: Client, settings: Settings, store: Store, demo: Receiver
) -> None:
    hook = await hook_at(store, demo, "/fail")
    row = await deliver(client, settings, store, hook)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.FAILED, 3, 500)
    assert row.response_excerpt == "demo receiver: /fail always fails"
    assert statuses(demo.at("/fail")) == [500, 500, 500]


@SQLITE
@pytest.mark.usefixtures("worker")
async def test_flaky_fails_each_delivery_n_times_and_a_redelivery_continues_the_count(
    client: Client, settings: Settings, store: Store, demo: Receiver
) -> None:
    flaky = await hook_at(store, demo, "/flaky/2")
    first, second = await deliver(client, settings, store, flaky), await deliver(client, settings, store, flaky)
    assert (first.status, first.attempts, second.status, second.attempts) == ("delivered", 3, "delivered", 3)
    assert statuses(demo.at("/flaky/2")) == [500, 500, 200] * 2  # counted per webhook-id

    await store.delete_webhook(flaky.id)
    flakier = await hook_at(store, demo, "/flaky/3")  # more failures than the schedule has attempts
    gave_up = await deliver(client, settings, store, flakier)
    assert (gave_up.status, gave_up.attempts) == (DeliveryStatus.FAILED, 3)
    run = await redeliver(client, store, gave_up.workflow_id, "try again", task_queue=settings.task_queue, ui_url="")
    await client.get_workflow_handle(run.workflow_id).result()
    assert statuses(demo.at("/flaky/3")) == [500, 500, 500, 200]
    [again] = [d for d in await store.deliveries_of_event("ws_acme", gave_up.event_id) if d.webhook_id == flakier.id]
    assert again.status == DeliveryStatus.DELIVERED


@pytest.fixture
async def impatient_worker(client: Client, settings: Settings, store: Store) -> AsyncIterator[Worker]:
    """A worker that waits one second for an answer."""
    impatient = settings.model_copy(update={"request_timeout": timedelta(seconds=1)})
    async with build_worker(client, impatient, store) as worker, worker:
        yield worker


@SQLITE
@pytest.mark.usefixtures("impatient_worker")
async def test_slow_answers_late_enough_to_be_a_timeout(
    client: Client, settings: Settings, store: Store, demo: Receiver
) -> None:
    hook = await hook_at(store, demo, "/slow/3")
    row = await deliver(client, settings, store, hook)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.FAILED, 3, None)
    assert row.last_error is not None and "no answer within 1 s" in row.last_error
    assert [r.answer.delay for r in demo.at("/slow/3")] == [3, 3, 3]
    # Asked to wait longer than it ever would, it waits no longer than a minute.
    capped = DemoPaths()(Received("/slow/3600", {}, b"", at=0.0))
    assert capped is not None and capped.delay == SLOW_AT_MOST
    # A redirect stays on this receiver: "//host/x" would send the request to another host.
    elsewhere = DemoPaths()(Received("/redirect//evil.example/x", {}, b"", at=0.0))
    assert elsewhere is not None and elsewhere.headers == {"location": "/evil.example/x"}


@SQLITE
@pytest.mark.usefixtures("worker")
async def test_slow_within_the_timeout_is_delivered(
    client: Client, settings: Settings, store: Store, demo: Receiver
) -> None:
    hook = await hook_at(store, demo, "/slow/1")
    row = await deliver(client, settings, store, hook)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)


@SQLITE
@pytest.mark.usefixtures("worker")
async def test_gone_turns_the_webhook_off_at_the_first_attempt(
    client: Client, settings: Settings, store: Store, demo: Receiver
) -> None:
    hook = await hook_at(store, demo, "/gone")
    row = await deliver(client, settings, store, hook)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.FAILED, 1, 410)
    off = await store.get_webhook(hook.id)
    assert not off.enabled and "HTTP 410 Gone" in (off.disabled_reason or "")
    assert statuses(demo.at("/gone")) == [410]


@SQLITE
@pytest.mark.usefixtures("worker")
async def test_redirect_is_refused_by_default_and_followed_when_the_webhook_asks(
    client: Client, settings: Settings, store: Store, demo: Receiver
) -> None:
    refusing = await hook_at(store, demo, "/redirect/orders")
    refused = await deliver(client, settings, store, refusing)
    assert (refused.status, refused.last_status_code) == (DeliveryStatus.FAILED, 307)
    assert refused.last_error is not None and "redirect to /orders not followed" in refused.last_error
    assert demo.at("/orders") == []

    await store.delete_webhook(refusing.id)
    following = await hook_at(store, demo, "/redirect/orders", follow_redirects=True)
    followed = await deliver(client, settings, store, following)
    assert (followed.status, followed.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert followed.redirects == [{"host": "127.0.0.1", "status_code": 307}, {"host": "127.0.0.1", "status_code": 200}]
    [arrived] = demo.at("/orders")
    assert arrived.headers["webhook-id"] == followed.id and "webhook-signature" in arrived.headers


@SQLITE
@pytest.mark.usefixtures("worker")
async def test_busy_asks_for_a_pause_that_the_retry_and_the_webhook_honour(
    client: Client, settings: Settings, store: Store, demo: Receiver
) -> None:
    hook = await hook_at(store, demo, "/busy/1")
    row = await deliver(client, settings, store, hook)
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 2)
    asked, retried = demo.at("/busy/1")
    assert (asked.answer.status, asked.answer.headers, retried.answer.status) == (429, {"retry-after": "1"}, 200)
    assert retried.at >= asked.at + 0.9, "the retry waited for the Retry-After (1 s), not the schedule (200 ms)"
    async with store.session() as session:
        pace = await session.get(WebhookPace, hook.id)
    assert pace is not None and "HTTP 429 with Retry-After 1.0 s" in (pace.paused_reason or "")


async def test_get_lists_the_paths_and_a_path_that_does_not_fit_says_how_it_goes(demo: Receiver) -> None:
    async with httpx.AsyncClient() as http:
        listed = await http.get(demo.url("/"))
        wrong = await http.post(demo.url("/flaky/many"), content=b"{}")
        other = await http.post(demo.url("/orders"), content=b"{}")
    assert listed.status_code == 200 and listed.headers["content-type"].startswith("text/plain")
    for usage in ("/fail", "/flaky/N", "/slow/S", "/gone", "/redirect/PATH", "/busy/S"):
        assert f"\n{usage} " in listed.text
    assert wrong.status_code == 400 and "expected /flaky/N" in wrong.text
    assert (other.status_code, other.text) == (200, "ok")


# --- the local stack ---------------------------------------------------------------------------------

QUICK = "200ms,200ms"


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], DevPorts]]:
    """`run_dev` as `webhooks dev` runs it, in a folder of its own (its .data/), on free ports, with
    a short schedule in its environment; its output (stdout and logs) merged, one line at a time."""
    ports = DevPorts(*(free_port() for _ in range(5)))
    start = f"import asyncio; from devstack.stack import DevPorts, run_dev; asyncio.run(run_dev({ports!r}))"
    stack = subprocess.Popen(
        [sys.executable, "-c", start],
        cwd=tmp_path,
        env=os.environ | {"WEBHOOKS_RETRY_SCHEDULE": QUICK, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield stack, ports
    finally:
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.kill()


async def read_until(output: IO[str], marker: str, seen: list[str]) -> None:
    """Read lines into `seen` until one holds `marker` (a minute at most: the stack is starting)."""
    while not seen or marker not in seen[-1]:
        line = await asyncio.wait_for(asyncio.to_thread(output.readline), timeout=60)
        assert line, "the stack exited:\n" + "".join(seen)
        seen.append(line)


async def test_the_local_stack_retries_on_the_schedule_of_its_environment_and_says_so(
    dev_stack: tuple[subprocess.Popen[str], DevPorts], tmp_path: Path
) -> None:
    stack, ports = dev_stack
    assert stack.stdout is not None
    printed: list[str] = []
    await read_until(stack.stdout, "Ctrl-C stops everything.", printed)
    welcome = "".join(printed)
    assert "Retries         after 200ms, 200ms (WEBHOOKS_RETRY_SCHEDULE): a failing delivery gives up\n" in welcome
    assert "after 3 attempts" in welcome and "/flaky/N" in welcome

    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{ports.api}", headers={"authorization": f"Bearer {DEV_KEY}"}
    ) as api:
        created = await api.post(
            "/workspaces/ws_acme/webhooks",
            json={"name": "Failing", "event_type": "tag.applied", "url": f"http://127.0.0.1:{ports.receiver}/fail"},
        )
        assert created.status_code == 201, created.text
        event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
        assert (await api.post("/events", json=event)).status_code == 202

    await read_until(stack.stdout, "delivery failed for good", printed)
    output = "".join(printed)
    # The stack's own worker kept to the schedule it was given: three attempts, then it gave up.
    assert output.count("receiver /fail: tag.applied") == 3 and output.count(": HTTP 500\n") == 3
    [gave_up] = [json.loads(line) for line in printed if "delivery failed for good" in line]
    assert gave_up["message"] == "delivery failed for good: HTTP 500; gave up after 3 attempts"
    assert (gave_up["level"], gave_up["attempt"], gave_up["outcome"]) == ("warning", 3, "gave up")
    assert "Traceback" not in output
