"""The body formats a webhook sends, their content types, and a body rendered in one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BodyFormat(StrEnum):
    STANDARD = "standard"
    """The contract's JSON body (models.payload.delivery_body)."""
    JSON = "json"
    """The template rendered as JSON: `application/json`."""
    FORM = "form"
    """The template, a flat JSON object, rendered as `application/x-www-form-urlencoded`."""


JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class RenderedBody:
    content: bytes
    content_type: str
