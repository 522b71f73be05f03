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


REDIRECT_HINT = (
    "this webhook does not follow redirects; if the receiver redirects on purpose (a Google Apps Script "
    "web app does), turn on follow_redirects (console: Follow redirects; CLI: webhooks hook update ID "
    "--follow-redirects)"
)


def classify(status_code: int, location: str | None = None, *, hint_redirects: bool = False) -> Classified:
    """`hint_redirects`: say how to follow a redirect (for a webhook that does not)."""
    if 200 <= status_code < 300:
        return Classified(Verdict.DELIVERED, f"HTTP {status_code}")
    if status_code == 410:
        return Classified(Verdict.GONE, "HTTP 410 Gone: the endpoint asked not to be called again")
    if 300 <= status_code < 400:
        where = f" to {location}" if location else ""
        hint = f"; {REDIRECT_HINT}" if hint_redirects else ""
        return Classified(Verdict.RETRY, f"HTTP {status_code}: redirect{where} not followed{hint}")
    return Classified(Verdict.RETRY, f"HTTP {status_code}", honours_retry_after=status_code in (429, 503))
