"""Which services have a stand-in, what each expects, and how a webhook reaches it: the judges by
service name, the demo credentials and preset values, a webhook `auth` made of those credentials,
and the preset's URL moved under the local server."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from devstack.services import discord, freshdesk, google_sheets, hubspot, mailchimp, salesforce, slack, zendesk
from devstack.services.judging import Judge, StandIn
from models.presets import PRESETS, apply_preset
from models.tables import BasicAuth, BearerAuth

STAND_INS: dict[str, StandIn] = {
    "google_sheets": google_sheets.STAND_IN,
    "zendesk": zendesk.STAND_IN,
    "freshdesk": freshdesk.STAND_IN,
    "hubspot": hubspot.STAND_IN,
    "salesforce": salesforce.STAND_IN,
    "mailchimp": mailchimp.STAND_IN,
    "slack": slack.STAND_IN,
    "discord": discord.STAND_IN,
}

JUDGES: dict[str, Judge] = {service: stand_in.judge for service, stand_in in STAND_INS.items()}

DEMO_CREDENTIALS: dict[str, dict[str, str]] = {service: stand_in.credentials for service, stand_in in STAND_INS.items()}
"""What each stand-in expects (each service's module says what the values are)."""

DEMO_PRESET_VALUES: dict[str, dict[str, str]] = {
    service: stand_in.preset_values for service, stand_in in STAND_INS.items()
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
