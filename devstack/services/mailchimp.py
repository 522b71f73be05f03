"""Mailchimp's stand-in: add an audience member."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from devstack.services.checks import EMAIL, basic_credentials, is_expected, is_list_of_strings, json_body
from devstack.services.judging import Context, Request, StandIn, Verdict, json_verdict, now

# https://mailchimp.com/developer/marketing/api/list-members/add-member-to-list/ (POST
# /3.0/lists/{list_id}/members; email_address and status required; 200 with the member)
# https://mailchimp.com/developer/marketing/guides/marketing-api-conventions/ (Basic: any user
# name, the API key as password)
# https://mailchimp.com/developer/marketing/docs/errors/ (application/problem+json {"type",
# "title", "status", "detail", "instance"}; "Invalid Resource", "Member Exists", "API Key Missing",
# "API Key Invalid", "Resource Not Found", "JSON Parse Exception")

DEMO_CREDENTIALS = {
    "username": "anystring",
    "password": "demomailchimpkey0000000000000000-us21",
    "list_id": "a1b2c3d4e5",
}
"""Any user name, the API key as password (its `-us21` suffix is the data center), audience `a1b2c3d4e5`."""
DEMO_PRESET_VALUES = {"dc": "us21", "list_id": DEMO_CREDENTIALS["list_id"]}

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
    credentials = basic_credentials(request)  # any user name
    if credentials is None or not credentials.password:
        return mailchimp_problem(401, "API Key Missing", "Your request did not include an API key.", "authentication")
    if not MAILCHIMP_KEY.fullmatch(credentials.password) or not is_expected(
        context.expected, password=credentials.password
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
    member = json_body(
        request,
        invalid=mailchimp_problem(
            400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.", "invalid JSON"
        ),
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
    if not is_list_of_strings(tags):
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


STAND_IN = StandIn(judge_mailchimp, DEMO_CREDENTIALS, DEMO_PRESET_VALUES)
