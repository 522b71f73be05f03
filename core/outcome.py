"""What an HTTP answer means for a delivery (the contract's section 2), with no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    """410: stop retrying and turn the webhook off."""
    RETRY = "retry"


@dataclass(frozen=True)
class Classified:
    verdict: Verdict
    detail: str
    honours_retry_after: bool = False


def classify(status_code: int, location: str | None = None) -> Classified:
    if 200 <= status_code < 300:
        return Classified(Verdict.DELIVERED, f"HTTP {status_code}")
    if status_code == 410:
        return Classified(Verdict.GONE, "HTTP 410 Gone: the endpoint asked not to be called again")
    if 300 <= status_code < 400:
        where = f" to {location}" if location else ""
        return Classified(Verdict.RETRY, f"HTTP {status_code}: redirect{where} not followed")
    return Classified(Verdict.RETRY, f"HTTP {status_code}", honours_retry_after=status_code in (429, 503))
