"""Freshdesk's stand-in: create a ticket."""

from __future__ import annotations

import re

from devstack.services.checks import EMAIL, basic_auth, is_list_of_strings, json_body
from devstack.services.judging import Context, Request, StandIn, Verdict, json_verdict, now

# https://developers.freshdesk.com/api/#create_ticket (requester: one of requester_id, email,
# facebook_id, phone, twitter_id, unique_external_id; name when phone is set without email; status
# 2-5, priority 1-4, source 1/2/3/5/6/7/9/10; 201 Created)
# https://developers.freshdesk.com/api/#authentication (Basic: the API key as user name, any
# password, "X" in the examples)
# https://developers.freshdesk.com/api/#error (400 {"description": "Validation failed", "errors":
# [{"field", "message", "code"}]}; 401 invalid_credentials; 415 for an unsupported Content-Type)

DEMO_CREDENTIALS = {"username": "demo-freshdesk-api-key", "password": "X"}
"""The API key as user name (any password; the docs use X)."""
DEMO_PRESET_VALUES = {"domain": "demo"}

FRESHDESK_REQUESTER = ("requester_id", "email", "facebook_id", "phone", "twitter_id", "unique_external_id")
FRESHDESK_STATUSES = (2, 3, 4, 5)
FRESHDESK_PRIORITIES = (1, 2, 3, 4)
FRESHDESK_SOURCES = (1, 2, 3, 5, 6, 7, 9, 10)
FRESHDESK_INVALID_JSON = {"code": "invalid_json", "message": "Request body has invalid json format"}


def judge_freshdesk(request: Request, context: Context) -> Verdict:
    if request.path != "/api/v2/tickets":
        return json_verdict(404, {"code": "invalid_url", "message": "Not found"}, rejected="unknown path")
    if request.method != "POST":
        return json_verdict(405, {"code": "method_not_allowed", "message": "GET, POST method is allowed"})
    credentials = basic_auth(request, context.expected, "username")  # any password
    if credentials is None or not credentials.username:
        return json_verdict(
            401,
            {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."},
            rejected="authentication",
        )
    if request.media_type != "application/json":
        return json_verdict(
            415,
            {
                "code": "invalid_content_type",
                "message": f"Content-Type header is set to {request.media_type or 'nothing'}. "
                "It should be set to application/json",
            },
            rejected=f"content type {request.media_type or 'missing'}",
        )
    ticket = json_body(request, invalid=json_verdict(400, FRESHDESK_INVALID_JSON, rejected="invalid JSON"))
    if not isinstance(ticket, dict):
        return json_verdict(400, FRESHDESK_INVALID_JSON, rejected="not an object")
    errors: list[dict[str, str]] = []

    def error(name: str, message: str, code: str) -> None:
        errors.append({"field": name, "message": message, "code": code})

    if not any(ticket.get(name) not in (None, "") for name in FRESHDESK_REQUESTER):
        error(
            "requester_id",
            "Please fill at least 1 of requester_id, email, facebook_id, phone, twitter_id, unique_external_id fields",
            "missing_field",
        )
    for name in ("subject", "description"):
        if name not in ticket:
            error(name, "It should be a/an String", "missing_field")
        elif not isinstance(ticket[name], str):
            error(name, "It should be a/an String", "datatype_mismatch")
    for name, allowed in (("status", FRESHDESK_STATUSES), ("priority", FRESHDESK_PRIORITIES)):
        if name not in ticket:
            error(name, "It should be a/an Integer", "missing_field")
        elif not isinstance(ticket[name], int) or isinstance(ticket[name], bool):
            error(name, "It should be a/an Integer", "datatype_mismatch")
        elif ticket[name] not in allowed:
            error(name, f"It should be one of these values: '{','.join(map(str, allowed))}'", "invalid_value")
    source = ticket.get("source")
    if source is not None and source not in FRESHDESK_SOURCES:
        error("source", f"It should be one of these values: '{','.join(map(str, FRESHDESK_SOURCES))}'", "invalid_value")
    for name in ("name", "email", "phone", "unique_external_id", "type"):
        if ticket.get(name) is not None and not isinstance(ticket[name], str):
            error(name, "It should be a/an String", "datatype_mismatch")
    if isinstance(ticket.get("email"), str) and not EMAIL.fullmatch(ticket["email"]):
        error("email", "It should contain elements in a valid email format", "invalid_value")
    if ticket.get("phone") and not ticket.get("email") and not ticket.get("name"):
        error("name", "It should be a/an String", "missing_field")
    tags = ticket.get("tags", [])
    if not is_list_of_strings(tags):
        error("tags", "It should be a/an Array", "datatype_mismatch")
    if errors:
        return json_verdict(
            400,
            {"description": "Validation failed", "errors": errors},
            rejected="; ".join(f"{e['field']}: {e['code']}" for e in errors),
        )
    record = {
        "id": context.next_id,
        "subject": ticket["subject"],
        "description": ticket["description"],
        "description_text": re.sub(r"<[^>]+>", " ", ticket["description"]).strip(),
        "status": ticket["status"],
        "priority": ticket["priority"],
        "source": ticket.get("source", 2),
        "requester_id": 1000 + context.next_id,
        "unique_external_id": ticket.get("unique_external_id"),
        "name": ticket.get("name"),
        "email": ticket.get("email"),
        "tags": tags,
        "type": ticket.get("type"),
        "created_at": now(),
        "updated_at": now(),
    }
    return json_verdict(
        201, record, headers={"location": f"{request.base}/api/v2/tickets/{context.next_id}"}, created=record
    )


STAND_IN = StandIn(judge_freshdesk, DEMO_CREDENTIALS, DEMO_PRESET_VALUES)
