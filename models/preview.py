"""What a webhook would send for an event, shown without sending it (API, CLI, console)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class RequestPreview(BaseModel):
    method: str = "POST"
    url: str
    headers: dict[str, str]
    """As sent, but with credentials masked and the signature left to the moment of sending."""
    body: str
    content_type: str
    follow_redirects: bool
    event: dict[str, Any]
    """The sample event of the webhook's trigger the request was rendered for."""


class ReceiverAnswer(BaseModel):
    """What a test send came to: the ledger's record of the receiver's answer."""

    status: str
    status_code: int | None
    excerpt: str | None
    """The start of the receiver's answer (up to 1 KiB)."""
    error: str | None
    redirects: list[dict[str, Any]] | None = None
    next_attempt_at: datetime | None = None
    """While it is retried: when the next attempt is due."""
