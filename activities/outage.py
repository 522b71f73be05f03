"""A store that cannot be reached (down, restarting, a connection cut) is a passing condition:
the attempt ends with one log line and is retried on the activity's retry policy, instead of
a traceback per attempt burying everything else in the worker's log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from store.db import STORE_UNAVAILABLE

STORE_DOWN = "StoreUnavailable"


def outage_cause(err: Exception) -> str:
    """The driver's own words (one line), without SQLAlchemy's statement and background link."""
    return " ".join(str(getattr(err, "orig", None) or err).split())


@contextmanager
def store_outage_retried() -> Iterator[None]:
    try:
        yield
    except STORE_UNAVAILABLE as err:
        cause = outage_cause(err)
        activity.logger.warning("store unavailable, the attempt will be retried: %s", cause)
        raise ApplicationError(
            f"store unavailable: {cause}", type=STORE_DOWN, category=ApplicationErrorCategory.BENIGN
        ) from None
