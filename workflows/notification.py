"""WorkspaceNotificationWorkflow: tell a workspace that one of its webhooks was turned off.

Started by the delivery step that turned it off, as an abandoned child, so the event's workflow
does not wait on the workspace's own endpoint."""

from __future__ import annotations

from temporalio import workflow

from workflows.steps import DELIVERY_RETRY

with workflow.unsafe.imports_passed_through():
    from activities.notification import NotificationActivities
    from models.payload import NOTIFICATION_TYPE
    from models.runs import NotificationInput, NotificationOutcome


@workflow.defn(name=NOTIFICATION_TYPE)
class WorkspaceNotificationWorkflow:
    @workflow.run
    async def run(self, input: NotificationInput) -> NotificationOutcome:
        outcome: NotificationOutcome = await workflow.execute_activity_method(
            NotificationActivities.notify_workspace,
            input,
            start_to_close_timeout=input.attempt_timeout,
            retry_policy=DELIVERY_RETRY,
            summary=f"tell workspace {input.workspace_id} that webhook {input.webhook_id} was turned off",
        )
        return outcome
