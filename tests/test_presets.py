"""Receiver presets (models.presets) and the local stand-ins for their services (devstack.services).

The stand-ins run behind a real receiver on 127.0.0.1 and get real HTTP requests: first requests
written as each service's documentation shows them (accepted, and refused when the credentials,
the content type or a required field is wrong), then each preset's own request, rendered from the
sample event of its suggested trigger.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from core.templates import BodyFormat, check_template, render, template_context
from devstack.receiver import Answer, Receiver
from devstack.services import DEMO_CREDENTIALS, DEMO_PRESET_VALUES, ServiceEmulator, demo_auth, stand_in_url
from models.events import EVENT_TYPES
from models.payload import delivery_body
from models.presets import APPS_SCRIPT_SNIPPET, PRESETS, apply_preset, substitute
from models.samples import sample_event
from models.tables import BasicAuth, BearerAuth, WebhookCreate


@dataclass
class StandIns:
    receiver: Receiver
    services: ServiceEmulator
    client: httpx.Client

    def url(self, path: str) -> str:
        return self.receiver.url(path)


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[StandIns]:
    services = ServiceEmulator()
    with Receiver(services=services) as receiver, httpx.Client(timeout=10) as client:
        yield StandIns(receiver, services, client)


@pytest.fixture
def svc(stand_ins: StandIns) -> StandIns:
    """The module's receiver and stand-ins, as new: nothing received, created or refused yet."""
    stand_ins.services.reset()
    stand_ins.services.credentials = {service: dict(values) for service, values in DEMO_CREDENTIALS.items()}
    stand_ins.receiver.requests.clear()
    return stand_ins


def basic(username: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def auth_headers(auth: BasicAuth | BearerAuth | None) -> dict[str, str]:
    if isinstance(auth, BasicAuth):
        return basic(auth.username, auth.password)
    if isinstance(auth, BearerAuth):
        return {"authorization": f"Bearer {auth.token}"}
    return {}


ZENDESK = DEMO_CREDENTIALS["zendesk"]
FRESHDESK = DEMO_CREDENTIALS["freshdesk"]
HUBSPOT = DEMO_CREDENTIALS["hubspot"]
MAILCHIMP = DEMO_CREDENTIALS["mailchimp"]
SALESFORCE = DEMO_CREDENTIALS["salesforce"]
SLACK = DEMO_CREDENTIALS["slack"]
DISCORD = DEMO_CREDENTIALS["discord"]
SHEETS = DEMO_CREDENTIALS["google_sheets"]

ZENDESK_PATH = "/svc/zendesk/api/v2/tickets.json"
FRESHDESK_PATH = "/svc/freshdesk/api/v2/tickets"
HUBSPOT_PATH = "/svc/hubspot/crm/v3/objects/contacts"
MAILCHIMP_PATH = f"/svc/mailchimp/3.0/lists/{MAILCHIMP['list_id']}/members"
SALESFORCE_PATH = "/svc/salesforce/servlet/servlet.WebToLead?encoding=UTF-8"
SLACK_PATH = f"/svc/slack/services/{SLACK['path']}"
DISCORD_PATH = f"/svc/discord/api/webhooks/{DISCORD['webhook_id']}/{DISCORD['token']}"
SHEETS_PATH = f"/svc/google_sheets/macros/s/{SHEETS['deployment_id']}/exec"

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
TEXT = {"content-type": "text/plain"}


# --- each stand-in, with the request its documentation shows ---------------------------------------


def test_zendesk_creates_the_documented_ticket(svc: StandIns) -> None:
    # developer.zendesk.com/api-reference/ticketing/introduction/ (the curl example)
    ticket = {"ticket": {"subject": "Printer offline", "comment": {"body": "My printer is offline."}}}
    answer = svc.client.post(
        svc.url(ZENDESK_PATH), json=ticket, headers=basic(ZENDESK["username"], ZENDESK["password"])
    )
    assert answer.status_code == 201
    created = answer.json()["ticket"]
    assert isinstance(created["id"], int) and created["subject"] == "Printer offline"
    assert answer.headers["location"].endswith(f"/tickets/{created['id']}.json")
    assert svc.services.created["zendesk"] == [created]


def test_freshdesk_creates_the_documented_ticket(svc: StandIns) -> None:
    # developers.freshdesk.com/api/#create_ticket (curl -u key:X ... the first example)
    ticket = {
        "description": "Details about the issue...",
        "subject": "Support Needed...",
        "email": "tom@outerspace.com",
        "priority": 1,
        "status": 2,
        "cc_emails": ["ram@freshdesk.com", "diana@freshdesk.com"],
    }
    answer = svc.client.post(svc.url(FRESHDESK_PATH), json=ticket, headers=basic(FRESHDESK["username"], "X"))
    assert answer.status_code == 201
    assert answer.json()["subject"] == "Support Needed..." and answer.json()["status"] == 2
    assert len(svc.services.created["freshdesk"]) == 1


def test_hubspot_creates_the_documented_contact(svc: StandIns) -> None:
    # developers.hubspot.com/docs/api/crm/contacts (Create contacts with property values)
    contact = {
        "properties": {
            "email": "example@hubspot.com",
            "firstname": "Jane",
            "lastname": "Doe",
            "phone": "(555) 555-5555",
            "company": "HubSpot",
            "website": "hubspot.com",
            "lifecyclestage": "marketingqualifiedlead",
        }
    }
    headers = {"authorization": f"Bearer {HUBSPOT['token']}"}
    answer = svc.client.post(svc.url(HUBSPOT_PATH), json=contact, headers=headers)
    assert answer.status_code == 201
    assert answer.json()["id"] and answer.json()["properties"]["email"] == "example@hubspot.com"
    assert answer.json()["archived"] is False
    again = svc.client.post(svc.url(HUBSPOT_PATH), json=contact, headers=headers)
    assert again.status_code == 409 and again.json()["category"] == "CONFLICT"
    assert f"Existing ID: {answer.json()['id']}" in again.json()["message"]


def test_mailchimp_adds_the_documented_member(svc: StandIns) -> None:
    # mailchimp.com/developer/marketing/api/list-members/add-member-to-list/
    member = {
        "email_address": "urist.mcvankab@freddiesjokes.com",
        "status": "subscribed",
        "merge_fields": {"FNAME": "Urist", "LNAME": "McVankab"},
    }
    headers = basic("anystring", MAILCHIMP["password"])
    answer = svc.client.post(svc.url(MAILCHIMP_PATH), json=member, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["id"] == hashlib.md5(b"urist.mcvankab@freddiesjokes.com").hexdigest()
    assert answer.json()["status"] == "subscribed" and answer.json()["list_id"] == MAILCHIMP["list_id"]
    again = svc.client.post(svc.url(MAILCHIMP_PATH), json=member, headers=headers)
    assert again.status_code == 400 and again.json()["title"] == "Member Exists"
    assert again.headers["content-type"].startswith("application/problem+json")


def test_salesforce_creates_the_lead_a_web_to_lead_form_posts(svc: StandIns) -> None:
    # help.salesforce.com Web-to-Lead: the generated form's fields, posted as a form
    form = {"oid": SALESFORCE["oid"], "first_name": "José", "last_name": "Núñez", "email": "jose@example.com",
            "company": "Acme", "lead_source": "Web", "retURL": "https://example.com/thanks"}  # fmt: skip
    answer = svc.client.post(svc.url(SALESFORCE_PATH), data=form)
    assert answer.status_code == 200 and "https://example.com/thanks" in answer.text
    [lead] = svc.services.created["salesforce"]
    assert (lead["first_name"], lead["last_name"], lead["company"]) == ("José", "Núñez", "Acme")
    assert svc.services.rejected == []


def test_salesforce_reads_a_form_without_encoding_as_latin_1(svc: StandIns) -> None:
    svc.client.post(
        svc.url("/svc/salesforce/servlet/servlet.WebToLead"), data={"oid": SALESFORCE["oid"], "last_name": "Núñez"}
    )
    assert svc.services.created["salesforce"][0]["last_name"] == "NÃºÃ±ez"


def test_salesforce_answers_200_for_a_lead_it_drops(svc: StandIns) -> None:
    wrong_oid = svc.client.post(svc.url(SALESFORCE_PATH), data={"oid": "00D000000000BAD", "last_name": "Doe"})
    as_json = svc.client.post(svc.url(SALESFORCE_PATH), json={"oid": SALESFORCE["oid"], "last_name": "Doe"})
    assert (wrong_oid.status_code, as_json.status_code) == (200, 200)
    assert svc.services.created["salesforce"] == []
    reasons = [reason for service, reason in svc.services.rejected if service == "salesforce"]
    assert "unknown oid" in reasons[0] and "no oid (content type application/json)" in reasons[1]


def test_slack_posts_the_documented_message(svc: StandIns) -> None:
    # api.slack.com/messaging/webhooks: {"text": "Hello, World!"} answers 200 "ok"
    answer = svc.client.post(svc.url(SLACK_PATH), json={"text": "Hello, World!"})
    assert (answer.status_code, answer.text) == (200, "ok")
    legacy = svc.client.post(svc.url(SLACK_PATH), data={"payload": json.dumps({"text": "as a form"})})
    assert (legacy.status_code, legacy.text) == (200, "ok")
    assert [message["text"] for message in svc.services.created["slack"]] == ["Hello, World!", "as a form"]


def test_discord_executes_the_documented_webhook(svc: StandIns) -> None:
    # discord.com/developers/docs/resources/webhook#execute-webhook: 204, or the message with ?wait=true
    answer = svc.client.post(svc.url(DISCORD_PATH), json={"content": "Hello"})
    assert (answer.status_code, answer.content) == (204, b"")
    waited = svc.client.post(svc.url(DISCORD_PATH + "?wait=true"), json={"content": "Hello again"})
    assert waited.status_code == 200 and waited.json()["content"] == "Hello again"
    assert waited.json()["webhook_id"] == DISCORD["webhook_id"]
    assert len(svc.services.created["discord"]) == 2


def test_google_sheets_redirects_to_another_host_where_a_get_reads_the_result(svc: StandIns) -> None:
    body = delivery_body(sample_event("tag.applied"), "wh_1", "Sheet")
    posted = svc.client.post(svc.url(SHEETS_PATH), json=body)
    assert posted.status_code == 302
    target = urlsplit(posted.headers["location"])
    assert target.hostname == "localhost" and target.port == svc.receiver.port
    assert target.path == "/svc/google_sheets/macros/echo" and "user_content_key=" in target.query
    result = svc.client.get(posted.headers["location"])
    assert result.status_code == 200 and result.json() == {"result": "success"}
    assert result.headers["content-type"].startswith("application/json")
    assert svc.services.rows == [
        ["Jane Doe", "c_42", "messenger", "VIP, Order Closed", "tag.applied", "2026-11-24T10:00:00Z", "evt_sample"]
    ]
    # A client that keeps the POST on a 302 is refused there, as Google does; no row is added.
    reposted = svc.client.post(posted.headers["location"], json=body)
    assert reposted.status_code == 405
    assert len(svc.services.rows) == 1
    assert [request.method for request in svc.receiver.requests] == ["POST", "GET", "POST"]


def test_google_sheets_swaps_localhost_for_127_0_0_1(svc: StandIns) -> None:
    posted = svc.client.post(f"http://localhost:{svc.receiver.port}{SHEETS_PATH}", json={"type": "x"})
    assert urlsplit(posted.headers["location"]).hostname == "127.0.0.1"


def test_google_sheets_with_a_client_that_follows_redirects(svc: StandIns) -> None:
    body = delivery_body(sample_event("tag.applied"), "wh_1", "Sheet")
    answer = svc.client.post(svc.url(SHEETS_PATH), json=body, follow_redirects=True)
    assert answer.status_code == 200 and answer.json() == {"result": "success"}
    assert [hop.status_code for hop in answer.history] == [302]
    assert len(svc.services.rows) == 1


def test_google_sheets_script_error_comes_back_as_a_200_page(svc: StandIns) -> None:
    answer = svc.client.post(svc.url(SHEETS_PATH), content=b"not json", headers=TEXT, follow_redirects=True)
    assert answer.status_code == 200 and "SyntaxError" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert svc.services.rows == []
    assert svc.services.rejected[0][0] == "google_sheets" and "script error" in svc.services.rejected[0][1]


# --- refusals: credentials, content type, required fields -----------------------------------------------

ZENDESK_AUTH = basic(ZENDESK["username"], ZENDESK["password"])
FRESHDESK_AUTH = basic(FRESHDESK["username"], "X")
HUBSPOT_AUTH = {"authorization": f"Bearer {HUBSPOT['token']}"}
MAILCHIMP_AUTH = basic("anystring", MAILCHIMP["password"])
TICKET = {"ticket": {"subject": "s", "comment": {"body": "b"}}}
FRESH_TICKET = {"subject": "s", "description": "d", "email": "a@example.com", "status": 2, "priority": 1}
CONTACT = {"properties": {"email": "a@example.com"}}
MEMBER = {"email_address": "a@example.com", "status": "subscribed"}


@dataclass(frozen=True)
class Refusal:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    expect: dict[str, Any] | str
    """Keys the JSON answer must hold with these values, or text the answer must contain."""


def js(document: Any) -> bytes:
    return json.dumps(document).encode()


REFUSALS: dict[str, Refusal] = {
    "zendesk-no-auth": Refusal(ZENDESK_PATH, JSON, js(TICKET), 401, {"error": "Couldn't authenticate you"}),
    "zendesk-wrong-token": Refusal(
        ZENDESK_PATH, {**JSON, **basic(ZENDESK["username"], "wrong")}, js(TICKET), 401,
        {"error": "Couldn't authenticate you"},
    ),
    "zendesk-password-not-token": Refusal(
        ZENDESK_PATH, {**JSON, **basic("agent@example.com", ZENDESK["password"])}, js(TICKET), 401, {}
    ),
    "zendesk-form": Refusal(ZENDESK_PATH, {**FORM, **ZENDESK_AUTH}, b"ticket[subject]=s", 415, {}),
    "zendesk-no-ticket": Refusal(
        ZENDESK_PATH, {**JSON, **ZENDESK_AUTH}, js({"subject": "s"}), 400, {"error": "ParameterMissing"}
    ),
    "zendesk-no-comment": Refusal(
        ZENDESK_PATH, {**JSON, **ZENDESK_AUTH}, js({"ticket": {"subject": "s"}}), 422,
        {"error": "RecordInvalid", "description": "Record validation errors"},
    ),
    "zendesk-bad-priority": Refusal(
        ZENDESK_PATH, {**JSON, **ZENDESK_AUTH},
        js({"ticket": {"comment": {"body": "b"}, "priority": "asap"}}), 422, {"error": "RecordInvalid"},
    ),
    "freshdesk-no-auth": Refusal(FRESHDESK_PATH, JSON, js(FRESH_TICKET), 401, {"code": "invalid_credentials"}),
    "freshdesk-wrong-key": Refusal(
        FRESHDESK_PATH, {**JSON, **basic("other-key", "X")}, js(FRESH_TICKET), 401, {"code": "invalid_credentials"}
    ),
    "freshdesk-text": Refusal(
        FRESHDESK_PATH, {**TEXT, **FRESHDESK_AUTH}, js(FRESH_TICKET), 415, {"code": "invalid_content_type"}
    ),
    "freshdesk-no-requester": Refusal(
        FRESHDESK_PATH, {**JSON, **FRESHDESK_AUTH}, js({**FRESH_TICKET, "email": None}), 400,
        {"description": "Validation failed",
         "errors": [{"field": "requester_id", "code": "missing_field", "message": "Please fill at least 1 of "
                     "requester_id, email, facebook_id, phone, twitter_id, unique_external_id fields"}]},
    ),
    "freshdesk-bad-status": Refusal(
        FRESHDESK_PATH, {**JSON, **FRESHDESK_AUTH}, js({**FRESH_TICKET, "status": "open"}), 400,
        {"errors": [{"field": "status", "code": "datatype_mismatch", "message": "It should be a/an Integer"}]},
    ),
    "hubspot-no-auth": Refusal(HUBSPOT_PATH, JSON, js(CONTACT), 401, {"category": "INVALID_AUTHENTICATION"}),
    "hubspot-basic": Refusal(
        HUBSPOT_PATH, {**JSON, **basic("x", HUBSPOT["token"])}, js(CONTACT), 401, {"status": "error"}
    ),
    "hubspot-form": Refusal(HUBSPOT_PATH, {**FORM, **HUBSPOT_AUTH}, b"email=a%40example.com", 415, {"status": "error"}),
    "hubspot-no-properties": Refusal(
        HUBSPOT_PATH, {**JSON, **HUBSPOT_AUTH}, js({"email": "a@example.com"}), 400, {"category": "VALIDATION_ERROR"}
    ),
    "hubspot-no-identity": Refusal(
        HUBSPOT_PATH, {**JSON, **HUBSPOT_AUTH}, js({"properties": {"phone": "1"}}), 400,
        {"category": "VALIDATION_ERROR"},
    ),
    "hubspot-unknown-property": Refusal(
        HUBSPOT_PATH, {**JSON, **HUBSPOT_AUTH}, js({"properties": {"email": "a@example.com", "chat_id": "1"}}), 400,
        "PROPERTY_DOESNT_EXIST",
    ),
    "mailchimp-no-auth": Refusal(MAILCHIMP_PATH, JSON, js(MEMBER), 401, {"title": "API Key Missing", "status": 401}),
    "mailchimp-wrong-key": Refusal(
        MAILCHIMP_PATH, {**JSON, **basic("anystring", "0123456789abcdef-us6")}, js(MEMBER), 401,
        {"title": "API Key Invalid"},
    ),
    "mailchimp-form": Refusal(
        MAILCHIMP_PATH, {**FORM, **MAILCHIMP_AUTH}, b"email_address=a%40example.com&status=subscribed", 400,
        {"title": "JSON Parse Exception"},
    ),
    "mailchimp-no-email": Refusal(
        MAILCHIMP_PATH, {**JSON, **MAILCHIMP_AUTH}, js({"status": "subscribed"}), 400,
        {"title": "Invalid Resource",
         "errors": [{"field": "email_address", "message": "This value should not be blank."}]},
    ),
    "mailchimp-unknown-audience": Refusal(
        "/svc/mailchimp/3.0/lists/zzzzzzzzzz/members", {**JSON, **MAILCHIMP_AUTH}, js(MEMBER), 404,
        {"title": "Resource Not Found"},
    ),
    "slack-wrong-token": Refusal(
        "/svc/slack/services/T00000000/B00000000/wrongwrongwrong", JSON, js({"text": "x"}), 403, "invalid_token"
    ),
    "slack-unknown-webhook": Refusal(
        "/svc/slack/services/T11111111/B11111111/XXXXXXXX", JSON, js({"text": "x"}), 404, "no_service"
    ),
    "slack-text": Refusal(SLACK_PATH, TEXT, js({"text": "x"}), 400, "invalid_payload"),
    "slack-invalid-json": Refusal(SLACK_PATH, JSON, b"{text", 400, "invalid_payload"),
    "slack-no-text": Refusal(SLACK_PATH, JSON, js({"username": "bot"}), 400, "no_text"),
    "discord-wrong-token": Refusal(
        f"/svc/discord/api/webhooks/{DISCORD['webhook_id']}/wrong-token", JSON, js({"content": "x"}), 401,
        {"code": 50027, "message": "Invalid Webhook Token"},
    ),
    "discord-unknown-webhook": Refusal(
        f"/svc/discord/api/webhooks/999999999999999999/{DISCORD['token']}", JSON, js({"content": "x"}), 404,
        {"code": 10015, "message": "Unknown Webhook"},
    ),
    "discord-text": Refusal(DISCORD_PATH, TEXT, js({"content": "x"}), 400, {"code": 50006}),
    "discord-empty": Refusal(
        DISCORD_PATH, JSON, js({"username": "bot"}), 400, {"code": 50006, "message": "Cannot send an empty message"}
    ),
    "discord-too-long": Refusal(
        DISCORD_PATH, JSON, js({"content": "x" * 2001}), 400, {"code": 50035, "message": "Invalid Form Body"}
    ),
    "sheets-unknown-deployment": Refusal(
        "/svc/google_sheets/macros/s/AKfycbUNKNOWN0000000000000/exec", JSON, b"{}", 404, "unable to open the file"
    ),
    "unknown-service": Refusal("/svc/intercom/messages", JSON, b"{}", 404, "no stand-in"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_stand_ins_refuse_as_the_service_does(svc: StandIns, case: Refusal) -> None:
    answer = svc.client.post(svc.url(case.path), content=case.body, headers=case.headers)
    assert answer.status_code == case.status, answer.text
    if isinstance(case.expect, str):
        assert case.expect in answer.text
    else:
        document = answer.json()
        for key, value in case.expect.items():
            assert document[key] == value
    assert not any(svc.services.created.values())
    assert len(svc.services.rejected) == 1


def test_a_stand_in_without_expected_credentials_takes_any_well_formed_one(svc: StandIns) -> None:
    svc.services.credentials.pop("zendesk")
    answer = svc.client.post(svc.url(ZENDESK_PATH), json=TICKET, headers=basic("someone@example.com/token", "t"))
    assert answer.status_code == 201
    assert svc.client.post(svc.url(ZENDESK_PATH), json=TICKET).status_code == 401


# --- the receiver with and without stand-ins ---------------------------------------------------------


def test_receiver_keeps_scripts_for_other_paths_and_records_service_requests(svc: StandIns) -> None:
    svc.receiver.script("/hook", [Answer(status=503)])
    assert svc.client.post(svc.url("/hook"), content=b"{}").status_code == 503
    assert svc.client.post(svc.url("/hook"), content=b"{}").status_code == 200
    svc.receiver.script(SLACK_PATH, [Answer(status=500)])  # a stand-in's answer wins over a script
    assert svc.client.post(svc.url(SLACK_PATH), json={"text": "hi"}).text == "ok"
    assert [r.answer.status for r in svc.receiver.requests] == [503, 200, 200]
    assert svc.receiver.requests[-1].answer.body == b"ok"


def test_receiver_answers_get_without_stand_ins() -> None:
    with Receiver() as receiver:
        answer = httpx.get(receiver.url("/svc/slack/services/T1/B1/x"))
        assert (answer.status_code, answer.text) == (200, "ok")
        [request] = receiver.requests
        assert (request.method, request.body) == ("GET", b"")


# --- the presets -----------------------------------------------------------------------------------------


def test_every_preset_is_complete() -> None:
    assert set(PRESETS) == {
        "google_sheets", "zendesk", "freshdesk", "hubspot", "salesforce", "mailchimp", "slack", "discord",
    }  # fmt: skip
    for key, preset in PRESETS.items():
        assert preset.key == key and preset.suggested_event in EVENT_TYPES
        assert preset.docs_url.startswith("https://") and preset.guide and preset.auth_help
        assert (preset.body_template is None) == (preset.body_format is BodyFormat.STANDARD)
        assert set(DEMO_PRESET_VALUES[key]) == {field.key for field in preset.fields}
    assert (
        "JSON.parse(e.postData.contents)" in APPS_SCRIPT_SNIPPET
        and APPS_SCRIPT_SNIPPET in PRESETS["google_sheets"].guide
    )
    assert PRESETS["google_sheets"].follow_redirects and not PRESETS["google_sheets"].forward_credentials


@pytest.mark.parametrize("key", PRESETS)
def test_apply_preset_gives_the_webhook_fields(key: str) -> None:
    preset = PRESETS[key]
    fields = apply_preset(key, {name: f"  {value} " for name, value in DEMO_PRESET_VALUES[key].items()})
    assert fields["url"].startswith("https://") and "{" not in fields["url"]
    assert (fields["preset"], fields["body_format"]) == (key, preset.body_format)
    assert fields["follow_redirects"] is preset.follow_redirects
    assert fields["forward_credentials"] is preset.forward_credentials
    if preset.body_template is not None:
        assert fields["body_template"].count("{{") == preset.body_template.count("{{")
        assert not any(f"{{{field.key}}}" in fields["body_template"] for field in preset.fields)
    hook = WebhookCreate(name=preset.label, event_type=preset.suggested_event, auth=demo_auth(key), **fields)
    assert hook.url == fields["url"] and hook.preset == key


@pytest.mark.parametrize(
    ("key", "field", "bad"),
    [
        ("google_sheets", "deployment_id", "short"),
        ("google_sheets", "deployment_id", "AKfycb/../../other-path-000000"),
        ("zendesk", "subdomain", "acme.evil.com/x"),
        ("zendesk", "subdomain", "Acme Support"),
        ("freshdesk", "domain", 'acme"}'),
        ("salesforce", "oid", "00D123"),
        ("salesforce", "oid", '00D5g000004DEMO", "x": "'),
        ("mailchimp", "dc", "us21.evil.com"),
        ("mailchimp", "list_id", "a1b2/../x"),
        ("slack", "url", "https://hooks.slack.com.evil.com/services/T0/B0/XXXXXXXX"),
        ("slack", "url", "http://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXX"),
        ("discord", "url", "https://discord.com/api/webhooks/123/abc"),
        ("discord", "url", "https://evil.com/discord.com/api/webhooks/123456789012345678/" + "a" * 40),
    ],
)
def test_apply_preset_refuses_a_bad_value_naming_the_field(key: str, field: str, bad: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: ") as refused:
        apply_preset(key, {**DEMO_PRESET_VALUES[key], field: bad})
    assert bad not in str(refused.value)  # a pasted Slack or Discord URL is a secret


@pytest.mark.parametrize("key", [key for key, preset in PRESETS.items() if preset.fields])
def test_apply_preset_refuses_a_missing_value_naming_the_field(key: str) -> None:
    for field in PRESETS[key].fields:
        for values in ({k: v for k, v in DEMO_PRESET_VALUES[key].items() if k != field.key},
                       {**DEMO_PRESET_VALUES[key], field.key: "   "}):  # fmt: skip
            with pytest.raises(ValueError, match=rf"^{field.key}: .* is required"):
                apply_preset(key, values)


def test_apply_preset_refuses_an_unknown_preset() -> None:
    with pytest.raises(ValueError, match="unknown preset 'intercom'"):
        apply_preset("intercom", {})


def test_substitution_replaces_declared_keys_only_and_never_inside_placeholders() -> None:
    text = '{"a": "{url}", "b": "{{url}}", "c": "{{ url }}", "d": "{other}", "e": "{{{url}}}"}'
    assert substitute(text, {"url": "U"}, ("url",)) == (
        '{"a": "U", "b": "{{url}}", "c": "{{ url }}", "d": "{other}", "e": "{{{url}}}"}'
    )


@pytest.mark.parametrize("key", [key for key, preset in PRESETS.items() if preset.body_template])
def test_preset_templates_check_against_their_suggested_event(key: str) -> None:
    preset = PRESETS[key]
    fields = apply_preset(key, DEMO_PRESET_VALUES[key])
    context = template_context(sample_event(preset.suggested_event), "wh_1", preset.label, "msg_1")
    check_template(fields["body_template"], preset.body_format, context)
    # A contact with nothing but an id and a channel still renders.
    bare = sample_event(preset.suggested_event)
    bare["contact"] = {"id": "c_1", "channel": "sms", "tags": [], "custom_fields": {}}
    check_template(fields["body_template"], preset.body_format, template_context(bare, "wh_1", "x", "msg_1"))


def preset_request(key: str, base_url: str, event: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    """What a webhook made from the preset sends for this event, to the stand-in."""
    preset = PRESETS[key]
    fields = apply_preset(key, DEMO_PRESET_VALUES[key])
    headers = {**fields["headers"], **auth_headers(demo_auth(key))}
    if fields["body_format"] is BodyFormat.STANDARD:
        body = json.dumps(delivery_body(event, "wh_1", preset.label)).encode()
        headers["content-type"] = "application/json"
    else:
        rendered = render(fields["body_template"], fields["body_format"], template_context(event, "wh_1", "x", "m_1"))
        body = rendered.content
        headers["content-type"] = rendered.content_type
    return stand_in_url(base_url, key), headers, body


@pytest.mark.parametrize("key", PRESETS)
def test_the_service_accepts_what_the_preset_sends(svc: StandIns, key: str) -> None:
    preset = PRESETS[key]
    url, headers, body = preset_request(key, svc.url(""), sample_event(preset.suggested_event))
    answer = svc.client.post(url, content=body, headers=headers, follow_redirects=preset.follow_redirects)
    assert 200 <= answer.status_code < 300, answer.text
    assert svc.services.rejected == []
    [record] = svc.services.created[key]
    text = json.dumps(record)
    assert "c_42" in text or "jane@example.com" in text
    assert "Jane" in text or (key == "mailchimp" and record["merge_fields"] == {"FNAME": "Jane", "LNAME": "Doe"})


@pytest.mark.parametrize("key", ["zendesk", "freshdesk", "hubspot", "salesforce", "slack", "discord"])
def test_the_service_accepts_what_the_preset_sends_for_a_one_word_name_and_no_email(svc: StandIns, key: str) -> None:
    event = sample_event(PRESETS[key].suggested_event)
    event["contact"] = {"id": "c_7", "name": "Cher", "channel": "whatsapp", "tags": [], "custom_fields": {}}
    url, headers, body = preset_request(key, svc.url(""), event)
    answer = svc.client.post(url, content=body, headers=headers)
    assert 200 <= answer.status_code < 300, answer.text
    assert svc.services.rejected == []
    [record] = svc.services.created[key]
    assert "Cher" in json.dumps(record)


def test_mailchimp_refuses_a_contact_without_email(svc: StandIns) -> None:
    event = sample_event("sequence.subscribed")
    event["contact"]["custom_fields"] = {}
    url, headers, body = preset_request("mailchimp", svc.url(""), event)
    answer = svc.client.post(url, content=body, headers=headers)
    assert answer.status_code == 400 and answer.json()["title"] == "Invalid Resource"


def test_stand_in_url_keeps_the_query(svc: StandIns) -> None:
    assert stand_in_url("http://127.0.0.1:9", "salesforce") == (
        "http://127.0.0.1:9/svc/salesforce/servlet/servlet.WebToLead?encoding=UTF-8"
    )
    assert stand_in_url("http://127.0.0.1:9/", "zendesk", {"subdomain": "other"}) == (
        "http://127.0.0.1:9/svc/zendesk/api/v2/tickets.json"
    )
