"""The request a webhook sends for an event, shaped for its receiver, with no I/O: the body (the
contract's JSON, or the webhook's template rendered), its content type, the webhook's own headers
and its authentication. The delivery activity sends it; the preview shows it, secrets masked."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from core.templates import BodyFormat, render, template_context
from models.payload import delivery_body
from models.tables import MASK, BasicAuth, BearerAuth, Webhook

JSON_CONTENT_TYPE = "application/json"
USER_AGENT = f"chatbot-webhooks/{version('chatbot-webhooks')}"


@dataclass(frozen=True)
class ShapedRequest:
    url: str
    body: bytes
    content_type: str
    headers: dict[str, str]
    """The webhook's own headers and its authentication: what a redirect to another host drops
    unless the webhook forwards credentials."""


def shape_request(hook: Webhook, event: dict[str, Any], delivery_id: str) -> ShapedRequest:
    """Raises core.templates.TemplateError when the template cannot render this event (its output
    too large, say): no attempt will do better, so the delivery gives up."""
    if hook.body_format == BodyFormat.STANDARD or not hook.body_template:
        body = json.dumps(delivery_body(event, hook.id, hook.name), separators=(",", ":")).encode()
        content_type = JSON_CONTENT_TYPE
    else:
        rendered = render(
            hook.body_template, BodyFormat(hook.body_format), template_context(event, hook.id, hook.name, delivery_id)
        )
        body, content_type = rendered.content, rendered.content_type
    return ShapedRequest(hook.url, body, content_type, {**hook.headers, **auth_headers(hook.receiver_auth)})


def auth_headers(auth: BasicAuth | BearerAuth | None, *, masked: bool = False) -> dict[str, str]:
    if auth is None:
        return {}
    if isinstance(auth, BasicAuth):
        token = MASK if masked else base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        return {"authorization": f"Basic {token}"}
    return {"authorization": f"Bearer {MASK if masked else auth.token}"}
