"""Google Sheets' stand-in: an Apps Script web app running models.presets.APPS_SCRIPT_SNIPPET."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from devstack.services.checks import is_expected, parse_json
from devstack.services.judging import Context, Echo, Request, StandIn, Verdict, text_verdict

# https://developers.google.com/apps-script/guides/web (doPost(e) for a POST, e.postData.contents
# the body; doGet(e) for a GET)
# https://developers.google.com/apps-script/guides/content (ContentService output is served from
# script.googleusercontent.com: the /exec URL answers 302 there, and the output is read with a GET;
# a POST there is refused with 405)

DEMO_CREDENTIALS = {"deployment_id": "AKfycbDEMO-deployment-0000000000000000000000"}
"""The web app's deployment ID."""
DEMO_PRESET_VALUES = {"deployment_id": DEMO_CREDENTIALS["deployment_id"]}

GOOGLE_405 = "<html><title>Error 405 (Method Not Allowed)!!1</title></html>"
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
        document = parse_json(body)
    except ValueError:
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
            return text_verdict(405, GOOGLE_405, rejected="POST to the echo URL")
        stored = context.echoes.get(request.query.get("user_content_key", [""])[0])
        if stored is None:
            return text_verdict(404, "<html><title>Error 404 (Not Found)!!1</title></html>", rejected="unknown echo")
        return Verdict(stored.status, {"content-type": stored.content_type}, stored.body)
    match = re.fullmatch(r"/macros/s/([A-Za-z0-9_-]+)/exec", request.path)
    if match is None or not is_expected(context.expected, deployment_id=match.group(1)):
        return text_verdict(
            404,
            "<html><title>Google Drive - Page Not Found</title><body>Sorry, unable to open the file at this time."
            "</body></html>",
            rejected="unknown deployment",
        )
    if request.method == "GET":
        return text_verdict(200, APPS_SCRIPT_ERROR.format(message="Script function not found: doGet"))
    if request.method != "POST":
        return text_verdict(405, GOOGLE_405, rejected="method")
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


STAND_IN = StandIn(judge_google_sheets, DEMO_CREDENTIALS, DEMO_PRESET_VALUES)
