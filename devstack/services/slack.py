"""Slack's stand-in: an incoming webhook."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from devstack.services.checks import parse_json
from devstack.services.judging import Context, Request, StandIn, Verdict, text_verdict

# https://api.slack.com/messaging/webhooks (POST JSON with "text", or blocks/attachments; 200 "ok")
# https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks (400
# invalid_payload, 403 action_prohibited / invalid_token, 404 no_service / channel_not_found, as
# plain strings in the body)

DEMO_CREDENTIALS = {"path": "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"}
"""The secret part of the webhook URL."""
DEMO_PRESET_VALUES = {"url": "https://hooks.slack.com/services/" + DEMO_CREDENTIALS["path"]}


def judge_slack(request: Request, context: Context) -> Verdict:
    match = re.fullmatch(r"/services/(T[A-Z0-9]+)/(B[A-Z0-9]+)/([A-Za-z0-9]+)", request.path)
    if match is None:
        return text_verdict(404, "no_service", rejected="not a webhook URL")
    if context.expected is not None:
        team, bot, secret = context.expected["path"].split("/")
        if (match.group(1), match.group(2)) != (team, bot):
            return text_verdict(404, "no_service", rejected="unknown webhook")
        if match.group(3) != secret:
            return text_verdict(403, "invalid_token", rejected="wrong token")
    if request.method != "POST":
        return text_verdict(405, "invalid_method", rejected="method")
    try:
        if request.media_type == "application/json":
            message = parse_json(request.body)
        elif request.media_type == "application/x-www-form-urlencoded":
            message = parse_json(parse_qs(request.body.decode())["payload"][0].encode())
        else:
            raise ValueError(request.media_type)
    except (ValueError, KeyError, UnicodeDecodeError):
        return text_verdict(400, "invalid_payload", rejected=f"invalid payload ({request.media_type or 'no type'})")
    if not isinstance(message, dict) or ("text" in message and not isinstance(message["text"], str)):
        return text_verdict(400, "invalid_payload", rejected="invalid payload")
    if not (message.get("text") or "").strip() and not message.get("blocks") and not message.get("attachments"):
        return text_verdict(400, "no_text", rejected="no text")
    record = {"id": context.next_id, "channel_webhook": match.group(2), **message}
    verdict = text_verdict(200, "ok")
    verdict.created = record
    return verdict


STAND_IN = StandIn(judge_slack, DEMO_CREDENTIALS, DEMO_PRESET_VALUES)
