"""Logs of the long-running processes: JSON lines when stderr is not a terminal (what log shippers
read), readable lines when it is. Activity lines carry the workflow id, activity and attempt (the
SDK's), and delivery lines the event, webhook and delivery ids. No secret and no contact field is
ever logged: the pipeline logs ids, statuses and errors only.

Expected outcomes are one line: an ApplicationError is how the pipeline ends an attempt or a run on
purpose (a retry, a delivery that gives up, a 410, the store down), so a record carrying one gets
its type and message, not the traceback of the line that raised it. Any other exception is a
defect, and keeps its traceback."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

CONTEXT_FIELDS = ("workspace_id", "event_id", "webhook_id", "delivery_id", "attempt", "status_code", "outcome")
"""Extra fields a log call may give (`extra={...}`), copied into the JSON line: a delivery's
`attempt` (its count across the first, local attempt and the durable ones) wins over the SDK's."""
SDK_FIELDS = (
    "namespace", "task_queue", "workflow_id", "workflow_type", "workflow_run_id", "run_id",
    "activity_type", "activity_id", "attempt",
)  # fmt: skip
FOLLOW_UP_FIELDS = ("workflow_id", "delivery_id")
"""What a readable line ends with, when the record has them: the ids to look it up by (the Temporal
UI, `webhooks deliveries show`)."""


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The SDK's details of the workflow or activity that logged, then the log call's own fields."""
    fields: dict[str, Any] = {}
    for details in (getattr(record, "temporal_activity", None), getattr(record, "temporal_workflow", None)):
        if isinstance(details, dict):
            fields |= {key: details[key] for key in SDK_FIELDS if key in details}
    return fields | {key: getattr(record, key) for key in CONTEXT_FIELDS if hasattr(record, key)}


def expected_failure(record: logging.LogRecord) -> str | None:
    """The one line for an ApplicationError the record carries; None for anything else."""
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, ApplicationError):
        return f"{error.type or type(error).__name__}: {error.message}"
    return None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= fields_of(record)
        if record.exc_info:
            line["error"] = expected_failure(record) or self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class ReadableFormatter(logging.Formatter):
    """`time LEVEL message [workflow id, delivery id]`, and the traceback of a defect under it."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{self.formatTime(record)} {record.levelname} {record.getMessage()}"
        fields = fields_of(record)
        ids = [str(fields[key]) for key in FOLLOW_UP_FIELDS if fields.get(key)]
        if ids:
            text += f" [{', '.join(ids)}]"
        if record.exc_info:
            expected = expected_failure(record)
            text += f": {expected}" if expected else "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(level: int = logging.INFO, *, as_json: bool | None = None) -> None:
    """Log to stderr; JSON unless stderr is a terminal (or `as_json` says otherwise)."""
    as_json = not sys.stderr.isatty() if as_json is None else as_json
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else ReadableFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # httpx logs every request's full URL at INFO: a webhook's URL is often its credential (a
    # Slack or Zapier hook's path is the secret), and the delivery line says what happened.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Both formatters place the SDK's details themselves, rather than a dict appended to each message.
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False
