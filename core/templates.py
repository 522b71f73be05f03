"""Request bodies shaped for the receiver: a JSON document with placeholders, rendered per event.

(Skeleton: being written. See the module docstring once complete.)
"""

from __future__ import annotations

from enum import StrEnum


class BodyFormat(StrEnum):
    STANDARD = "standard"
    """The contract's JSON body (models.payload.delivery_body)."""
    JSON = "json"
    """The template rendered as JSON: `application/json`."""
    FORM = "form"
    """The template, a flat JSON object, rendered as `application/x-www-form-urlencoded`."""
