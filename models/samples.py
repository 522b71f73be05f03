"""A well-formed example of every trigger type: for tests, benchmarks, the docs and test sends."""

from __future__ import annotations

from typing import Any

SAMPLE_DATA: dict[str, dict[str, Any]] = {
    "tag.applied": {"tag": "Order Closed"},
    "tag.removed": {"tag": "Order Closed"},
    "custom_field.changed": {"field": "email", "old_value": None, "new_value": "jane@example.com"},
    "datetime.reached": {
        "field": "appointment_at",
        "field_value": "2026-12-01T15:00:00+07:00",
        "offset": "-1d",
        "scheduled_for": "2026-11-30T08:00:00Z",
    },
    "conversation.transferred": {"to": "human", "agent_id": "agent_7"},
    "contact.created": {"source": "ad"},
    "broadcast.unsubscribed": {},
    "contact.archived": {},
    "conversation.follow_up": {},
    "conversation.assigned": {"agent_id": "agent_7", "agent_name": "Sam"},
    "conversation.unassigned": {"agent_id": "agent_7"},
    "sequence.subscribed": {"sequence_id": "seq_onboarding", "sequence_name": "Onboarding"},
    "sequence.unsubscribed": {"sequence_id": "seq_onboarding", "sequence_name": "Onboarding"},
    "referral.new_contact": {"referred_contact_id": "c_77", "entry_point_link_id": "link_spring"},
    "referral.existing_contact": {
        "referred_contact_id": "c_78",
        "entry_point_link_id": "link_spring",
    },
}


def sample_event(
    type: str,
    *,
    event_id: str = "evt_sample",
    workspace_id: str = "ws_acme",
    contact_id: str = "c_42",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The contract's event as JSON-ready data; `data` replaces the type's sample data."""
    return {
        "event_id": event_id,
        "workspace_id": workspace_id,
        "type": type,
        "occurred_at": "2026-11-24T10:00:00Z",
        "contact": {
            "id": contact_id,
            "name": "Jane Doe",
            "channel": "messenger",
            "timezone": "Asia/Ho_Chi_Minh",
            "tags": ["VIP", "Order Closed"],
            "custom_fields": {
                "email": "jane@example.com",
                "appointment_at": "2026-12-01T15:00:00+07:00",
            },
        },
        "data": dict(SAMPLE_DATA[type] if data is None else data),
    }
