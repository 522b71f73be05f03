"""Logs of the long-running processes: JSON lines when stderr is not a terminal (what log shippers
read), readable lines when it is. Activity lines carry the workflow id, activity and attempt (the
SDK's), and delivery lines the event, webhook and delivery ids. No secret and no contact field is
ever logged: the pipeline logs ids, statuses and errors only."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow

CONTEXT_FIELDS = ("workspace_id", "event_id", "webhook_id", "delivery_id", "attempt", "status_code", "outcome")
"""Extra fields a log call may give (`extra={...}`), copied into the JSON line: a delivery's
`attempt` (its count across the first, local attempt and the durable ones) wins over the SDK's."""
SDK_FIELDS = (
    "namespace", "task_queue", "workflow_id", "workflow_type", "workflow_run_id", "run_id",
    "activity_type", "activity_id", "attempt",
)  # fmt: skip


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for details in (getattr(record, "temporal_activity", None), getattr(record, "temporal_workflow", None)):
            if isinstance(details, dict):
                line |= {key: details[key] for key in SDK_FIELDS if key in details}
        line |= {key: getattr(record, key) for key in CONTEXT_FIELDS if hasattr(record, key)}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: int = logging.INFO, *, as_json: bool | None = None) -> None:
    """Log to stderr; JSON unless stderr is a terminal (or `as_json` says otherwise)."""
    as_json = not sys.stderr.isatty() if as_json is None else as_json
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # httpx logs every request's full URL at INFO: a webhook's URL is often its credential (a
    # Slack or Zapier hook's path is the secret), and the delivery line says what happened.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # In JSON the SDK's details are fields of their own, not a dict appended to each message.
    activity.logger.activity_info_on_message = not as_json
    workflow.logger.workflow_info_on_message = not as_json
