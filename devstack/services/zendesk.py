"""Zendesk's stand-in: create a ticket."""

from __future__ import annotations

from devstack.services.checks import basic_auth, is_list_of_strings, json_body
from devstack.services.judging import Context, Request, StandIn, Verdict, json_verdict, now

# https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket
# https://developer.zendesk.com/api-reference/introduction/requests/ (Content-Type: application/json
# is required on POST; 201 Created with the resource and a Location header; errors as JSON
# {"error", "description", "details"})
# https://developer.zendesk.com/api-reference/introduction/security-and-auth/ (Basic with
# "{email}/token:{api_token}"; a 401 says "Couldn't authenticate you")

DEMO_CREDENTIALS = {"username": "agent@example.com/token", "password": "demo-zendesk-token"}
"""User `agent@example.com/token`, password the API token."""
DEMO_PRESET_VALUES = {"subdomain": "demo"}

ZENDESK_PRIORITIES = ("urgent", "high", "normal", "low")
ZENDESK_TYPES = ("problem", "incident", "question", "task")
ZENDESK_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")


def zendesk_invalid(details: dict[str, list[dict[str, str]]], why: str) -> Verdict:
    return json_verdict(
        422,
        {"error": "RecordInvalid", "description": "Record validation errors", "details": details},
        rejected=why,
    )


def judge_zendesk(request: Request, context: Context) -> Verdict:
    if request.path not in ("/api/v2/tickets.json", "/api/v2/tickets"):
        return json_verdict(404, {"error": "InvalidEndpoint", "description": "Not found"}, rejected="unknown path")
    if request.method != "POST":
        return json_verdict(405, {"error": "MethodNotAllowed", "description": "Use POST to create a ticket"})
    credentials = basic_auth(request, context.expected, "username", "password")
    if (
        credentials is None
        or not credentials.username.endswith("/token")  # API token authentication: "{email}/token"
        or not credentials.password
    ):
        return json_verdict(401, {"error": "Couldn't authenticate you"}, rejected="authentication")
    if request.media_type != "application/json":
        # The docs require application/json but do not show the refusal: answered in the error shape.
        return json_verdict(
            415,
            {"error": "UnsupportedMediaType", "description": "Content-Type must be application/json"},
            rejected=f"content type {request.media_type or 'missing'}",
        )
    document = json_body(
        request,
        invalid=json_verdict(
            400, {"error": "InvalidJSON", "description": "The request body is not valid JSON"}, rejected="invalid JSON"
        ),
    )
    ticket = document.get("ticket") if isinstance(document, dict) else None
    if not isinstance(ticket, dict):
        return json_verdict(
            400,
            {"error": "ParameterMissing", "description": "param is missing or the value is empty: ticket"},
            rejected="no ticket object",
        )
    comment = ticket.get("comment")
    text = comment.get("body") or comment.get("html_body") if isinstance(comment, dict) else None
    if not isinstance(text, str) or not text.strip():
        return zendesk_invalid(
            {"base": [{"description": "Description: cannot be blank", "error": "BlankValue"}]}, "comment body missing"
        )
    for name, allowed in (("priority", ZENDESK_PRIORITIES), ("type", ZENDESK_TYPES), ("status", ZENDESK_STATUSES)):
        value = ticket.get(name)
        if value is not None and value not in allowed:
            return zendesk_invalid(
                {name: [{"description": f"{name.title()}: is not valid", "error": "InvalidValue"}]},
                f"{name} {value!r} not one of {', '.join(allowed)}",
            )
    for name in ("subject", "external_id"):
        if ticket.get(name) is not None and not isinstance(ticket[name], str):
            return zendesk_invalid(
                {name: [{"description": f"{name}: must be a string", "error": "InvalidValue"}]}, f"{name} not a string"
            )
    tags = ticket.get("tags", [])
    if not is_list_of_strings(tags):
        return zendesk_invalid(
            {"tags": [{"description": "Tags: must be a list of strings", "error": "InvalidValue"}]}, "tags"
        )
    url = f"https://{request.host}{request.base}/api/v2/tickets/{context.next_id}.json"
    record = {
        "url": url,
        "id": context.next_id,
        "external_id": ticket.get("external_id"),
        "type": ticket.get("type"),
        "subject": ticket.get("subject") or text.strip().splitlines()[0][:150],
        "raw_subject": ticket.get("subject"),
        "description": text,
        "priority": ticket.get("priority"),
        "status": ticket.get("status") or "new",
        "requester_id": 1,
        "submitter_id": 1,
        # Zendesk lower-cases tags and splits them on spaces.
        "tags": sorted({part.lower() for tag in tags for part in tag.split()}),
        "created_at": now(),
        "updated_at": now(),
    }
    return json_verdict(201, {"ticket": record}, headers={"location": url}, created=record)


STAND_IN = StandIn(judge_zendesk, DEMO_CREDENTIALS, DEMO_PRESET_VALUES)
