"""The webhook form: what a browser posts, turned into the API's models, and the API's errors
turned back into a message per field.

The Create form starts from "Send to": a custom URL, or a receiver preset (models.presets) whose
values (a subdomain, an ID) make the URL and the body template. Both end in the same Request
section: body format and template, redirects, and the receiver's credentials. Passwords and tokens
are read from a post and never written back into a page."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from core.errors import Problem, Refused, ServiceError
from core.templates import BodyFormat
from models.events import FILTER_KEYS, problems_of
from models.presets import PRESETS, Preset, apply_preset, substitute
from models.tables import (
    MAX_PACE,
    BasicAuth,
    BearerAuth,
    FolderCreate,
    OrderOnFailure,
    Webhook,
    WebhookCreate,
    WebhookUpdate,
)

CONDITION_LABELS: dict[str, tuple[str, str]] = {
    # key: (label, hint)
    "tag": ("Tag", "the tag's name, e.g. Order Closed; empty for any tag"),
    "field": ("Custom field", "the custom field's key, e.g. email"),
    "offset": ("Offset", "-1d, +2h, 30m or 0: when, relative to the field's date"),
    "time_of_day": ("Time of day", "HH:MM on the resulting day, optional"),
    "to": ("Transferred to", "human or bot; empty for either"),
    "agent_id": ("Agent id", "empty for any agent"),
    "sequence_id": ("Sequence id", "empty for any sequence"),
    "entry_point_link_id": ("Entry point link id", "empty for any link"),
}
BODY_FORMATS: dict[str, str] = {
    BodyFormat.STANDARD: "Standard JSON",
    BodyFormat.JSON: "JSON template",
    BodyFormat.FORM: "Form template",
}
AUTH_KINDS: dict[str, str] = {"none": "None", "basic": "Basic", "bearer": "Bearer"}
ON_FAILURE: dict[str, str] = {
    OrderOnFailure.RELEASE: "Release: send the next ones",
    OrderOnFailure.HOLD: "Hold: wait until it is redelivered",
}
FORM_FIELDS = (
    "name", "folder_id", "event_type", "filter", "url", "headers",
    "body_format", "body_template", "follow_redirects", "forward_credentials",
    "max_per_second", "burst", "max_in_flight", "ordered", "ordered_on_failure",
)  # fmt: skip
PACE_INPUTS = ("max_per_second", "burst", "max_in_flight")
"""The Pacing section's number inputs: empty is no limit."""
AUTH_INPUTS = ("username", "password", "token")
PREFIXED = re.compile(r"([a-z_]+(?:\.[a-z0-9_]+)*): (.+)", re.DOTALL)
"""A message that names its field first (`body_template: required when ...`)."""
FORM = "form"
"""The error slot at the top of a form: problems that name none of its fields."""


def auth_kind(auth: BasicAuth | BearerAuth | None) -> str:
    return "none" if auth is None else auth.type


def number_text(value: float | None) -> str:
    """A stored limit as the form shows it: 20, not 20.0; empty for none."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class WebhookForm:
    """The form's values as typed (shown again when something is wrong, bar the secrets), and its errors."""

    name: str = ""
    folder_id: str = ""
    event_type: str = "tag.applied"
    filter: dict[str, str] = field(default_factory=dict)
    url: str = ""
    headers: str = ""
    preset: str = ""
    """The preset's key: on the Create form, the one chosen in "Send to"; on the Edit form, the one
    the webhook was made from (a label only: its URL is edited directly)."""
    preset_values: dict[str, str] = field(default_factory=dict)
    body_format: str = BodyFormat.STANDARD
    body_template: str = ""
    follow_redirects: bool = False
    forward_credentials: bool = False
    auth_type: str = "none"
    username: str = ""
    password: str = field(default="", repr=False)
    """Read from a post, never rendered."""
    token: str = field(default="", repr=False)
    """Read from a post, never rendered."""
    remove_auth: bool = False
    max_per_second: str = ""
    burst: str = ""
    max_in_flight: str = ""
    """The Pacing section's limits as typed; empty: no limit."""
    ordered: bool = False
    ordered_on_failure: str = OrderOnFailure.RELEASE
    editing: bool = False
    current_auth: str = "none"
    """On the Edit form: the kind of credentials the webhook has ("basic", "bearer" or "none")."""
    errors: dict[str, str] = field(default_factory=dict)

    # --- making one -------------------------------------------------------------------------------

    @classmethod
    def start(cls, preset_key: str = "", folder_id: str = "") -> WebhookForm:
        """A new Create form, filled in from the preset when one is chosen (an unknown one is ignored)."""
        preset = PRESETS.get(preset_key)
        if preset is None:
            return cls(folder_id=folder_id)
        return cls(
            name=preset.label,
            folder_id=folder_id,
            event_type=preset.suggested_event,
            headers=header_lines(preset.headers),
            preset=preset.key,
            body_format=preset.body_format,
            body_template=preset.body_template or "",
            follow_redirects=preset.follow_redirects,
            forward_credentials=preset.forward_credentials,
            auth_type=preset.auth,
        )

    @classmethod
    def of_webhook(cls, hook: Webhook) -> WebhookForm:
        """The Edit form of a webhook: its values, and the kind of its credentials (never their values)."""
        kind = auth_kind(hook.receiver_auth)
        return cls(
            name=hook.name,
            folder_id=hook.folder_id or "",
            event_type=hook.event_type,
            filter=dict(hook.filter or {}),
            url=hook.url,
            headers=header_lines(hook.headers),
            preset=hook.preset or "",
            body_format=hook.body_format,
            body_template=hook.body_template or "",
            follow_redirects=hook.follow_redirects,
            forward_credentials=hook.forward_credentials,
            auth_type=kind,
            max_per_second=number_text(hook.max_per_second),
            burst=number_text(hook.burst),
            max_in_flight=number_text(hook.max_in_flight),
            ordered=hook.ordered,
            ordered_on_failure=hook.ordered_on_failure,
            editing=True,
            current_auth=kind,
        )

    @classmethod
    def from_post(cls, form: FormData, editing: Webhook | None = None) -> WebhookForm:
        """The posted form; `editing`: the webhook the Edit form changes."""
        event_type = str(form.get("event_type", ""))
        conditions = {
            key: str(form.get(f"filter.{event_type}.{key}", "")).strip() for key in FILTER_KEYS.get(event_type, ())
        }
        preset_key = (editing.preset or "") if editing is not None else str(form.get("preset", ""))
        preset = PRESETS.get(preset_key)
        fields = preset.fields if preset is not None and editing is None else ()
        return cls(
            name=str(form.get("name", "")),
            folder_id=str(form.get("folder_id", "")),
            event_type=event_type,
            filter={key: value for key, value in conditions.items() if value},
            url=str(form.get("url", "")).strip(),
            headers=str(form.get("headers", "")).replace("\r\n", "\n"),
            preset=preset_key,
            preset_values={item.key: str(form.get(f"preset.{item.key}", "")) for item in fields},
            body_format=str(form.get("body_format", BodyFormat.STANDARD)),
            body_template=str(form.get("body_template", "")).replace("\r\n", "\n"),
            follow_redirects=form.get("follow_redirects") == "true",
            forward_credentials=form.get("forward_credentials") == "true",
            auth_type=str(form.get("auth_type", "none")),
            username=str(form.get("auth.username", "")).strip(),
            password=str(form.get("auth.password", "")).strip(),
            token=str(form.get("auth.token", "")).strip(),
            remove_auth=form.get("remove_auth") == "true",
            max_per_second=str(form.get("max_per_second", "")).strip(),
            burst=str(form.get("burst", "")).strip(),
            max_in_flight=str(form.get("max_in_flight", "")).strip(),
            ordered=form.get("ordered") == "true",
            ordered_on_failure=str(form.get("ordered_on_failure", OrderOnFailure.RELEASE)),
            editing=editing is not None,
            current_auth=auth_kind(editing.receiver_auth) if editing is not None else "none",
        )

    # --- what the page shows ----------------------------------------------------------------------

    @property
    def chosen_preset(self) -> Preset | None:
        return PRESETS.get(self.preset)

    @property
    def preset_fields_shown(self) -> bool:
        """The preset's own inputs stand in for the URL (on the Create form only)."""
        return not self.editing and self.chosen_preset is not None

    @property
    def secret_typed(self) -> bool:
        """A password or token was posted: the refused form asks for it again, as it does not show it."""
        return bool(self.password or self.token)

    def preset_value(self, key: str) -> str:
        return self.preset_values.get(key, "")

    def condition_value(self, event_type: str, key: str) -> str:
        return self.filter.get(key, "") if event_type == self.event_type else ""

    # --- what the API takes -----------------------------------------------------------------------

    def create(self) -> WebhookCreate:
        """The WebhookCreate this form asks for; every problem at once, each naming its field."""
        problems: list[Problem] = []
        values = self.common_values(problems)
        preset = self.chosen_preset
        if preset is not None:
            try:
                shaped = apply_preset(preset.key, self.preset_values)
            except ValueError as err:
                problems.append(self.preset_problem(str(err)))
            else:
                values["url"] = shaped["url"]
                values["preset"] = preset.key
                if values["body_template"] is not None:
                    # The template as edited here, with the preset's values put in, as apply_preset does.
                    clean = {item.key: self.preset_values[item.key].strip() for item in preset.fields}
                    values["body_template"] = substitute(values["body_template"], clean, tuple(clean))
        elif self.preset:
            problems.append(("preset", f"unknown preset {self.preset!r}: choose one in Send to"))
        auth = self.new_auth(problems)
        checked = None
        try:
            checked = WebhookCreate.model_validate(values | {"auth": auth})
        except ValidationError as err:
            found = problems_of(err.errors(include_url=False))
            if preset is not None and "url" not in values:  # the preset's value is at fault, and said so
                found = [(where, message) for where, message in found if where != "url"]
            problems.extend(found)
        if problems or checked is None:
            raise Refused.each(problems)
        return checked

    def change(self, hook: Webhook) -> WebhookUpdate:
        """The WebhookUpdate this Edit form asks for, checked as a whole first (so every problem shows
        at once); credentials left empty are kept."""
        problems: list[Problem] = []
        values = self.common_values(problems)
        values["url"] = self.url
        current = hook.receiver_auth
        auth, changes_auth = self.changed_auth(current, problems)
        whole = values | {"enabled": hook.enabled, "preset": hook.preset}
        whole["auth"] = auth if changes_auth else (None if current is None else current.model_dump())
        try:
            WebhookCreate.model_validate(whole)
        except ValidationError as err:
            problems.extend(problems_of(err.errors(include_url=False)))
        if problems:
            raise Refused.each(problems)
        return WebhookUpdate.model_validate(values | ({"auth": auth} if changes_auth else {}))

    def common_values(self, problems: list[Problem]) -> dict[str, Any]:
        """What both forms send: the trigger, the name and place, the Request section (no URL, no auth)."""
        template = self.body_template if self.body_format != BodyFormat.STANDARD else ""
        values: dict[str, Any] = {
            "name": self.name,
            "folder_id": self.folder_id or None,
            "event_type": self.event_type,
            "filter": self.filter,
            "headers": self.parsed_headers(problems),
            "body_format": self.body_format,
            "body_template": template if template.strip() else None,
            "follow_redirects": self.follow_redirects,
            "forward_credentials": self.forward_credentials,
            "ordered": self.ordered,
            "ordered_on_failure": self.ordered_on_failure,
        }
        for name in PACE_INPUTS:
            values[name] = self.limit(name, problems)
        if not self.preset_fields_shown:
            values["url"] = self.url
        return values

    def limit(self, name: str, problems: list[Problem]) -> float | int | str | None:
        """A Pacing input: None when empty (no limit), else its number. Text that is not one is said
        here in the form's words, and handed on as typed: the model refuses it too (this message,
        first, is the one shown), and a burst is then not also refused for want of a rate."""
        text: str = getattr(self, name)
        if not text:
            return None
        whole = name != "max_per_second"
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            example = "a whole number, such as 5" if whole else "a number, such as 20 or 0.5"
            problems.append((name, f"enter {example}, at most {MAX_PACE}; leave it empty for no limit"))
            return text
        return value

    def new_auth(self, problems: list[Problem]) -> dict[str, str] | None:
        """The credentials of a new webhook, from the Authentication inputs of the chosen kind."""
        if self.auth_type == "basic":
            if not self.username:
                problems.append(("auth.username", "enter the user name"))
                return None
            return {"type": "basic", "username": self.username, "password": self.password}
        if self.auth_type == "bearer":
            if not self.token:
                problems.append(("auth.token", "enter the token"))
                return None
            return {"type": "bearer", "token": self.token}
        if self.auth_type != "none":
            problems.append(("auth", "choose None, Basic or Bearer"))
        return None

    def changed_auth(
        self, current: BasicAuth | BearerAuth | None, problems: list[Problem]
    ) -> tuple[dict[str, str] | None, bool]:
        """(the new credentials, whether they change). Inputs left empty keep what is stored: a new
        Basic password alone keeps the user name, and the other way round."""
        if self.remove_auth or self.auth_type == "none":
            return None, current is not None
        if isinstance(current, BasicAuth) and self.auth_type == "basic":
            if not (self.username or self.password):
                return None, False
            username, password = self.username or current.username, self.password or current.password
            return {"type": "basic", "username": username, "password": password}, True
        if isinstance(current, BearerAuth) and self.auth_type == "bearer" and not self.token:
            return None, False
        auth = self.new_auth(problems)
        return auth, auth is not None

    def parsed_headers(self, problems: list[Problem]) -> dict[str, str]:
        headers: dict[str, str] = {}
        for number, line in enumerate(self.headers.splitlines(), 1):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon:
                problems.append(("headers", f"line {number}: write each header as Name: value"))
                continue
            headers[name.strip()] = value.strip()
        return headers

    # --- errors -----------------------------------------------------------------------------------

    def preset_problem(self, message: str) -> Problem:
        """apply_preset's message names the preset's field first (`subdomain: ... is required`)."""
        named = PREFIXED.fullmatch(message)
        if named is not None:
            return f"preset.{named.group(1)}", named.group(2)
        return "preset", message

    def refuse(self, err: ServiceError) -> None:
        """Put each message next to the field it names, without the field's name in front."""
        self.errors = field_errors(err.problems, self.slot)

    def slot(self, where: str | None) -> str:
        if not where:
            return FORM
        parts = where.split(".")
        head = parts[0]
        preset = self.chosen_preset
        if head == "auth":
            return f"auth.{parts[-1]}" if parts[-1] in AUTH_INPUTS else "auth"
        if head == "preset":
            keys = {item.key for item in preset.fields} if preset is not None else set()
            return f"preset.{parts[1]}" if len(parts) > 1 and parts[1] in keys else "preset"
        if head == "url" and self.preset_fields_shown and preset is not None:
            # The URL is made of the preset's values: its problem goes by the first of them.
            return f"preset.{preset.fields[0].key}" if preset.fields else "preset"
        return head if head in FORM_FIELDS else FORM


def header_lines(headers: dict[str, str] | None) -> str:
    return "\n".join(f"{name}: {value}" for name, value in (headers or {}).items())


@dataclass
class FolderForm:
    """A folder form the Webhooks page shows again, refused: which one ("new", "rename" or
    "delete"), the name as typed, and its errors by input."""

    which: str
    name: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def folder_values(name: str) -> FolderCreate:
    """A folder form's name as the API takes it, refused in the model's words."""
    try:
        return FolderCreate.model_validate({"name": name})
    except ValidationError as err:
        raise Refused.each(problems_of(err.errors(include_url=False))) from None


def field_errors(problems: list[Problem], slot: Callable[[str | None], str]) -> dict[str, str]:
    """A refused form's messages by error slot (`slot` gives the form's slot of a field, FORM for
    its top), each without its field's name in front. A field shows its first message (the form's
    own words come before the model's on the same field); the top shows every one."""
    errors: dict[str, str] = {}
    for where, message in problems:
        key, text = place(where, message, slot)
        if key not in errors:
            errors[key] = text
        elif key == FORM and text not in errors[key]:
            errors[key] += f"; {text}"
    return errors


def place(where: str | None, message: str, slot: Callable[[str | None], str]) -> tuple[str, str]:
    """(the form's error slot, the message) for a problem of the field `where` (a dotted path)."""
    message = message.removeprefix(f"{where}: ") if where else message
    named = PREFIXED.fullmatch(message)
    if slot(where) != FORM:
        return slot(where), message
    if named is not None and slot(named.group(1)) != FORM:
        # A rule about several fields (a model's own check) names its field in the message.
        return slot(named.group(1)), named.group(2)
    # At the top: a field the form has no input for keeps its name, which says what is wrong.
    return FORM, f"{where}: {message}" if where else message


def inputs(*fields: str) -> Callable[[str | None], str]:
    """The error slots of a form whose inputs are these fields: each its own, any other the top."""
    return lambda where: where if where in fields else FORM
