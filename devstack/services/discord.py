"""Discord's stand-in: execute a webhook."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from devstack.services.checks import is_expected, json_body
from devstack.services.judging import Context, Request, StandIn, Verdict, json_verdict, now

# https://discord.com/developers/docs/resources/webhook#execute-webhook (POST
# /webhooks/{webhook.id}/{webhook.token}, JSON or form; one of content, embeds, components, files
# or poll; content up to 2000 characters; 204 No Content, or 200 with the message when ?wait=true)
# https://discord.com/developers/docs/topics/opcodes-and-status-codes#json (errors {"message",
# "code"}: 10015 Unknown Webhook, 50027 Invalid Webhook Token, 50006 Cannot send an empty message,
# 50035 Invalid Form Body, 50109 invalid JSON)

DEMO_CREDENTIALS = {"webhook_id": "123456789012345678", "token": "demo-discord-webhook-token-000000000000000000000000"}
"""The secret part of the webhook URL."""
DEMO_PRESET_VALUES = {"url": "https://discord.com/api/webhooks/{webhook_id}/{token}".format(**DEMO_CREDENTIALS)}


def discord_error(status: int, message: str, code: int, rejected: str, **extra: Any) -> Verdict:
    return json_verdict(status, {"message": message, "code": code, **extra}, rejected=rejected)


def invalid_form_body(rejected: str, errors: dict[str, Any]) -> Verdict:
    return discord_error(400, "Invalid Form Body", 50035, rejected, errors=errors)


def judge_discord(request: Request, context: Context) -> Verdict:
    match = re.fullmatch(r"/api(?:/v[0-9]+)?/webhooks/([0-9]+)/([A-Za-z0-9_-]+)", request.path)
    if match is None:
        return discord_error(404, "404: Not Found", 0, "not a webhook URL")
    if not is_expected(context.expected, webhook_id=match.group(1)):
        return discord_error(404, "Unknown Webhook", 10015, "unknown webhook")
    if not is_expected(context.expected, token=match.group(2)):
        return discord_error(401, "Invalid Webhook Token", 50027, "wrong token")
    if request.method != "POST":
        return discord_error(405, "405: Method Not Allowed", 0, "method")
    message: Any = {}
    if request.media_type == "application/json":
        message = json_body(
            request, invalid=discord_error(400, "The request body contains invalid JSON.", 50109, "invalid JSON")
        )
    elif request.media_type == "application/x-www-form-urlencoded":
        message = {name: values[0] for name, values in parse_qs(request.body.decode(errors="replace")).items()}
    # Any other type: the body is not read, so the message is empty.
    if not isinstance(message, dict):
        return invalid_form_body("not an object", {})
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        return invalid_form_body(
            "content not a string",
            {"content": {"_errors": [{"code": "BASE_TYPE_STRING", "message": "Must be a string."}]}},
        )
    if isinstance(content, str) and len(content) > 2000:
        return invalid_form_body(
            "content too long",
            {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}},
        )
    if not (content or "").strip() and not any(message.get(name) for name in ("embeds", "components", "poll")):
        return discord_error(
            400, "Cannot send an empty message", 50006, f"empty message ({request.media_type or 'no type'})"
        )
    record = {
        "id": str(1_100_000_000_000_000_000 + context.next_id),
        "type": 0,
        "content": content or "",
        "embeds": message.get("embeds", []),
        "webhook_id": match.group(1),
        "channel_id": "112233445566778899",
        "timestamp": now(),
        "allowed_mentions": message.get("allowed_mentions"),
    }
    if [value.lower() for value in request.query.get("wait", [])] == ["true"]:
        return json_verdict(200, record, created=record)
    return Verdict(204, {}, b"", created=record)


STAND_IN = StandIn(judge_discord, DEMO_CREDENTIALS, DEMO_PRESET_VALUES)
