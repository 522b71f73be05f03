"""Which events of a contact Temporal has taken in but no worker has matched yet.

An event enters the ledger when its workflow's first task runs, and workflow tasks are not handed
out in the order they were queued (a task queue has several partitions, a worker buffers what it
polled), so in a backlog an earlier event of a contact can be matched seconds after a later one.
An ordered delivery therefore asks Temporal's visibility for the contact's event workflows started
before its own and still running, and waits while any of them has not recorded its event yet.

It relies on the search attributes a start sets (`starter.publish`, the API and the command line
set them; a start from another SDK that leaves them out is found once its first task upserts them,
which is when it is matched anyway)."""

from __future__ import annotations

from datetime import datetime

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.pacing import ORDER_STALE_AFTER
from models import search_attributes as sa
from models.payload import WORKFLOW_TYPE, workflow_id_for
from store.queries import Store

LOOK_AT_MOST = 100
"""Earlier running events looked at per check: more than that many are waiting anyway."""


class Intake:
    def __init__(self, client: Client, store: Store, task_queue: str) -> None:
        self.client = client
        self.store = store
        self.task_queue = task_queue
        """Only this queue's events count: another deployment sharing the namespace (a staging
        stack, say) has a store of its own, where this one's events are never recorded."""

    async def unmatched_before(self, workspace_id: str, contact_id: str, received_at: datetime) -> int:
        """How many of the contact's events started before `received_at` are not in the ledger."""
        # Ids are checked at intake to be letters, digits and _.:@- (models.events.Id): no quote
        # can end the string early.
        query = " AND ".join(
            (
                f"WorkflowType = '{WORKFLOW_TYPE}'",
                "ExecutionStatus = 'Running'",
                f"{sa.WORKSPACE_ID.name} = '{workspace_id}'",
                f"{sa.CONTACT_ID.name} = '{contact_id}'",
                f"TaskQueue = '{self.task_queue}'",
                f"StartTime < '{received_at.isoformat()}'",
                # One started long before and still unmatched is not a backlog: it stops no one.
                f"StartTime > '{(received_at - ORDER_STALE_AFTER).isoformat()}'",
            )
        )
        prefix = workflow_id_for(workspace_id, "")
        try:
            running = [
                execution.id.removeprefix(prefix)
                async for execution in self.client.list_workflows(query, limit=LOOK_AT_MOST)
                if execution.id.startswith(prefix)
            ]
        except RPCError as err:
            if err.status != RPCStatusCode.INVALID_ARGUMENT:
                raise  # the server unreachable, say: the attempt is tried again
            # The namespace lacks the search attributes (`webhooks setup-temporal` not run): order
            # from the ledger alone rather than hold every ordered delivery for ever.
            activity.logger.warning("ordered delivery cannot ask Temporal for earlier events: %s", err.message)
            return 0
        if not running:
            return 0
        return len(running) - await self.store.events_recorded(workspace_id, running)
