"""Local stand-ins for the services the receiver presets send to (models.presets): a judge per
service, written from its public API documentation, that checks a request as the real service
would (path and its ids, method, content type, authentication, required fields and their types)
and answers what the service answers, on success and on failure.

`ServiceEmulator.answer(method, path, headers, body)` takes requests to `/svc/{service}/...`
followed by the service's own path, so `http://127.0.0.1:PORT/svc/zendesk/api/v2/tickets.json`
stands in for `https://acme.zendesk.com/api/v2/tickets.json`. Put one behind the dev stack's
receiver (`Receiver(services=ServiceEmulator())`) and point a webhook made from a preset there
(`stand_in_url`). What each service accepted is kept in `created[service]`, what it refused in
`rejected`.

The credentials each stand-in expects are DEMO_CREDENTIALS (`demo_auth(service)` gives them in the
shape of a webhook's `auth`); an emulator built with `credentials={}` accepts any well-formed one.

Where the documentation leaves an answer open (the exact body of a 415, say) the judge answers in
the service's documented error shape and says so in a comment. Two services answer success for
requests they drop, as the real ones do: Salesforce Web-to-Lead (always 200) and an Apps Script
web app whose script throws (its error page comes with a 200); both note the drop in `rejected`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from models.presets import PRESETS, apply_preset
from models.tables import BasicAuth, BearerAuth

DEMO_CREDENTIALS: dict[str, dict[str, str]] = {
    "google_sheets": {"deployment_id": "AKfycbDEMO-deployment-0000000000000000000000"},
    "zendesk": {"username": "agent@example.com/token", "password": "demo-zendesk-token"},
    "freshdesk": {"username": "demo-freshdesk-api-key", "password": "X"},
    "hubspot": {"token": "pat-na1-demo-hubspot-token"},
    "salesforce": {"oid": "00D5g000004DEMO"},
    "mailchimp": {
        "username": "anystring",
        "password": "demomailchimpkey0000000000000000-us21",
        "list_id": "a1b2c3d4e5",
    },
    "slack": {"path": "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"},
    "discord": {"webhook_id": "123456789012345678", "token": "demo-discord-webhook-token-000000000000000000000000"},
}
"""What each stand-in expects. Zendesk: user `agent@example.com/token`, password the API token.
Freshdesk: the API key as user name (any password; the docs use X). HubSpot: the Bearer token.
Mailchimp: any user name, the API key as password (its `-us21` suffix is the data center), audience
`a1b2c3d4e5`. Salesforce: the org's `oid` in the form. Slack and Discord: the secret part of the
webhook URL. Google Sheets: the web app's deployment ID."""

DEMO_PRESET_VALUES: dict[str, dict[str, str]] = {
    "google_sheets": {"deployment_id": DEMO_CREDENTIALS["google_sheets"]["deployment_id"]},
    "zendesk": {"subdomain": "demo"},
    "freshdesk": {"domain": "demo"},
    "hubspot": {},
    "salesforce": {"oid": DEMO_CREDENTIALS["salesforce"]["oid"]},
    "mailchimp": {"dc": "us21", "list_id": DEMO_CREDENTIALS["mailchimp"]["list_id"]},
    "slack": {"url": "https://hooks.slack.com/services/" + DEMO_CREDENTIALS["slack"]["path"]},
    "discord": {
        "url": "https://discord.com/api/webhooks/{webhook_id}/{token}".format(**DEMO_CREDENTIALS["discord"]),
    },
}
"""The values to fill each preset in with so that it matches the stand-in's credentials."""


def demo_auth(service: str) -> BasicAuth | BearerAuth | None:
    """The stand-in's credentials as a webhook's `auth` (None for the services that take none)."""
    preset = PRESETS[service]
    creds = DEMO_CREDENTIALS[service]
    if preset.auth == "basic":
        return BasicAuth(username=creds["username"], password=creds["password"])
    if preset.auth == "bearer":
        return BearerAuth(token=creds["token"])
    return None


def stand_in_url(base_url: str, service: str, values: Mapping[str, str] | None = None) -> str:
    """The preset's URL (filled in with `values`, by default DEMO_PRESET_VALUES) moved under
    `{base_url}/svc/{service}`: the local stand-in for the real service."""
    url = apply_preset(service, dict(DEMO_PRESET_VALUES[service] if values is None else values))["url"]
    parts = urlsplit(url)
    return f"{base_url.rstrip('/')}/svc/{service}{parts.path}" + (f"?{parts.query}" if parts.query else "")


# --- requests and verdicts -------------------------------------------------------------------------


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


Judge = Callable[[Request, Context], Verdict]


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


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) from `Authorization: Basic base64(user:password)`; None when absent or malformed."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def parse_json(body: bytes) -> Any:
    """The body as JSON; ValueError when it is not."""
    return json.loads(body.decode("utf-8"))


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Zendesk: create a ticket -------------------------------------------------------------------------
# https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket
# https://developer.zendesk.com/api-reference/introduction/requests/ (Content-Type: application/json
# is required on POST; 201 Created with the resource and a Location header; errors as JSON
# {"error", "description", "details"})
# https://developer.zendesk.com/api-reference/introduction/security-and-auth/ (Basic with
# "{email}/token:{api_token}"; a 401 says "Couldn't authenticate you")

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
    credentials = basic_credentials(request)
    if (
        credentials is None
        or not credentials[0].endswith("/token")  # API token authentication: "{email}/token"
        or not credentials[1]
        or (
            context.expected is not None and credentials != (context.expected["username"], context.expected["password"])
        )
    ):
        return json_verdict(401, {"error": "Couldn't authenticate you"}, rejected="authentication")
    if request.media_type != "application/json":
        # The docs require application/json but do not show the refusal: answered in the error shape.
        return json_verdict(
            415,
            {"error": "UnsupportedMediaType", "description": "Content-Type must be application/json"},
            rejected=f"content type {request.media_type or 'missing'}",
        )
    try:
        document = parse_json(request.body)
    except ValueError:
        return json_verdict(
            400, {"error": "InvalidJSON", "description": "The request body is not valid JSON"}, rejected="invalid JSON"
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
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
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


# --- Freshdesk: create a ticket -------------------------------------------------------------------------
# https://developers.freshdesk.com/api/#create_ticket (requester: one of requester_id, email,
# facebook_id, phone, twitter_id, unique_external_id; name when phone is set without email; status
# 2-5, priority 1-4, source 1/2/3/5/6/7/9/10; 201 Created)
# https://developers.freshdesk.com/api/#authentication (Basic: the API key as user name, any
# password, "X" in the examples)
# https://developers.freshdesk.com/api/#error (400 {"description": "Validation failed", "errors":
# [{"field", "message", "code"}]}; 401 invalid_credentials; 415 for an unsupported Content-Type)

FRESHDESK_REQUESTER = ("requester_id", "email", "facebook_id", "phone", "twitter_id", "unique_external_id")
FRESHDESK_STATUSES = (2, 3, 4, 5)
FRESHDESK_PRIORITIES = (1, 2, 3, 4)
FRESHDESK_SOURCES = (1, 2, 3, 5, 6, 7, 9, 10)


def judge_freshdesk(request: Request, context: Context) -> Verdict:
    if request.path != "/api/v2/tickets":
        return json_verdict(404, {"code": "invalid_url", "message": "Not found"}, rejected="unknown path")
    if request.method != "POST":
        return json_verdict(405, {"code": "method_not_allowed", "message": "GET, POST method is allowed"})
    credentials = basic_credentials(request)
    if (
        credentials is None
        or not credentials[0]
        or (context.expected is not None and credentials[0] != context.expected["username"])
    ):
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
    try:
        ticket = parse_json(request.body)
    except ValueError:
        return json_verdict(
            400, {"code": "invalid_json", "message": "Request body has invalid json format"}, rejected="invalid JSON"
        )
    if not isinstance(ticket, dict):
        return json_verdict(
            400, {"code": "invalid_json", "message": "Request body has invalid json format"}, rejected="not an object"
        )
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
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
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


# --- HubSpot: create a contact ---------------------------------------------------------------------
# https://developers.hubspot.com/docs/api/crm/contacts (POST /crm/v3/objects/contacts with a
# "properties" object, at least one of email, firstname, lastname; 201 with id and properties;
# 409 when a contact has that e-mail already)
# https://developers.hubspot.com/docs/api/private-apps (Authorization: Bearer <access token>)
# https://developers.hubspot.com/docs/faq/api-error-responses ({"status": "error", "message",
# "correlationId", "category"}; 401 when the authentication is invalid)

HUBSPOT_PROPERTIES = frozenset(
    {
        "email",
        "firstname",
        "lastname",
        "phone",
        "mobilephone",
        "company",
        "website",
        "jobtitle",
        "lifecyclestage",
        "hs_lead_status",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "message",
        "hubspot_owner_id",
        "fax",
        "industry",
        "date_of_birth",
        "salutation",
        "hs_language",
    }
)
"""Default contact properties the stand-in knows; HubSpot refuses others until they are created."""
HUBSPOT_LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)


def hubspot_error(status: int, message: str, category: str, rejected: str, **extra: Any) -> Verdict:
    document = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return json_verdict(status, {**document, **extra}, rejected=rejected)


def judge_hubspot(request: Request, context: Context) -> Verdict:
    if request.path.rstrip("/") != "/crm/v3/objects/contacts":
        return hubspot_error(404, "Not found", "OBJECT_NOT_FOUND", "unknown path")
    if request.method != "POST":
        return hubspot_error(405, "HTTP 405 Method Not Allowed", "VALIDATION_ERROR", "method")
    token = bearer_token(request)
    if token is None or (context.expected is not None and token != context.expected["token"]):
        return hubspot_error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
            "authentication",
        )
    if request.media_type != "application/json":
        return hubspot_error(
            415,
            "HTTP 415 Unsupported Media Type",
            "VALIDATION_ERROR",
            f"content type {request.media_type or 'missing'}",
        )
    try:
        document = parse_json(request.body)
    except ValueError:
        return hubspot_error(400, "Invalid input JSON", "VALIDATION_ERROR", "invalid JSON")
    properties = document.get("properties") if isinstance(document, dict) else None
    if not isinstance(properties, dict):
        return hubspot_error(400, "Invalid input JSON: properties must be an object", "VALIDATION_ERROR", "properties")
    invalid: list[dict[str, Any]] = []
    for name, value in properties.items():
        if name not in HUBSPOT_PROPERTIES:
            invalid.append(
                {
                    "isValid": False,
                    "message": f'Property "{name}" does not exist',
                    "error": "PROPERTY_DOESNT_EXIST",
                    "name": name,
                }
            )
        elif not isinstance(value, str | int | float | bool) and value is not None:
            invalid.append(
                {
                    "isValid": False,
                    "message": f"{value!r} is not a valid value",
                    "error": "INVALID_PROPERTY_VALUE",
                    "name": name,
                }
            )
        elif name == "email" and value and not EMAIL.fullmatch(str(value)):
            invalid.append(
                {
                    "isValid": False,
                    "message": f"Email address {value} is invalid",
                    "error": "INVALID_EMAIL",
                    "name": name,
                }
            )
        elif name == "lifecyclestage" and value and value not in HUBSPOT_LIFECYCLE_STAGES:
            invalid.append(
                {
                    "isValid": False,
                    "message": f"{value} was not one of the allowed options",
                    "error": "INVALID_OPTION",
                    "name": name,
                }
            )
    if invalid:
        return hubspot_error(
            400,
            f"Property values were not valid: {json.dumps(invalid)}",
            "VALIDATION_ERROR",
            "; ".join(f"{item['name']}: {item['error']}" for item in invalid),
        )
    values = {
        name: "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in properties.items()
    }
    if not any(values.get(name) for name in ("email", "firstname", "lastname")):
        return hubspot_error(
            400, "At least one of email, firstname or lastname is required", "VALIDATION_ERROR", "no identity"
        )
    email = values.get("email", "").lower()
    for existing in context.created:
        if email and str(existing["properties"].get("email", "")).lower() == email:
            return hubspot_error(
                409, f"Contact already exists. Existing ID: {existing['id']}", "CONFLICT", "duplicate e-mail"
            )
    contact_id = str(10_000 + context.next_id)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    record = {
        "id": contact_id,
        "properties": {
            **{k: v for k, v in values.items() if v},
            "createdate": stamp,
            "lastmodifieddate": stamp,
            "hs_object_id": contact_id,
        },
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }
    return json_verdict(201, record, created=record)


# --- Mailchimp: add an audience member --------------------------------------------------------------
# https://mailchimp.com/developer/marketing/api/list-members/add-member-to-list/ (POST
# /3.0/lists/{list_id}/members; email_address and status required; 200 with the member)
# https://mailchimp.com/developer/marketing/guides/marketing-api-conventions/ (Basic: any user
# name, the API key as password)
# https://mailchimp.com/developer/marketing/docs/errors/ (application/problem+json {"type",
# "title", "status", "detail", "instance"}; "Invalid Resource", "Member Exists", "API Key Missing",
# "API Key Invalid", "Resource Not Found", "JSON Parse Exception")

MAILCHIMP_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
MAILCHIMP_KEY = re.compile(r"[A-Za-z0-9]{8,64}-[a-z]{2,4}[0-9]{1,3}")


def mailchimp_problem(status: int, title: str, detail: str, rejected: str, **extra: Any) -> Verdict:
    document = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
        **extra,
    }
    return json_verdict(status, document, content_type="application/problem+json; charset=utf-8", rejected=rejected)


def judge_mailchimp(request: Request, context: Context) -> Verdict:
    match = re.fullmatch(r"/3\.0/lists/([^/]+)/members/?", request.path)
    if match is None:
        return mailchimp_problem(
            404, "Resource Not Found", "The requested resource could not be found.", "unknown path"
        )
    if request.method != "POST":
        return mailchimp_problem(
            405, "Method Not Allowed", "The requested method and resource are not compatible.", "method"
        )
    credentials = basic_credentials(request)
    if credentials is None or not credentials[1]:
        return mailchimp_problem(401, "API Key Missing", "Your request did not include an API key.", "authentication")
    if not MAILCHIMP_KEY.fullmatch(credentials[1]) or (
        context.expected is not None and credentials[1] != context.expected["password"]
    ):
        return mailchimp_problem(
            401,
            "API Key Invalid",
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            "authentication",
        )
    list_id = match.group(1)
    if context.expected is not None and list_id != context.expected.get("list_id", list_id):
        return mailchimp_problem(
            404, "Resource Not Found", "The requested resource could not be found.", f"unknown audience {list_id}"
        )
    # Mailchimp reads the body as JSON whatever the Content-Type says: a form post fails to parse.
    try:
        member = parse_json(request.body)
    except ValueError:
        return mailchimp_problem(
            400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.", "invalid JSON"
        )
    if not isinstance(member, dict):
        return mailchimp_problem(400, "JSON Parse Exception", "Schema describes object.", "not an object")
    errors: list[dict[str, str]] = []
    email = member.get("email_address")
    if not isinstance(email, str) or not email.strip():
        errors.append({"field": "email_address", "message": "This value should not be blank."})
    status = member.get("status")
    if status is None or status == "":
        errors.append({"field": "status", "message": "This value should not be blank."})
    elif status not in MAILCHIMP_STATUSES:
        errors.append({"field": "status", "message": f"Value must be one of: {', '.join(MAILCHIMP_STATUSES)}"})
    merge_fields = member.get("merge_fields", {})
    if not isinstance(merge_fields, dict) or not all(isinstance(v, str | int | float) for v in merge_fields.values()):
        errors.append({"field": "merge_fields", "message": "Schema describes object, of strings"})
    tags = member.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        errors.append({"field": "tags", "message": "Schema describes array, of strings"})
    if errors:
        return mailchimp_problem(
            400,
            "Invalid Resource",
            "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
            "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            errors=errors,
        )
    assert isinstance(email, str)
    if not EMAIL.fullmatch(email.strip()):
        return mailchimp_problem(
            400, "Invalid Resource", f"{email} looks fake or invalid, please enter a real email address.", "e-mail"
        )
    hashed = hashlib.md5(email.strip().lower().encode()).hexdigest()  # the subscriber hash
    if any(existing["id"] == hashed and existing["list_id"] == list_id for existing in context.created):
        return mailchimp_problem(
            400,
            "Member Exists",
            f"{email} is already a list member. Use PUT to insert or update list members.",
            "member exists",
        )
    record = {
        "id": hashed,
        "email_address": email.strip(),
        "unique_email_id": context.key[:10],
        "status": status,
        "merge_fields": merge_fields,
        "tags_count": len(tags),
        "tags": [{"id": index + 1, "name": tag} for index, tag in enumerate(tags)],
        "list_id": list_id,
        "timestamp_signup": "",
        "last_changed": now(),
    }
    return json_verdict(200, record, created=record)


# --- Salesforce: Web-to-Lead ------------------------------------------------------------------------
# https://help.salesforce.com/s/articleView?id=sf.setting_up_web-to-lead.htm and
# https://help.salesforce.com/s/articleView?id=sf.customize_leads_web_guidelines.htm (a form POST to
# /servlet/servlet.WebToLead?encoding=UTF-8 with the org's oid; no credentials; the answer does not
# say whether a lead was made: refused leads go to the default lead creator by e-mail)
# https://help.salesforce.com/apex/HTViewSolution?id=000005004 (an invalid Org ID: no lead, an
# e-mail to support)


def judge_salesforce(request: Request, context: Context) -> Verdict:
    if request.path != "/servlet/servlet.WebToLead":
        return text_verdict(404, "<html><body>Not found</body></html>", rejected="unknown path")
    if request.method != "POST":
        return text_verdict(200, "", rejected="not a POST: nothing created")
    # Without ?encoding=UTF-8 the servlet reads the form as ISO-8859-1 (non-ASCII names come out mangled).
    charset = "utf-8" if [v.upper() for v in request.query.get("encoding", [])] == ["UTF-8"] else "iso-8859-1"
    fields: dict[str, str] = {}
    if request.media_type == "application/x-www-form-urlencoded":
        parsed = parse_qs(request.body.decode("ascii", "replace"), keep_blank_values=True, encoding=charset)
        fields = {name: values[0] for name, values in parsed.items()}
    return_url = fields.get("retURL", "")
    page = f'<html><head><meta http-equiv="Refresh" content="0; URL={return_url}"></head></html>' if return_url else ""
    ok = text_verdict(200, page, content_type="text/html;charset=UTF-8")
    oid = fields.get("oid", "")
    if not oid:
        ok.rejected = f"no oid (content type {request.media_type or 'missing'}): lead dropped"
        return ok
    if not re.fullmatch(r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?", oid) or (
        context.expected is not None and oid[:15] != context.expected["oid"][:15]
    ):
        ok.rejected = f"unknown oid {oid}: lead dropped"
        return ok
    lead = {name: value for name, value in fields.items() if name not in ("oid", "retURL", "debug", "debugEmail")}
    # Last Name and Company are required on a lead; Web-to-Lead fills what the form left out.
    for name in ("last_name", "company"):
        if not lead.get(name, "").strip():
            lead[name] = "[not provided]"
    ok.created = {"id": f"00Q5g00000{context.next_id:08d}", "oid": oid, **lead}
    return ok


# --- Slack: incoming webhook -------------------------------------------------------------------------
# https://api.slack.com/messaging/webhooks (POST JSON with "text", or blocks/attachments; 200 "ok")
# https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks (400
# invalid_payload, 403 action_prohibited / invalid_token, 404 no_service / channel_not_found, as
# plain strings in the body)


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


# --- Discord: execute webhook ------------------------------------------------------------------------
# https://discord.com/developers/docs/resources/webhook#execute-webhook (POST
# /webhooks/{webhook.id}/{webhook.token}, JSON or form; one of content, embeds, components, files
# or poll; content up to 2000 characters; 204 No Content, or 200 with the message when ?wait=true)
# https://discord.com/developers/docs/topics/opcodes-and-status-codes#json (errors {"message",
# "code"}: 10015 Unknown Webhook, 50027 Invalid Webhook Token, 50006 Cannot send an empty message,
# 50035 Invalid Form Body, 50109 invalid JSON)


def discord_error(status: int, message: str, code: int, rejected: str, **extra: Any) -> Verdict:
    return json_verdict(status, {"message": message, "code": code, **extra}, rejected=rejected)


def judge_discord(request: Request, context: Context) -> Verdict:
    match = re.fullmatch(r"/api(?:/v[0-9]+)?/webhooks/([0-9]+)/([A-Za-z0-9_-]+)", request.path)
    if match is None:
        return discord_error(404, "404: Not Found", 0, "not a webhook URL")
    if context.expected is not None:
        if match.group(1) != context.expected["webhook_id"]:
            return discord_error(404, "Unknown Webhook", 10015, "unknown webhook")
        if match.group(2) != context.expected["token"]:
            return discord_error(401, "Invalid Webhook Token", 50027, "wrong token")
    if request.method != "POST":
        return discord_error(405, "405: Method Not Allowed", 0, "method")
    message: Any = {}
    if request.media_type == "application/json":
        try:
            message = parse_json(request.body)
        except ValueError:
            return discord_error(400, "The request body contains invalid JSON.", 50109, "invalid JSON")
    elif request.media_type == "application/x-www-form-urlencoded":
        message = {name: values[0] for name, values in parse_qs(request.body.decode(errors="replace")).items()}
    # Any other type: the body is not read, so the message is empty.
    if not isinstance(message, dict):
        return discord_error(400, "Invalid Form Body", 50035, "not an object", errors={})
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        return discord_error(
            400,
            "Invalid Form Body",
            50035,
            "content not a string",
            errors={"content": {"_errors": [{"code": "BASE_TYPE_STRING", "message": "Must be a string."}]}},
        )
    if isinstance(content, str) and len(content) > 2000:
        return discord_error(
            400,
            "Invalid Form Body",
            50035,
            "content too long",
            errors={
                "content": {
                    "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]
                }
            },
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


# --- Google Sheets: an Apps Script web app running models.presets.APPS_SCRIPT_SNIPPET -----------------
# https://developers.google.com/apps-script/guides/web (doPost(e) for a POST, e.postData.contents
# the body; doGet(e) for a GET)
# https://developers.google.com/apps-script/guides/content (ContentService output is served from
# script.googleusercontent.com: the /exec URL answers 302 there, and the output is read with a GET;
# a POST there is refused with 405)

APPS_SCRIPT_ERROR = (
    '<!DOCTYPE html><html><head><title>Error</title></head><body><div style="text-align:center;'
    'font-family:monospace;margin:50px auto 0;max-width:600px">{message}</div></body></html>'
)


def other_host(host: str) -> str:
    """The same server under another name: 127.0.0.1:PORT <-> localhost:PORT (a cross-host redirect,
    as script.google.com -> script.googleusercontent.com)."""
    parts = urlsplit(f"//{host}")
    swapped = "127.0.0.1" if parts.hostname == "localhost" else "localhost"
    return f"{swapped}:{parts.port}" if parts.port else swapped


def run_snippet(body: bytes) -> tuple[list[str] | None, str | None]:
    """What APPS_SCRIPT_SNIPPET does with a POST body: the row it appends, or the error it throws."""
    if not body:
        return None, "TypeError: Cannot read properties of undefined (reading 'contents') (line 5, file \"Code\")"
    try:
        document = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None, 'SyntaxError: Unexpected token in JSON at position 0 (line 5, file "Code")'
    if document is None:
        return None, "TypeError: Cannot read properties of null (reading 'data') (line 6, file \"Code\")"
    data = document.get("data") if isinstance(document, dict) else None
    data = data if isinstance(data, dict) and data else {}
    contact = data.get("contact") if isinstance(data.get("contact"), dict) else {}
    assert isinstance(contact, dict)
    tags = contact.get("tags") or []

    def cell(value: Any) -> str:
        return "" if value is None else str(value)

    row = [
        cell(contact.get("name") or ""),
        cell(contact.get("id") or ""),
        cell(contact.get("channel") or ""),
        ", ".join(cell(tag) for tag in tags) if isinstance(tags, list) else cell(tags),
        cell(document.get("type")) if isinstance(document, dict) else "",
        cell(document.get("timestamp")) if isinstance(document, dict) else "",
        cell(data.get("event_id") or ""),
    ]
    return row, None


def judge_google_sheets(request: Request, context: Context) -> Verdict:
    echo = re.fullmatch(r"/macros/echo", request.path)
    if echo is not None:
        if request.method != "GET":
            return text_verdict(
                405, "<html><title>Error 405 (Method Not Allowed)!!1</title></html>", rejected="POST to the echo URL"
            )
        stored = context.echoes.get(request.query.get("user_content_key", [""])[0])
        if stored is None:
            return text_verdict(404, "<html><title>Error 404 (Not Found)!!1</title></html>", rejected="unknown echo")
        return Verdict(stored.status, {"content-type": stored.content_type}, stored.body)
    match = re.fullmatch(r"/macros/s/([A-Za-z0-9_-]+)/exec", request.path)
    if match is None or (context.expected is not None and match.group(1) != context.expected["deployment_id"]):
        return text_verdict(
            404,
            "<html><title>Google Drive - Page Not Found</title><body>Sorry, unable to open the file at this time."
            "</body></html>",
            rejected="unknown deployment",
        )
    if request.method == "GET":
        return text_verdict(200, APPS_SCRIPT_ERROR.format(message="Script function not found: doGet"))
    if request.method != "POST":
        return text_verdict(405, "<html><title>Error 405 (Method Not Allowed)!!1</title></html>", rejected="method")
    row, error = run_snippet(request.body)
    if error is not None:
        result = Echo(200, "text/html; charset=utf-8", APPS_SCRIPT_ERROR.format(message=error).encode())
    else:
        result = Echo(200, "application/json; charset=utf-8", json.dumps({"result": "success"}).encode())
    query = urlencode({"user_content_key": context.key, "lib": "M" + context.key[:20]})
    location = f"http://{other_host(request.host)}{request.base}/macros/echo?{query}"
    return Verdict(
        302,
        {"location": location, "content-type": "text/html; charset=UTF-8"},
        f'<HTML><HEAD><TITLE>Moved Temporarily</TITLE></HEAD><BODY>The document has moved <A HREF="{location}">'
        "here</A>.</BODY></HTML>".encode(),
        created=None if row is None else {"row": row, "deployment_id": match.group(1)},
        rejected=None if error is None else f"script error: {error}",
        echo=(context.key, result),
    )


JUDGES: dict[str, Judge] = {
    "google_sheets": judge_google_sheets,
    "zendesk": judge_zendesk,
    "freshdesk": judge_freshdesk,
    "hubspot": judge_hubspot,
    "salesforce": judge_salesforce,
    "mailchimp": judge_mailchimp,
    "slack": judge_slack,
    "discord": judge_discord,
}


# --- the emulator ---------------------------------------------------------------------------------------


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
            verdict = judge(request, context)
            if verdict.created is not None:
                self.created[service].append(verdict.created)
            if verdict.rejected is not None:
                self.rejected.append((service, verdict.rejected))
            if verdict.echo is not None:
                self._echoes[verdict.echo[0]] = verdict.echo[1]
        return verdict.status, dict(verdict.headers), verdict.body
