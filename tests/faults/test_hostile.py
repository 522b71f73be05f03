"""Hostile input against the real worker process, beside ordinary traffic: each gets a clear,
bounded outcome, and the ordinary events are all delivered meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from devstack.receiver import Answer, misbehaving_server
from faults.harness import WORKSPACE, Stack, assert_nothing_lost, tag_events
from models.events import EventConflict, InvalidEvent
from models.runs import DeliveryOutcome
from models.tables import WebhookCreate
from services.webhooks import create_webhook
from starter import publish


async def outcome_of(stack: Stack, event: dict[str, Any], task_queue: str | None = None) -> DeliveryOutcome:
    """The single delivery's outcome of an event that goes to one webhook."""
    handle = await publish(stack.client, event, task_queue=task_queue or stack.settings.task_queue)
    try:
        [outcome] = (await handle.result()).deliveries
    except WorkflowFailureError as failure:
        assert isinstance(failure.cause, ApplicationError)
        [outcome] = [DeliveryOutcome.model_validate(d) for d in failure.cause.details[0]["deliveries"]]
    return outcome


async def test_hostile_input_gets_bounded_outcomes_and_stalls_nothing(stack: Stack) -> None:
    await stack.make_hooks([1])
    guarded = stack.settings.model_copy(
        update={"allow_private_urls": False, "task_queue": stack.settings.task_queue + "-guarded"}
    )
    await stack.start_worker()
    await stack.start_worker(guarded)
    redirect = Answer(302, {"location": "http://127.0.0.1:9/internal"})
    stack.receiver.script("/redirect", [redirect] * 50)

    async with misbehaving_server() as bad:
        targets = {
            "endless": f"{bad}/endless",
            "header": f"{bad}/header",
            "redirect": stack.receiver.url("/redirect"),
            # Accepted when it was created (allowed then, or before a DNS change); dialled, it is refused.
            "private": f"http://localhost:{stack.receiver.port}/private",
        }
        for tag, url in targets.items():
            hook = WebhookCreate(name=tag, event_type="tag.applied", filter={"tag": tag}, url=url)
            await create_webhook(stack.store, WORKSPACE, hook, allow_private=True)
        [endless, header, redirected] = tag_events(["endless", "header", "redirect"])
        [private] = tag_events(["private"])

        # Refused before anything starts, or reported: nothing reaches a worker.
        [huge] = tag_events(["fan-1"], contact_bytes=10 * 1024 * 1024)
        with pytest.raises(InvalidEvent, match="larger than the 256 KiB"):
            await publish(stack.client, huge)
        [first] = tag_events(["fan-1"])
        await publish(stack.client, first, task_queue=stack.settings.task_queue)
        with pytest.raises(EventConflict, match="already published with other content"):
            await publish(stack.client, first | {"data": {"tag": "other"}}, task_queue=stack.settings.task_queue)

        [tags] = tag_events(["fan-1"])
        tags["contact"]["tags"] = [f"tag {i}" for i in range(10_000)]
        ordinary = tag_events(["fan-1"] * 30)
        hostile = {
            "endless body": asyncio.create_task(outcome_of(stack, endless)),
            "200 KB header": asyncio.create_task(outcome_of(stack, header)),
            "redirect to 127.0.0.1": asyncio.create_task(outcome_of(stack, redirected)),
            "private address": asyncio.create_task(outcome_of(stack, private, guarded.task_queue)),
        }
        handles = await stack.send([tags, *ordinary])
        await stack.settle(handles, within=60)
        outcomes = {name: await task for name, task in hostile.items()}

    tally = await stack.reckon("hostile input beside 32 ordinary events", [first, tags, *ordinary])
    tally.notes += [f"{name}: {o.status} after {o.attempts} attempt(s)" for name, o in outcomes.items()]
    assert_nothing_lost(tally)
    [whole] = [r for r in stack.receiver.requests if r.json()["data"]["event_id"] == tags["event_id"]]
    assert whole.json()["data"]["contact"]["tags"] == tags["contact"]["tags"]
    assert outcomes["endless body"].status == "delivered"  # a 2xx is a 2xx; 1 KiB of it is read
    assert outcomes["200 KB header"].detail.startswith("RemoteProtocolError: Receive buffer too long")
    assert "302" in outcomes["redirect to 127.0.0.1"].detail
    assert "not followed" in outcomes["redirect to 127.0.0.1"].detail
    assert "non-public address" in outcomes["private address"].detail
    assert (outcomes["private address"].status, outcomes["private address"].attempts) == ("failed", 1)
