"""What a re-run of failed deliveries touched: the API's and the command line's answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class RedeliveryAction(StrEnum):
    RESET = "reset"
    """The event's workflow was reset to its first task, with the reason: a new run, linked to the old."""
    STARTED = "started"
    """Its workflow is gone (past retention) or is a DateTime timer: a new event workflow was started
    from the stored event."""
    SKIPPED = "skipped"
    """Running still, or completed with nothing failed."""


class Redelivery(BaseModel):
    workflow_id: str
    action: RedeliveryAction
    run_id: str | None = None
    detail: str
    ui_url: str | None = None


class WebhookRedelivery(BaseModel):
    """Re-send a webhook's failed deliveries of events first seen in [since, until)."""

    since: datetime | None = None
    until: datetime | None = None
    """Without a zone: UTC."""
    reason: str = Field(default="redelivery requested", max_length=500)
    dry_run: bool = False
    """Only say which workflows it would touch."""


class RedeliveryReport(BaseModel):
    count: int
    workflow_ids: list[str]
    results: list[Redelivery] = Field(default_factory=list)
    dry_run: bool = False
    skipped: list[Redelivery] = Field(default_factory=list)
    """Failed workflows a visibility query matched but that were not re-run: the ledger says every
    delivery they gave up on was delivered since (or is being tried again), and by which run."""
