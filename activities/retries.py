"""How a durable attempt ends when it did not succeed: retried after a delay it sets itself, or
given up for good, with the outcome attached for the workflow to read."""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from core.schedule import format_delay

GAVE_UP = "DeliveryGaveUp"
RETRYING = "DeliveryFailed"


def retry_later(detail: str, delay: timedelta) -> NoReturn:
    """End this attempt; the next one comes after `delay` (the schedule's, or the receiver's)."""
    raise ApplicationError(
        f"{detail}; next attempt in {format_delay(delay)}",
        type=RETRYING,
        next_retry_delay=delay,
        # An expected outcome, not a fault of the worker: the SDK logs it at debug level.
        category=ApplicationErrorCategory.BENIGN,
    )


def give_up(detail: str, *details: object) -> NoReturn:
    """End the activity for good: no more retries; `details` reach the workflow with the failure."""
    raise ApplicationError(detail, *details, type=GAVE_UP, non_retryable=True, category=ApplicationErrorCategory.BENIGN)
