"""The webhook form: what a browser posts, turned into the API's models, and the API's errors
turned back into a message per field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from core.errors import ServiceError
from models.events import FILTER_KEYS

CONDITION_LABELS: dict[str, tuple[str, str]] = {
    # key: (label, hint)
    "tag": ("Tag", "the tag's name, e.g. Order Closed; empty for any tag"),
    "field": ("Custom field", "the custom field's key, e.g. email"),
    "offset": ("Offset", "-1d, +2h, 30m or 0: when, relative to the field's date"),
    "time_of_day": ("Time of day", "HH:MM on the resulting day, optional"),
    "to": ("Transferred to", "human or bot; empty for either"),
    "agent_id": ("Agent id", "empty for any agent"),
    "sequence_id": ("Sequence id", "empty for any sequence"),
    "entry_point_link_id": ("Entry point link id", "empty for any link"),
}
FORM_FIELDS = ("name", "folder_id", "event_type", "filter", "url", "headers")


@dataclass
class WebhookForm:
    """The form's values as typed (shown again when something is wrong), and its errors."""

    name: str = ""
    folder_id: str = ""
    event_type: str = "tag.applied"
    filter: dict[str, str] = field(default_factory=dict)
    url: str = ""
    headers: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> WebhookForm:
        headers = "\n".join(f"{k}: {v}" for k, v in (values.get("headers") or {}).items())
        return cls(
            name=values["name"],
            folder_id=values.get("folder_id") or "",
            event_type=values["event_type"],
            filter=dict(values.get("filter") or {}),
            url=values["url"],
            headers=headers,
        )

    @classmethod
    def from_post(cls, form: FormData) -> WebhookForm:
        event_type = str(form.get("event_type", ""))
        conditions = {
            key: str(form.get(f"filter.{event_type}.{key}", "")).strip() for key in FILTER_KEYS.get(event_type, ())
        }
        return cls(
            name=str(form.get("name", "")),
            folder_id=str(form.get("folder_id", "")),
            event_type=event_type,
            filter={key: value for key, value in conditions.items() if value},
            url=str(form.get("url", "")).strip(),
            headers=str(form.get("headers", "")),
        )

    def values(self) -> dict[str, Any]:
        """What the API takes for a webhook, from the form."""
        return {
            "name": self.name,
            "folder_id": self.folder_id or None,
            "event_type": self.event_type,
            "filter": self.filter,
            "url": self.url,
            "headers": self.parsed_headers(),
        }

    def parsed_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for number, line in enumerate(self.headers.splitlines(), 1):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise FieldError(f"line {number}: write each header as Name: value", "headers")
            headers[name.strip()] = value.strip()
        return headers

    def refuse(self, err: ServiceError) -> None:
        """Put the API's message next to the field it names (`filter.tag` goes with the conditions)."""
        where = (err.field or "").split(".")[0]
        self.errors[where if where in FORM_FIELDS else "form"] = err.message

    def condition_value(self, event_type: str, key: str) -> str:
        return self.filter.get(key, "") if event_type == self.event_type else ""


class FieldError(ServiceError):
    """A form field the API's models never see in that shape (the headers' lines)."""

    status = 422
