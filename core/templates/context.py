"""The names a placeholder starts with, and their values for one delivery of an event."""

from __future__ import annotations

from core.templates.tree import Json
from models.payload import delivery_body

ROOTS = (
    "contact",
    "event",
    "payload",
    "webhook",
    "type",
    "event_id",
    "workspace_id",
    "occurred_at",
    "delivery_id",
    "test",
)


def template_context(event: dict[str, Json], webhook_id: str, webhook_name: str, delivery_id: str) -> dict[str, Json]:
    """The names a placeholder starts with, from the event as stored (its JSON form)."""
    return {
        "type": event["type"],
        "event_id": event["event_id"],
        "workspace_id": event["workspace_id"],
        "occurred_at": event["occurred_at"],
        "contact": event["contact"],
        "event": event.get("data", {}),
        "webhook": {"id": webhook_id, "name": webhook_name},
        "delivery_id": delivery_id,
        "test": bool(event.get("test_webhook_id")),
        "payload": delivery_body(event, webhook_id, webhook_name),
    }
