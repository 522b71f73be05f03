"""Receiver presets: a webhook already shaped for a well-known service (a Google Sheet, a helpdesk,
a CRM, an e-mail list, a chat channel), so that a customer fills in two or three values instead of
writing a body template.

Pure data and two small functions, no I/O. `apply_preset(key, values)` gives the fields of a
`WebhookCreate` (url, body format and template, headers, redirect policy, preset); the customer
still picks the trigger (`suggested_event` is a hint) and enters the credentials the preset's
`auth_help` describes (stored encrypted, as `auth`).

Each value a customer fills in replaces `{key}` in the URL pattern and in the body template. Only
declared keys are replaced, and never inside a template placeholder (`{{ ... }}`), and every value
must fully match its field's pattern, which keeps it safe in a URL and inside a JSON string.

The templates use the placeholder grammar of core.templates: contact e-mail and phone are
`contact.custom_fields.email` / `contact.custom_fields.phone`, which many chat contacts lack, so the
templates only send them where the service accepts an empty value. devstack.services holds a local
stand-in for each service, written from the same documentation, that the tests send to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from core.templates import BodyFormat

AuthKind = Literal["none", "basic", "bearer"]


@dataclass(frozen=True)
class PresetField:
    """A value the user fills in, substituted for `{key}` in url_pattern and body_template."""

    key: str
    label: str
    help: str
    pattern: str
    """A regular expression the whole value must match (keeps values URL- and JSON-safe)."""


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    """What the webhook does, for the console: "Zendesk: create a ticket"."""
    url_pattern: str
    fields: tuple[PresetField, ...]
    body_format: BodyFormat
    body_template: str | None
    """A readable multi-line JSON template (core.templates), or None for the standard body."""
    auth: AuthKind
    auth_help: str
    """What to put in the user name and password, or the token."""
    headers: dict[str, str] = field(default_factory=dict)
    follow_redirects: bool = False
    forward_credentials: bool = False
    suggested_event: str = "contact.created"
    docs_url: str = ""
    guide: str = ""
    """A few lines for the console and the docs: where to find each value."""


# --- Google Sheets (an Apps Script web app) -----------------------------------------------------
# https://developers.google.com/apps-script/guides/web (doPost(e), e.postData.contents)
# https://developers.google.com/apps-script/guides/content (ContentService; the web app answers a
# POST with a 302 to script.googleusercontent.com, where a GET reads the script's output)

APPS_SCRIPT_SNIPPET = """\
// Extensions > Apps Script, paste this, save, then Deploy > New deployment > Web app
// (Execute as: Me, Who has access: Anyone) and copy the deployment ID from the /exec URL.
function doPost(e) {
  var body = JSON.parse(e.postData.contents);
  var data = body.data || {};
  var contact = data.contact || {};
  SpreadsheetApp.getActiveSpreadsheet().getSheets()[0].appendRow([
    contact.name || "",
    contact.id || "",
    contact.channel || "",
    (contact.tags || []).join(", "),
    body.type,
    body.timestamp,
    data.event_id || ""
  ]);
  return ContentService.createTextOutput(JSON.stringify({ result: "success" }))
    .setMimeType(ContentService.MimeType.JSON);
}
"""
"""Appends one row per delivery from the standard body: name, contact id, channel, tags, event
type, when it happened, and the event id (to spot a row written twice after a retry)."""

GOOGLE_SHEETS = Preset(
    key="google_sheets",
    label="Google Sheets: append a row",
    url_pattern="https://script.google.com/macros/s/{deployment_id}/exec",
    fields=(
        PresetField(
            key="deployment_id",
            label="Deployment ID",
            help="From Deploy > Manage deployments: the ID in https://script.google.com/macros/s/<ID>/exec "
            "(it starts with AKfyc).",
            pattern=r"[A-Za-z0-9_-]{20,200}",
        ),
    ),
    body_format=BodyFormat.STANDARD,
    body_template=None,
    auth="none",
    auth_help="None. Apps Script cannot read request headers, so the script cannot check the signature: "
    "the deployment URL is the secret, keep it private.",
    follow_redirects=True,
    forward_credentials=False,
    suggested_event="tag.applied",
    docs_url="https://developers.google.com/apps-script/guides/web",
    guide=(
        "1. Open the sheet, then Extensions > Apps Script.\n"
        "2. Paste the doPost(e) script below, save.\n"
        "3. Deploy > New deployment > Web app; Execute as: Me; Who has access: Anyone. Authorize.\n"
        "4. Copy the deployment ID (the part between /s/ and /exec of the web app URL).\n"
        "Apps Script answers 302 to script.googleusercontent.com, where the result is read with a GET: "
        "the preset follows redirects and keeps the signature and custom headers on script.google.com. "
        "A new version of the script needs Deploy > Manage deployments > Edit > New version "
        "(the ID stays the same).\n\n" + APPS_SCRIPT_SNIPPET
    ),
)


# --- Zendesk: create a ticket --------------------------------------------------------------------
# https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket
# https://developer.zendesk.com/api-reference/introduction/security-and-auth/ (API token:
# Basic base64("{email}/token:{api_token}"))

ZENDESK_TEMPLATE = """\
{
  "ticket": {
    "subject": "Chat handed over to a human: {{ contact.name | default:'unnamed contact' }}",
    "comment": {
      "body": "{{ contact.name | default:'A contact' }} asked for a human agent on {{ contact.channel }}.\\n\\nContact ID: {{ contact.id }}\\nE-mail: {{ contact.custom_fields.email | default:'-' }}\\nPhone: {{ contact.custom_fields.phone | default:'-' }}\\nTags: {{ contact.tags | join:', ' }}\\nEvent: {{ type }} {{ event_id }} at {{ occurred_at }}"
    },
    "external_id": "{{ contact.id }}",
    "priority": "normal",
    "tags": ["chatbot", "handover"]
  }
}
"""  # noqa: E501

ZENDESK = Preset(
    key="zendesk",
    label="Zendesk: create a ticket",
    url_pattern="https://{subdomain}.zendesk.com/api/v2/tickets.json",
    fields=(
        PresetField(
            key="subdomain",
            label="Zendesk subdomain",
            help="The first part of your Zendesk address: acme for https://acme.zendesk.com.",
            pattern=r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?",
        ),
    ),
    body_format=BodyFormat.JSON,
    body_template=ZENDESK_TEMPLATE,
    auth="basic",
    auth_help="User name: the e-mail of a Zendesk agent followed by /token (agent@example.com/token). "
    "Password: an API token (Admin Center > Apps and integrations > APIs > Zendesk API > Add API token).",
    suggested_event="conversation.transferred",
    docs_url="https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket",
    guide=(
        "Subdomain: acme for https://acme.zendesk.com.\n"
        "Enable token access and add a token in Admin Center > Apps and integrations > APIs > Zendesk API.\n"
        "Authentication: Basic, user name agent@example.com/token (your agent e-mail + /token), password the token.\n"
        "The ticket's requester is that agent: chat contacts often have no e-mail, which Zendesk needs to create "
        "an end user, so the contact's name, id, e-mail and phone go in the first comment and its id in external_id."
    ),
)


# --- Freshdesk: create a ticket ------------------------------------------------------------------
# https://developers.freshdesk.com/api/#create_ticket (one of requester_id, email, facebook_id,
# phone, twitter_id, unique_external_id is mandatory; status 2-5, priority 1-4, source 7 = Chat)
# https://developers.freshdesk.com/api/#authentication (API key as the user name, "X" as password)

FRESHDESK_TEMPLATE = """\
{
  "unique_external_id": "{{ contact.id }}",
  "name": "{{ contact.name | default:'Chat contact' }}",
  "subject": "Chat handed over to a human: {{ contact.name | default:'unnamed contact' }}",
  "description": "{{ contact.name | default:'A contact' | escape_html }} asked for a human agent on {{ contact.channel }}.<br>Contact ID: {{ contact.id }}<br>E-mail: {{ contact.custom_fields.email | default:'-' | escape_html }}<br>Phone: {{ contact.custom_fields.phone | default:'-' | escape_html }}<br>Tags: {{ contact.tags | join:', ' | escape_html }}<br>Event: {{ type }} {{ event_id }} at {{ occurred_at }}",
  "status": 2,
  "priority": 2,
  "source": 7,
  "tags": ["chatbot", "handover"]
}
"""  # noqa: E501

FRESHDESK = Preset(
    key="freshdesk",
    label="Freshdesk: create a ticket",
    url_pattern="https://{domain}.freshdesk.com/api/v2/tickets",
    fields=(
        PresetField(
            key="domain",
            label="Freshdesk domain",
            help="The first part of your helpdesk address: acme for https://acme.freshdesk.com.",
            pattern=r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
        ),
    ),
    body_format=BodyFormat.JSON,
    body_template=FRESHDESK_TEMPLATE,
    auth="basic",
    auth_help="User name: your Freshdesk API key (profile picture > Profile settings > View API key). Password: X.",
    suggested_event="conversation.transferred",
    docs_url="https://developers.freshdesk.com/api/#create_ticket",
    guide=(
        "Domain: acme for https://acme.freshdesk.com.\n"
        "API key: profile picture > Profile settings > View API key. Authentication: Basic, user name the key, "
        "password X.\n"
        "The requester is identified by unique_external_id (the chat contact's id), as chat contacts often have "
        "no e-mail: the first ticket creates a Freshdesk contact with that id and the contact's name. "
        "Status 2 = Open, priority 2 = Medium, source 7 = Chat."
    ),
)


# --- HubSpot: create a contact -------------------------------------------------------------------
# https://developers.hubspot.com/docs/api/crm/contacts (POST /crm/v3/objects/contacts with a
# "properties" object; include at least one of email, firstname, lastname; 201 on success)

HUBSPOT_TEMPLATE = """\
{
  "properties": {
    "email": "{{ contact.custom_fields.email | default:'' }}",
    "firstname": "{{ contact.name | first_name | default:'' }}",
    "lastname": "{{ contact.name | last_name | default:'' }}",
    "phone": "{{ contact.custom_fields.phone | default:'' }}",
    "lifecyclestage": "lead"
  }
}
"""

HUBSPOT = Preset(
    key="hubspot",
    label="HubSpot: create a contact",
    url_pattern="https://api.hubapi.com/crm/v3/objects/contacts",
    fields=(),
    body_format=BodyFormat.JSON,
    body_template=HUBSPOT_TEMPLATE,
    auth="bearer",
    auth_help="Token: the access token of a HubSpot private app with the crm.objects.contacts.write scope "
    "(Settings > Integrations > Private Apps > Create a private app > Auth).",
    suggested_event="contact.created",
    docs_url="https://developers.hubspot.com/docs/api/crm/contacts",
    guide=(
        "Create a private app (Settings > Integrations > Private Apps) with the scope crm.objects.contacts.write, "
        "then copy its access token into the Bearer token.\n"
        "HubSpot answers 409 when a contact with that e-mail exists already (a second event for the same "
        "contact, say), and retrying does not change that answer. Add other properties (custom ones must be "
        "created in HubSpot first) to the template's properties."
    ),
)


# --- Salesforce: Web-to-Lead ---------------------------------------------------------------------
# https://help.salesforce.com/s/articleView?id=sf.setting_up_web-to-lead.htm (the form posts to
# https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8 with the org's oid)

SALESFORCE_TEMPLATE = """\
{
  "oid": "{oid}",
  "first_name": "{{ contact.name | first_name }}",
  "last_name": "{{ contact.name | last_name | default:'[not provided]' }}",
  "email": "{{ contact.custom_fields.email | default:'' }}",
  "phone": "{{ contact.custom_fields.phone | default:'' }}",
  "company": "{{ contact.custom_fields.company | default:'[not provided]' }}",
  "lead_source": "Web",
  "description": "Chat contact {{ contact.id }} on {{ contact.channel }}. Tags: {{ contact.tags | join:', ' }}"
}
"""

SALESFORCE = Preset(
    key="salesforce",
    label="Salesforce: create a lead (Web-to-Lead)",
    url_pattern="https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8",
    fields=(
        PresetField(
            key="oid",
            label="Organization ID",
            help="Setup > Company Information > Salesforce.com Organization ID (15 characters, starts with 00D); "
            "also the oid of the form Setup > Web-to-Lead generates.",
            pattern=r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?",
        ),
    ),
    body_format=BodyFormat.FORM,
    body_template=SALESFORCE_TEMPLATE,
    auth="none",
    auth_help="None: Web-to-Lead takes no credentials, the Organization ID (oid) in the body names your org.",
    suggested_event="contact.created",
    docs_url="https://help.salesforce.com/s/articleView?id=sf.setting_up_web-to-lead.htm",
    guide=(
        "Turn on Web-to-Lead (Setup > Web-to-Lead) and copy your Organization ID "
        "(Setup > Company Information, 00D...).\n"
        "Web-to-Lead answers 200 whether or not it created the lead: a lead it refuses (a wrong oid, a value a "
        "validation rule or a restricted picklist rejects, the daily limit of 500) only shows in the e-mail "
        "Salesforce sends the default lead creator. Check the first leads arrive in Salesforce."
    ),
)


# --- Mailchimp: add an audience member -----------------------------------------------------------
# https://mailchimp.com/developer/marketing/api/list-members/add-member-to-list/
# https://mailchimp.com/developer/marketing/guides/marketing-api-conventions/ (Basic, any user name,
# the API key as password; the key's suffix is the data center in the host name)

MAILCHIMP_TEMPLATE = """\
{
  "email_address": "{{ contact.custom_fields.email | default:'' }}",
  "status": "subscribed",
  "merge_fields": {
    "FNAME": "{{ contact.name | first_name | default:'' }}",
    "LNAME": "{{ contact.name | last_name | default:'' }}"
  },
  "tags": "{{ contact.tags }}"
}
"""

MAILCHIMP = Preset(
    key="mailchimp",
    label="Mailchimp: add an audience member",
    url_pattern="https://{dc}.api.mailchimp.com/3.0/lists/{list_id}/members",
    fields=(
        PresetField(
            key="dc",
            label="Data center",
            help="The end of your API key after the dash: us21 for a key ending in -us21.",
            pattern=r"[a-z]{2,4}[0-9]{1,3}",
        ),
        PresetField(
            key="list_id",
            label="Audience ID",
            help="Audience > Settings > Audience name and defaults > Audience ID (like a1b2c3d4e5).",
            pattern=r"[a-z0-9]{6,20}",
        ),
    ),
    body_format=BodyFormat.JSON,
    body_template=MAILCHIMP_TEMPLATE,
    auth="basic",
    auth_help="User name: anything (anystring). Password: your Mailchimp API key "
    "(profile > Extras > API keys > Create A Key).",
    suggested_event="sequence.subscribed",
    docs_url="https://mailchimp.com/developer/marketing/api/list-members/add-member-to-list/",
    guide=(
        "API key: profile > Extras > API keys. Its suffix after the dash is the data center (us21).\n"
        "Audience ID: Audience > Settings > Audience name and defaults.\n"
        "Only contacts with an e-mail can be added: Mailchimp refuses the others (400), as it refuses a contact "
        'already in the audience ("Member Exists", 400). Use status "pending" instead of "subscribed" for '
        "double opt-in."
    ),
)


# --- Slack and Discord: a message in a channel ---------------------------------------------------
# https://api.slack.com/messaging/webhooks (POST JSON with "text"; 200 "ok")
# https://discord.com/developers/docs/resources/webhook#execute-webhook (one of content, embeds,
# files; 204 No Content)

SLACK_TEMPLATE = """\
{
  "text": "{{ contact.name | default:'A contact' | escape_slack }} asked for a human agent on {{ contact.channel }} (contact {{ contact.id }}). Tags: {{ contact.tags | join:', ' | escape_slack }}"
}
"""  # noqa: E501

DISCORD_TEMPLATE = """\
{
  "content": "{{ contact.name | default:'A contact' }} asked for a human agent on {{ contact.channel }} (contact {{ contact.id }}). Tags: {{ contact.tags | join:', ' }}",
  "allowed_mentions": {"parse": []}
}
"""  # noqa: E501

SLACK = Preset(
    key="slack",
    label="Slack: post a message",
    url_pattern="{url}",
    fields=(
        PresetField(
            key="url",
            label="Webhook URL",
            help="From your Slack app: Incoming Webhooks > Add New Webhook to Workspace "
            "(https://hooks.slack.com/services/T.../B.../...).",
            pattern=r"https://hooks\.slack\.com/services/T[A-Z0-9]{2,20}/B[A-Z0-9]{2,20}/[A-Za-z0-9]{8,64}",
        ),
    ),
    body_format=BodyFormat.JSON,
    body_template=SLACK_TEMPLATE,
    auth="none",
    auth_help="None: the webhook URL is the secret, keep it private.",
    suggested_event="conversation.transferred",
    docs_url="https://api.slack.com/messaging/webhooks",
    guide=(
        "Create a Slack app (api.slack.com/apps), turn on Incoming Webhooks, Add New Webhook to Workspace, pick "
        "the channel and paste the https://hooks.slack.com/services/... URL. The message text is mrkdwn."
    ),
)

DISCORD = Preset(
    key="discord",
    label="Discord: post a message",
    url_pattern="{url}",
    fields=(
        PresetField(
            key="url",
            label="Webhook URL",
            help="Channel settings > Integrations > Webhooks > New Webhook > Copy Webhook URL "
            "(https://discord.com/api/webhooks/<id>/<token>).",
            pattern=r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api(?:/v[0-9]{1,2})?/webhooks/[0-9]{17,20}"
            r"/[A-Za-z0-9_-]{20,200}",
        ),
    ),
    body_format=BodyFormat.JSON,
    body_template=DISCORD_TEMPLATE,
    auth="none",
    auth_help="None: the webhook URL is the secret, keep it private.",
    suggested_event="conversation.transferred",
    docs_url="https://discord.com/developers/docs/resources/webhook#execute-webhook",
    guide=(
        "Channel settings > Integrations > Webhooks > New Webhook > Copy Webhook URL, and paste it. "
        'The template sets allowed_mentions to {"parse": []}, so a contact named @everyone pings nobody.'
    ),
)


PRESETS: dict[str, Preset] = {
    preset.key: preset for preset in (GOOGLE_SHEETS, ZENDESK, FRESHDESK, HUBSPOT, SALESFORCE, MAILCHIMP, SLACK, DISCORD)
}


def substitute(text: str, values: dict[str, str], keys: tuple[str, ...]) -> str:
    """Replace `{key}` for the declared keys only; `{{key}}` (a template placeholder) is left alone."""
    if not keys:
        return text
    pattern = re.compile(r"(?<!\{)\{(" + "|".join(re.escape(key) for key in keys) + r")\}(?!\})")
    return pattern.sub(lambda match: values[match.group(1)], text)


def apply_preset(key: str, values: dict[str, str]) -> dict[str, Any]:
    """The fields of a WebhookCreate for this preset, from the values the user filled in (surrounding
    spaces ignored; values for undeclared keys ignored). Raises ValueError naming the field when a
    value is missing or does not match its pattern, or the preset when it is unknown."""
    preset = PRESETS.get(key)
    if preset is None:
        raise ValueError(f"unknown preset {key!r}; expected one of {', '.join(PRESETS)}")
    clean: dict[str, str] = {}
    for item in preset.fields:
        value = values.get(item.key)
        if value is None or not str(value).strip():
            raise ValueError(f"{item.key}: {item.label} is required")
        value = str(value).strip()
        if not re.fullmatch(item.pattern, value):
            # The value itself stays out of the message: a Slack or Discord URL is a secret.
            raise ValueError(f"{item.key}: not a valid {item.label}; {item.help}")
        clean[item.key] = value
    keys = tuple(item.key for item in preset.fields)
    template = preset.body_template
    return {
        "url": substitute(preset.url_pattern, clean, keys),
        "body_format": preset.body_format,
        "body_template": None if template is None else substitute(template, clean, keys),
        "headers": dict(preset.headers),
        "follow_redirects": preset.follow_redirects,
        "forward_credentials": preset.forward_credentials,
        "preset": preset.key,
    }
