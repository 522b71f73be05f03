"""Every stand-in on one server: `ServiceEmulator` sends a request for `/svc/{service}/...` to the
service's judge and keeps what each service accepted and refused."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.services.judging import Context, Echo, Refused, Request
from devstack.services.stand_ins import DEMO_CREDENTIALS, JUDGES


@dataclass
class ServiceEmulator:
    """Every stand-in on one server, under /svc/{service}/... Thread-safe: the receiver answers
    each request on its own thread."""

    credentials: dict[str, dict[str, str]] = field(
        default_factory=lambda: {service: dict(values) for service, values in DEMO_CREDENTIALS.items()}
    )
    """What each service expects; a service left out accepts any well-formed credential."""
    created: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {service: [] for service in JUDGES})
    """Per service: what it accepted (tickets, contacts, leads, members, messages, sheet rows)."""
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """(service, reason) for each request refused, or accepted and dropped (Salesforce, Apps Script)."""
    _echoes: dict[str, Echo] = field(default_factory=dict, repr=False)
    _count: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def rows(self) -> list[list[str]]:
        """The Google Sheet: one row per delivery the script appended."""
        with self._lock:
            return [list(record["row"]) for record in self.created["google_sheets"]]

    def reset(self) -> None:
        with self._lock:
            for records in self.created.values():
                records.clear()
            self.rejected.clear()
            self._echoes.clear()

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        """The service's answer to a request for `/svc/{service}/...`; None for any other path."""
        parts = urlsplit(path)
        match = re.fullmatch(r"/svc/([A-Za-z0-9_-]+)(/.*)?", parts.path)
        if match is None:
            return None
        service = match.group(1)
        judge = JUDGES.get(service)
        if judge is None:
            with self._lock:
                self.rejected.append((service, "unknown service"))
            document = {"error": f"no stand-in for {service!r}; services: {', '.join(JUDGES)}"}
            return 404, {"content-type": "application/json"}, json.dumps(document).encode()
        request = Request(
            method=method.upper(),
            path=match.group(2) or "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in headers.items()},
            body=body,
            base=f"/svc/{service}",
        )
        with self._lock:
            self._count += 1
            context = Context(
                expected=self.credentials.get(service),
                created=list(self.created[service]),
                next_id=self._count,
                key=secrets.token_urlsafe(32),
                echoes=dict(self._echoes),
            )
            try:
                verdict = judge(request, context)
            except Refused as refused:
                verdict = refused.verdict
            if verdict.created is not None:
                self.created[service].append(verdict.created)
            if verdict.rejected is not None:
                self.rejected.append((service, verdict.rejected))
            if verdict.echo is not None:
                self._echoes[verdict.echo[0]] = verdict.echo[1]
        return verdict.status, dict(verdict.headers), verdict.body
