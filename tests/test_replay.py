"""Histories recorded by earlier releases (tests/replay/histories/<release>/<scenario>.json) replay
against the workflows of this tree: a change that would break workflows those releases left open
(a retry waiting, a DateTime timer months away) fails here, before it is deployed. No server needed.
See tests/replay/README.md for how they are recorded and when a release's can go."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from core.temporal import converter_for
from worker import SANDBOX
from workflows.datetime_trigger import DateTimeTriggerWorkflow
from workflows.notification import WorkspaceNotificationWorkflow
from workflows.retention import LedgerRetentionWorkflow
from workflows.trigger_event import TriggerEventWorkflow

HISTORIES = Path(__file__).parent / "replay" / "histories"
RECORDED = sorted(HISTORIES.glob("*/*.json"))


def load(path: Path) -> WorkflowHistory:
    """A recorded file: the SDK's history JSON with the workflow id beside its events."""
    doc = json.loads(path.read_text())
    return WorkflowHistory.from_json(doc["workflowId"], doc)


def replayer(*workflows: type) -> Replayer:
    """As the worker runs them: its sandbox, and the converter of an unencrypted client."""
    return Replayer(workflows=list(workflows), workflow_runner=SANDBOX, data_converter=converter_for(None))


def test_there_are_histories_to_replay() -> None:
    assert len(RECORDED) >= 10, f"no recorded histories under {HISTORIES}"


@pytest.mark.parametrize("path", RECORDED, ids=[f"{p.parent.name}/{p.stem}" for p in RECORDED])
async def test_a_recorded_history_replays_on_this_code(path: Path) -> None:
    history = load(path)
    workflows = (TriggerEventWorkflow, DateTimeTriggerWorkflow, WorkspaceNotificationWorkflow, LedgerRetentionWorkflow)

    result = await replayer(*workflows).replay_workflow(history, raise_on_replay_failure=False)

    if result.replay_failure is not None:
        where = f"{path.parent.name}/{path.stem} ({history.workflow_id})"
        pytest.fail(f"{where} no longer replays on this code: {result.replay_failure}", pytrace=False)


@workflow.defn(name="TriggerEventWorkflow")
class ReorderedTriggerEventWorkflow:
    """A TriggerEventWorkflow that delivers before it matches: not what the recorded runs did."""

    @workflow.run
    async def run(self, event: dict[str, Any]) -> None:
        await workflow.execute_activity(
            "deliver",
            {"workspace_id": event["workspace_id"], "event_id": event["event_id"], "webhook_id": "wh_x"},
            start_to_close_timeout=timedelta(seconds=10),
        )


async def test_a_workflow_that_changed_its_steps_fails_the_replay() -> None:
    [path] = [p for p in RECORDED if p.stem == "event_delivered"][:1]
    replay = Replayer(
        workflows=[ReorderedTriggerEventWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
        data_converter=converter_for(None),
    )

    with pytest.raises(workflow.NondeterminismError):
        await replay.replay_workflow(load(path))
