"""What every stand-in's judge works with: the request it reads (`Request`, `Context`) and the answer
it gives (`Verdict`, built with `json_verdict` / `text_verdict`, or raised early as `Refused`); a
service's `StandIn` is its judge with the credentials it expects."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    """The service's own path, after /svc/{service}, without the query."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes
    base: str
    """`/svc/{service}`: where the stand-in lives on this server."""

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def host(self) -> str:
        return self.headers.get("host", "127.0.0.1")


@dataclass(frozen=True)
class Echo:
    """What a GET of an Apps Script redirect target answers."""

    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Context:
    """What a judge may read: the credentials to expect (None: any well-formed one), what the
    service accepted before, an id and a random key for this request, the Apps Script echoes."""

    expected: Mapping[str, str] | None
    created: Sequence[Mapping[str, Any]]
    next_id: int
    key: str
    echoes: Mapping[str, Echo]


@dataclass
class Verdict:
    status: int
    headers: dict[str, str]
    body: bytes
    created: dict[str, Any] | None = None
    """The record the service made (a ticket, a contact, a row, a message), if any."""
    rejected: str | None = None
    """Why the service refused (or silently dropped) the request, if it did."""
    echo: tuple[str, Echo] | None = None
    """Google Sheets: the redirect target this request made."""


class Refused(Exception):
    """The judge's answer, given before the judge is done: raised by a shared check (checks.json_body)
    with the refusal the judge passed it, in the service's own shape; the emulator answers it."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.rejected)
        self.verdict = verdict


Judge = Callable[[Request, Context], Verdict]
"""The answer to a request for one of the service's paths (it may raise `Refused` instead)."""


@dataclass(frozen=True)
class StandIn:
    judge: Judge
    credentials: dict[str, str]
    """What the judge expects unless the emulator is told otherwise (DEMO_CREDENTIALS)."""
    preset_values: dict[str, str]
    """What fills the service's preset in so that it matches `credentials` (DEMO_PRESET_VALUES)."""


def json_verdict(
    status: int,
    document: Any,
    *,
    content_type: str = "application/json; charset=utf-8",
    headers: Mapping[str, str] | None = None,
    created: dict[str, Any] | None = None,
    rejected: str | None = None,
) -> Verdict:
    return Verdict(
        status,
        {"content-type": content_type, **(headers or {})},
        json.dumps(document).encode(),
        created=created,
        rejected=rejected,
    )


def text_verdict(status: int, text: str, content_type: str = "text/html", rejected: str | None = None) -> Verdict:
    return Verdict(status, {"content-type": content_type}, text.encode(), rejected=rejected)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
