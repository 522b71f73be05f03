"""An upgrade with work in flight: the previous release's worker (commit RELEASE, run from its own
tree) delivers, retries, keeps DateTime timers and notifications going, and is stopped as a deploy
stops it; this version migrates the same store and its worker takes over on the same Temporal
server. Everything in flight finishes: nothing lost, nothing sent under another webhook-id, every
timer set before the upgrade fires once after it, and no workflow task fails, live or in a replay
of every history under this version.

The release runs on this venv's Python and packages, extracted by `git archive` and first on the
import path: `python -c` puts its cwd first, so that is the release's tree (from this checkout's
root it would be this tree), and PYTHONPATH too; both come before the editable install's finder,
which sits at the end of sys.meta_path. Each of its processes prints the files its modules came
from, and the test checks that they are the release's.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.worker import Replayer

from core.temporal import data_converter
from devstack.processes import WorkerProcess, settings_environment
from devstack.receiver import Answer, Received
from faults.harness import WORKSPACE, Stack, assert_nothing_lost, running_stack, tag_events
from models.payload import delivery_id_for, notification_workflow_id_for, timer_workflow_id_for
from models.runs import NotificationOutcome, TimerOutcome
from models.samples import sample_event
from models.tables import DeliveryStatus
from store.migrate import upgrade
from worker import SANDBOX
from workflows.datetime_trigger import DateTimeTriggerWorkflow
from workflows.notification import WorkspaceNotificationWorkflow
from workflows.trigger_event import TriggerEventWorkflow

RELEASE = "e9c754c"
"""The previous release: what production runs before this version is deployed."""
ROOT = Path(__file__).resolve().parents[2]

EARLY, LATE = (1, 2, 3, 5), (4, 8)
"""One webhook each, answering 503 this many times before a 200; those of LATE get their event just
before the upgrade, and are waiting for a retry then."""
FLAKY = EARLY + LATE
GONE_LATER_503S = 8
"""The webhook that answers 410 (and is turned off) only after this many 503s: under the new worker."""
OPS_503S = 6
"""The workspace's notification URL fails this many times: the notice is retried across the upgrade."""
FIELD = "callback_at"
"""The DateTime webhook's custom field (the sample contacts have none: only the timer events set it)."""
TIMERS_AHEAD = (22, 24, 26, 28)
"""Seconds after they are set, shortly before the upgrade, that the timers fire: after it (from the
set to the new worker's start takes about 8 s, under load 15)."""
MOVED_AHEAD = 30
"""One more timer, set to fire this long after it is set, and moved by an event to the new worker..."""
MOVED_BY = 5
"""...this much later. (Moved to a time relative to the move, it could pass before the move lands:
a timer cached by a killed worker takes the sticky queue's timeout, 10 s, to hear of it.)"""


# The release's side, run in its tree: the store's schema, its webhooks and workspace settings (its
# models and services), and events published through its intake. JSON in on stdin, out on the last
# line of stdout, with the files its modules came from.
RELEASE_SIDE = """
import asyncio, json, os, sys

import starter, store.migrate, worker, workflows.trigger_event
from core.config import Settings


async def setup(settings, job):
    from models.tables import WebhookCreate, WorkspaceSettingsUpdate
    from services.webhooks import create_webhook
    from services.workspaces import update_settings
    from store.queries import Store

    store = Store.from_url(settings.database_url)
    try:
        workspace = job["workspace"]
        ops = WorkspaceSettingsUpdate(notification_url=job["notification_url"])
        await update_settings(store, workspace, ops, allow_private=True)
        made = {}
        for tag, creates in job["hooks"].items():
            made[tag] = [
                (await create_webhook(store, workspace, WebhookCreate(**create), allow_private=True)).id
                for create in creates
            ]
        return made
    finally:
        await store.close()


async def publish(settings, job):
    from core.temporal import connect

    client = await connect()
    started = await asyncio.gather(
        *(starter.publish(client, event, task_queue=settings.task_queue) for event in job["events"])
    )
    return [handle.id for handle in started]


job = json.load(sys.stdin)
settings = Settings()
if job["do"] == "migrate":
    store.migrate.upgrade(settings.database_url)  # what its `webhooks db upgrade` does
    result = None
else:
    result = asyncio.run({"setup": setup, "publish": publish}[job["do"]](settings, job))
code = [m.__file__ for m in (worker, workflows.trigger_event, starter, store.migrate)]
print(json.dumps({"code": code, "result": result}), flush=True)
os._exit(0)  # the Temporal client's native threads can crash interpreter teardown (sdk-python#300)
"""

# The release's `webhooks worker`, saying first where its code came from.
RELEASE_WORKER = """
import sys

import activities.delivery, cli.main, worker, workflows.steps, workflows.trigger_event

mods = (worker, workflows.trigger_event, workflows.steps, activities.delivery, cli.main)
print("release code:", *(m.__file__ for m in mods), flush=True)
sys.argv = ["webhooks", "worker"]
cli.main.main()
"""


def release_missing() -> str | None:
    """Why the release cannot be had from this checkout, if it cannot."""
    if shutil.which("git") is None:
        return "git is not installed"
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{RELEASE}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode:
        return f"commit {RELEASE} is not in {ROOT}'s history (not a git checkout, or a shallow clone)"
    return None


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's tree, extracted from the repository's history."""
    missing = release_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the upgrade scenario, but {missing}: clone with the history (fetch-depth: 0)")
        pytest.skip(f"the upgrade scenario needs the previous release: {missing}")
    tree = tmp_path_factory.mktemp(f"release-{RELEASE}")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", RELEASE], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


class Release:
    """The previous release's processes on a stack: this venv's Python, the release's code."""

    def __init__(self, tree: Path, stack: Stack) -> None:
        self.tree = tree
        self.stack = stack
        self.env = settings_environment(stack.settings) | {
            "TEMPORAL_ADDRESS": stack.server.address,
            "PYTHONPATH": str(tree),
            "PYTHONUNBUFFERED": "1",
        }

    def check_code(self, files: Iterable[str]) -> None:
        strays = [f for f in files if not Path(f).resolve().is_relative_to(self.tree.resolve())]
        assert not strays, f"the release's process ran code from outside its tree {self.tree}: {strays}"

    async def run(self, do: str, **job: Any) -> Any:
        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-c", RELEASE_SIDE],
                input=json.dumps({"do": do, **job}),
                capture_output=True,
                text=True,
                cwd=self.tree,
                env=os.environ | self.env,
                timeout=60,
                check=False,
            )

        done = await asyncio.to_thread(run)
        if done.returncode:
            raise RuntimeError(f"the release's {do} failed ({done.returncode}):\n{done.stderr}{done.stdout}")
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        self.check_code(answer["code"])
        return answer["result"]

    async def publish(self, events: Sequence[dict[str, Any]]) -> list[WorkflowHandle[Any, Any]]:
        ids = await self.run("publish", events=list(events))
        return [self.stack.client.get_workflow_handle(i) for i in ids]

    async def start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(
            f"worker {len(self.stack.workers) + 1} ({RELEASE})",
            self.stack.folder / f"worker-{len(self.stack.workers) + 1}-{RELEASE}.log",
            self.stack.settings,
            self.stack.server.address,
            command=[sys.executable, "-c", RELEASE_WORKER],
            env={"PYTHONPATH": str(self.tree)},
            cwd=self.tree,
        )
        worker.start()
        self.stack.workers.append(worker)  # stopped by running_stack on the way out, whatever happens
        await worker.ready()
        said = next(line for line in worker.log_path.read_text().splitlines() if line.startswith("release code:"))
        self.check_code(said.removeprefix("release code:").split())
        return worker


async def until(what: str, check: Callable[[], bool | Awaitable[bool]], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not await as_awaited(check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within:g} s: {what}")
        await asyncio.sleep(0.1)


def ok(request: Received) -> bool:
    return 200 <= request.answer.status < 300


def timer_event(contact: str, value: datetime, *, created: bool) -> dict[str, Any]:
    """The event that sets a contact's timer: a contact.created carrying the field, or its change."""
    kind = "contact.created" if created else "custom_field.changed"
    data = None if created else {"field": FIELD, "old_value": None, "new_value": value.isoformat()}
    event = sample_event(
        kind, event_id=f"evt_{uuid.uuid4().hex[:12]}", workspace_id=WORKSPACE, contact_id=contact, data=data
    )
    if created:
        event["contact"]["custom_fields"][FIELD] = value.isoformat()
    return event


def in_seconds(seconds: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


async def histories(client: Client, task_queue: str, known: Iterable[str]) -> list[WorkflowHistory]:
    """Every workflow of the task queue (events, DateTime timers, notifications), with the ones known."""
    runs: set[tuple[str, str | None]] = {
        (w.id, w.run_id) async for w in client.list_workflows(f'TaskQueue="{task_queue}"')
    }
    listed = {workflow_id for workflow_id, _ in runs}
    runs |= {(workflow_id, None) for workflow_id in set(known) - listed}
    return list(
        await asyncio.gather(
            *(client.get_workflow_handle(i, run_id=r).fetch_history() for i, r in sorted(runs, key=str))
        )
    )


def failed_tasks(found: Iterable[WorkflowHistory]) -> list[str]:
    """Each failed workflow task: its workflow, cause and message."""
    failures = []
    for history in found:
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                attrs = event.workflow_task_failed_event_attributes
                cause = WorkflowTaskFailedCause.Name(attrs.cause)
                failures.append(f"{history.workflow_id}: {cause}: {attrs.failure.message}")
    return failures


async def settle_unless_failing(stack: Stack, handles: Sequence[WorkflowHandle[Any, Any]], within: float) -> None:
    """Wait for the workflows to close, failing as soon as a workflow task fails (a non-determinism
    error would only be retried until `within` is up)."""
    settling = asyncio.create_task(stack.settle(handles, within))
    try:
        while not (await asyncio.wait({settling}, timeout=5))[0]:
            failures = failed_tasks(await histories(stack.client, stack.settings.task_queue, [h.id for h in handles]))
            if failures:
                raise AssertionError(f"{len(failures)} workflow task(s) failed, first: " + "\n".join(failures[:5]))
        await settling
    finally:
        settling.cancel()


async def replay_failures(found: Sequence[WorkflowHistory]) -> dict[str, str]:
    """Replays each history under this version's workflows, as a worker of this version would."""
    replayer = Replayer(
        workflows=[TriggerEventWorkflow, DateTimeTriggerWorkflow, WorkspaceNotificationWorkflow],
        data_converter=data_converter,
        workflow_runner=SANDBOX,
    )

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in found:
            yield history

    results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
    return {run_id: repr(err) for run_id, err in results.replay_failures.items()}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_an_upgrade_with_work_in_flight_loses_nothing(
    tmp_path: Path, release: Path, stop: signal.Signals
) -> None:
    async with running_stack(tmp_path, migrate=False) as stack:
        old = Release(release, stack)
        receiver = stack.receiver

        # The release's store, webhooks and workspace settings.
        await old.run("migrate")
        hooks: dict[str, list[dict[str, Any]]] = {
            "fan-3": [tag_hook("fan-3", f"/fan-3/{i}", receiver.url(f"/fan-3/{i}")) for i in range(3)],
            **{f"flaky-{k}": [tag_hook(f"flaky-{k}", "", receiver.url(f"/flaky-{k}"))] for k in FLAKY},
            "gone-now": [tag_hook("gone-now", "", receiver.url("/gone-now"))],
            "gone-later": [tag_hook("gone-later", "", receiver.url("/gone-later"))],
            "reminder": [
                {
                    "name": "reminder",
                    "event_type": "datetime.reached",
                    "filter": {"field": FIELD, "offset": "0"},
                    "url": receiver.url("/reminder"),
                }
            ],
        }
        ids: dict[str, list[str]] = await old.run(
            "setup", workspace=WORKSPACE, hooks=hooks, notification_url=receiver.url("/ops")
        )
        [reminder] = ids["reminder"]
        gone = {ids["gone-now"][0]: "gone-now", ids["gone-later"][0]: "gone-later"}
        receiver.default = Answer(delay=0.5)
        for k in FLAKY:
            receiver.script(f"/flaky-{k}", [Answer(503)] * k)
        receiver.script("/gone-now", [Answer(410)])
        receiver.script("/gone-later", [Answer(503)] * GONE_LATER_503S + [Answer(410)])
        receiver.script("/ops", [Answer(503)] * OPS_503S)

        # The release at work: deliveries done, retries waiting, a webhook turned off and the notice
        # being retried; then, just before the upgrade, timers set and more deliveries under way.
        await old.start_worker()
        first = tag_events(["fan-3"] * 12 + [f"flaky-{k}" for k in EARLY] + ["gone-now", "gone-later"])
        handles = await old.publish(first)

        def hit(paths: Iterable[str]) -> bool:
            return set(paths) <= {r.path for r in receiver.requests}

        def fanned() -> int:
            return sum(1 for r in receiver.requests if r.path.startswith("/fan-3/") and ok(r))

        await until(
            "the release delivered, retried and turned a webhook off",
            lambda: fanned() == 36 and hit([*(f"/flaky-{k}" for k in EARLY), "/gone-now", "/ops"]),
        )
        fire = {f"dt-{i}": in_seconds(s) for i, s in enumerate(TIMERS_AHEAD)}
        fire["dt-moved"] = in_seconds(MOVED_AHEAD)
        setters = [timer_event(c, when, created=n % 2 == 1) for n, (c, when) in enumerate(fire.items())]
        timers = {
            c: stack.client.get_workflow_handle(timer_workflow_id_for(WORKSPACE, reminder, c), result_type=TimerOutcome)
            for c in fire
        }
        handles += await old.publish(setters)

        async def planned() -> bool:
            return None not in [await next_fire(t) for t in timers.values()]

        await until("the release set its timers", planned)
        in_flight = tag_events(["fan-3"] * 20 + [f"flaky-{k}" for k in LATE])
        receiver.default = Answer(delay=1.0)  # attempts under way when the worker is stopped
        handles += await old.publish(in_flight)

        def under_way() -> list[Received]:
            return [r for r in receiver.requests if r.at + r.answer.delay > time.monotonic()]

        await until(
            "the release has deliveries under way", lambda: len(under_way()) >= 10 and hit(f"/flaky-{k}" for k in LATE)
        )
        waiting = [k for k in FLAKY if not any(ok(r) for r in receiver.at(f"/flaky-{k}"))]
        assert waiting, "the scenario meant deliveries to be waiting for a retry at the upgrade"

        # The deploy: the release's worker stopped, events arriving meanwhile, the store migrated.
        stopped_at = time.time()
        assert datetime.now(UTC) < min(fire.values()), "too slow: the timers fire before the upgrade"
        stack.workers[0].stop(stop)
        if stop == signal.SIGKILL:
            stack.note(f"the release's worker was killed ({stop.name}) for the upgrade")
        meanwhile = tag_events(["fan-3"] * 5 + ["flaky-1"])
        handles += await stack.send(meanwhile)
        await asyncio.to_thread(upgrade, stack.settings.database_url)

        # This version takes over.
        new_started_at, new_started = time.time(), time.monotonic()
        await stack.start_worker()
        after = tag_events(["fan-3"] * 5)
        fire["dt-moved"] += timedelta(seconds=MOVED_BY)
        handles += await stack.send([*after, timer_event("dt-moved", fire["dt-moved"], created=False)])

        known = [h.id for h in handles] + [t.id for t in timers.values()]
        events = first + in_flight + meanwhile + after
        notices = {
            hook: stack.client.get_workflow_handle(
                notification_workflow_id_for(
                    WORKSPACE, hook, next(e for e in first if e["data"]["tag"] == tag)["event_id"]
                ),
                result_type=NotificationOutcome,
            )
            for hook, tag in gone.items()
        }
        await settle_unless_failing(stack, [*handles, *timers.values()], within=90)
        await settle_unless_failing(stack, list(notices.values()), within=60)

        # Every tag event's deliveries once, under the one webhook-id of each (event, webhook).
        for tag, hook_ids in ids.items():
            if tag.startswith(("fan-", "flaky-")):
                stack.hooks[tag] = [await stack.store.get_webhook(i) for i in hook_ids]
        tally = await stack.reckon(
            f"the release's worker stopped ({stop.name}) with work in flight, upgraded",
            events,
            aside=lambda r: r.path in ("/reminder", "/ops"),  # checked below
        )
        ids_seen: dict[tuple[str, str], set[str]] = defaultdict(set)
        for request in receiver.requests:
            if request.path != "/ops":
                data = request.json()["data"]
                ids_seen[(data["event_id"], data["webhook"]["id"])].add(request.headers["webhook-id"])
        wrong = {pair: seen for pair, seen in ids_seen.items() if seen != {delivery_id_for(WORKSPACE, *pair)}}
        assert not wrong, f"(event, webhook) sent under another webhook-id: {wrong}"
        retried_by_new = [k for k in waiting if any(ok(r) and r.at > new_started for r in receiver.at(f"/flaky-{k}"))]
        assert retried_by_new, f"none of the retries waiting at the upgrade ({waiting}) was made by the new worker"

        # Every DateTime timer set by the release fired once, after the upgrade, at its (moved) time.
        for contact, handle in timers.items():
            outcome = await handle.result()
            assert (outcome.status, outcome.fire_at) == ("delivered", fire[contact]), (contact, outcome)
        reminders = receiver.at("/reminder")
        assert sorted(r.json()["data"]["contact"]["id"] for r in reminders if ok(r)) == sorted(fire)
        assert all(r.at > new_started for r in reminders), "a timer fired before the upgrade"
        delivered = await stack.store.list_deliveries(reminder, status=DeliveryStatus.DELIVERED, limit=100)
        assert len(delivered) == len(fire)

        # The 410s turned their webhooks off, and the workspace was told once each.
        for hook, notice in notices.items():
            assert not (await stack.store.get_webhook(hook)).enabled
            assert (await notice.result()).sent
        told = defaultdict(list)
        for request in receiver.at("/ops"):
            told[request.headers["webhook-id"]].append(request)
        notice_ids = {
            delivery_id_for(
                WORKSPACE, f"webhook.disabled:{r.json()['data']['event_id']}", r.json()["data"]["webhook"]["id"]
            )
            for r in receiver.at("/ops")
        }
        assert set(told) == notice_ids and len(notice_ids) == len(gone)
        assert all(sum(1 for r in sent if ok(r)) == 1 for sent in told.values()), "a notice sent twice"

        # No workflow task failed, live; and every history, the release's included, replays here.
        found = await histories(stack.client, stack.settings.task_queue, known + [n.id for n in notices.values()])
        assert not failed_tasks(found), "\n".join(failed_tasks(found))
        assert not (replayed := await replay_failures(found)), replayed
        spanned = [
            h.workflow_id
            for h in found
            if h.events[0].event_time.ToDatetime(UTC).timestamp() < stopped_at
            and h.events[-1].event_time.ToDatetime(UTC).timestamp() > new_started_at
        ]
        assert spanned, "no workflow was open across the upgrade"
        tally.notes.append(
            f"{len(found)} workflows ({len(spanned)} open across the upgrade), no failed workflow task, all replay"
        )

        assert_nothing_lost(tally)
        if stop == signal.SIGTERM:  # a graceful stop finishes its attempts: nothing to send again
            assert not tally.duplicates, tally.line()


def tag_hook(tag: str, suffix: str, url: str) -> dict[str, Any]:
    return {"name": f"{tag}{suffix}", "event_type": "tag.applied", "filter": {"tag": tag}, "url": url}


async def next_fire(handle: WorkflowHandle[Any, TimerOutcome]) -> datetime | None:
    try:
        fire: datetime | None = await handle.query("next_fire", result_type=datetime)
        return fire
    except (RPCError, WorkflowQueryFailedError):  # not started, or not planned yet
        return None


async def as_awaited(value: bool | Awaitable[bool]) -> bool:
    return await value if inspect.isawaitable(value) else value
