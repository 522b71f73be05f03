"""HubSpot's stand-in: create a contact."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from devstack.services.checks import EMAIL, bearer_token, is_expected, json_body
from devstack.services.judging import Context, Request, StandIn, Verdict, json_verdict

# https://developers.hubspot.com/docs/api/crm/contacts (POST /crm/v3/objects/contacts with a
# "properties" object, at least one of email, firstname, lastname; 201 with id and properties;
# 409 when a contact has that e-mail already)
# https://developers.hubspot.com/docs/api/private-apps (Authorization: Bearer <access token>)
# https://developers.hubspot.com/docs/faq/api-error-responses ({"status": "error", "message",
# "correlationId", "category"}; 401 when the authentication is invalid)

DEMO_CREDENTIALS = {"token": "pat-na1-demo-hubspot-token"}
"""The Bearer token."""
DEMO_PRESET_VALUES: dict[str, str] = {}

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


def invalid_property(name: str, value: Any) -> dict[str, Any] | None:
    """HubSpot's complaint about a property's value, None when it takes it."""
    if name not in HUBSPOT_PROPERTIES:
        message, error = f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST"
    elif not isinstance(value, str | int | float | bool) and value is not None:
        message, error = f"{value!r} is not a valid value", "INVALID_PROPERTY_VALUE"
    elif name == "email" and value and not EMAIL.fullmatch(str(value)):
        message, error = f"Email address {value} is invalid", "INVALID_EMAIL"
    elif name == "lifecyclestage" and value and value not in HUBSPOT_LIFECYCLE_STAGES:
        message, error = f"{value} was not one of the allowed options", "INVALID_OPTION"
    else:
        return None
    return {"isValid": False, "message": message, "error": error, "name": name}


def judge_hubspot(request: Request, context: Context) -> Verdict:
    if request.path.rstrip("/") != "/crm/v3/objects/contacts":
        return hubspot_error(404, "Not found", "OBJECT_NOT_FOUND", "unknown path")
    if request.method != "POST":
        return hubspot_error(405, "HTTP 405 Method Not Allowed", "VALIDATION_ERROR", "method")
    token = bearer_token(request)
    if token is None or not is_expected(context.expected, token=token):
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
    document = json_body(request, invalid=hubspot_error(400, "Invalid input JSON", "VALIDATION_ERROR", "invalid JSON"))
    properties = document.get("properties") if isinstance(document, dict) else None
    if not isinstance(properties, dict):
        return hubspot_error(400, "Invalid input JSON: properties must be an object", "VALIDATION_ERROR", "properties")
    invalid = [item for name, value in properties.items() if (item := invalid_property(name, value)) is not None]
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


STAND_IN = StandIn(judge_hubspot, DEMO_CREDENTIALS, DEMO_PRESET_VALUES)
