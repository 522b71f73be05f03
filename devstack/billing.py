"""What a workflow's history costs on Temporal Cloud, counted from its events: the bench reports
it, and the tests hold the pipeline to it."""

from __future__ import annotations

from collections.abc import Iterable

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

LOCAL_ACTIVITY_MARKER = "core_local_activity"
BILLED_ONE_EACH = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
}


def billable_actions(events: Iterable[HistoryEvent]) -> int:
    """Billable actions in one history: the start, each activity attempt, each search-attribute
    upsert, timer, signal and child workflow start, and one per workflow task that ran any local
    activities (Cloud bills a task's batch of local activities as one)."""
    count = 0
    marker_tasks = set()
    for e in events:
        if e.event_type in BILLED_ONE_EACH:
            count += 1
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            # Each attempt is billed, and a history keeps only the last attempt's start.
            count += e.activity_task_started_event_attributes.attempt
        elif (
            e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and e.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            marker_tasks.add(e.marker_recorded_event_attributes.workflow_task_completed_event_id)
    return count + len(marker_tasks)
