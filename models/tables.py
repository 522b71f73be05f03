"""The store's tables (SQLModel), with the Base / Create / Update / Public classes around them.

Shape rules that need no I/O (URL form, names, filters that fit the trigger) are validated here,
so the API, the command line and the activities all apply the same ones.
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field as PydanticField
from pydantic import TypeAdapter, ValidationInfo, field_validator
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlmodel import Field, SQLModel

import store.keys  # noqa: F401  (puts secret_keys on SQLModel.metadata beside these tables, for Alembic)
from core.names import check_key_length, name_key
from core.templates import BodyFormat, check_template, template_context
from models.datetime_trigger import check_datetime_filter
from models.events import DATETIME_TYPE, EVENT_TYPES, FILTER_KEYS
from models.samples import sample_event
from store.crypto import EncryptedText

MAX_URL_LENGTH = 2048
MAX_PACE = 1000
"""The highest rate, burst or concurrency a webhook may set: past it, set none."""
MIN_RATE = 0.001
"""The lowest rate: one request every 1,000 s (about 17 minutes)."""


class OrderOnFailure(StrEnum):
    """What an ordered webhook does with a contact's later events once a delivery gave up."""

    RELEASE = "release"
    HOLD = "hold"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps in UTC that come back aware on every database (SQLite alone forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def aware(*, nullable: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable)


# --- folders -----------------------------------------------------------------------------------


class FolderBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        return strip_name(value)


class FolderCreate(FolderBase):
    pass


class Folder(FolderBase, table=True):
    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("workspace_id", "name_key", name="uq_folders_workspace_name_key"),)

    id: str = Field(default_factory=lambda: new_id("fld"), primary_key=True, max_length=40)
    workspace_id: str = Field(index=True, max_length=200)
    name_key: str = Field(default="", sa_column=Column(Text, nullable=False))
    """The name as uniqueness compares it (core.names), set from it on every write (`key_the_name`)."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=aware())


class FolderPublic(FolderBase):
    id: str
    workspace_id: str
    created_at: datetime


# --- webhooks ----------------------------------------------------------------------------------


class WebhookBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    folder_id: str | None = Field(default=None, max_length=40)
    event_type: str = Field(max_length=64)
    filter: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    url: str = Field(max_length=MAX_URL_LENGTH)
    enabled: bool = True
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """Extra request headers sent with every delivery (an API key the receiver expects, say)."""
    follow_redirects: bool = False
    """Follow up to 5 redirects, each hop under the address guard (a Google Apps Script web app
    answers 302). Off by default, as the Standard Webhooks guidance advises."""
    forward_credentials: bool = False
    """When a redirect leads to another host, send the signature, custom headers and authentication
    there too. Off: they go to the webhook's own host only."""
    body_format: BodyFormat = Field(default=BodyFormat.STANDARD, sa_column=Column(String(16), nullable=False))
    """`standard`: the contract's JSON. `json` / `form`: the body rendered from `body_template`."""
    body_template: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """For `json` and `form`: a JSON document whose strings may hold placeholders (core.templates)."""
    preset: str | None = Field(default=None, max_length=32)
    """The receiver preset the webhook was made from (models.presets), for the console's label."""
    max_per_second: float | None = Field(default=None, ge=MIN_RATE, le=MAX_PACE)
    """At most this many requests a second to this webhook, whichever worker sends them (None: no
    limit). Deliveries over it wait their turn without using up an attempt (activities.pacing)."""
    burst: int | None = Field(default=None, ge=1, le=MAX_PACE)
    """With max_per_second: how many may go at once before the pace applies (1, the default:
    evenly spaced). No 1-second window sees more than max_per_second + burst."""
    max_in_flight: int | None = Field(default=None, ge=1, le=MAX_PACE)
    """At most this many requests open at once to this webhook (None: no cap)."""
    ordered: bool = False
    """One contact's events go out one at a time, in the order they occurred (ties: the order
    they were received); a failing delivery holds back only that contact's later events."""
    ordered_on_failure: OrderOnFailure = Field(
        default=OrderOnFailure.RELEASE, sa_column=Column(String(8), nullable=False)
    )
    """With ordered: when a delivery gives up, `release` lets the contact's next events go;
    `hold` keeps them waiting until the failed one is redelivered (or the webhook set to release)."""

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        return strip_name(value)

    @field_validator("max_per_second", mode="before")
    @classmethod
    def _finite_rate(cls, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a number of requests a second, not NaN or infinity")
        return value

    @field_validator("burst")
    @classmethod
    def _burst_with_pace(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("max_per_second") is None and "max_per_second" in info.data:
            raise ValueError("only with max_per_second: set a rate for the burst to be part of, or leave it out")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        check_headers(value)
        return {name: text.strip() for name, text in value.items()}  # HTTP refuses surrounding spaces

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url_form(value)

    @field_validator("event_type")
    @classmethod
    def _event_type(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"unknown event type {value!r}; expected one of {', '.join(EVENT_TYPES)}")
        return value

    @field_validator("filter")
    @classmethod
    def _filter_fits_trigger(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if "event_type" in info.data:  # absent when the type itself was refused
            check_filter(info.data["event_type"], value)
        return value


# --- authentication to receivers (a secret, as the signing secret is) ------------------------------


MASK = "********"
BEARER_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
"""RFC 6750's b64token: anything else is not a valid header value, or not one any API issues."""


class BasicAuth(SQLModel):
    """HTTP Basic: Freshdesk (API key as the user name), Mailchimp (API key as the password), Zendesk."""

    type: Literal["basic"] = "basic"
    username: str = Field(min_length=1, max_length=500)
    password: str = Field(default="", max_length=500)

    @field_validator("username", "password")
    @classmethod
    def _one_line(cls, value: str, info: ValidationInfo) -> str:
        # Surrounding spaces come from a paste, never from a key; messages never quote the value.
        value = value.strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must be on one line, without control characters")
        if info.field_name == "username" and (not value or ":" in value):
            raise ValueError("must not be empty or hold a colon (HTTP Basic puts one after it)")
        return value


class BearerAuth(SQLModel):
    """`Authorization: Bearer <token>`: HubSpot private apps, most OAuth-era APIs."""

    type: Literal["bearer"] = "bearer"
    token: str = Field(min_length=1, max_length=4000)

    @field_validator("token")
    @classmethod
    def _b64token(cls, value: str) -> str:
        value = value.strip()
        if not BEARER_TOKEN.match(value):
            raise ValueError("must be a bearer token: letters, digits and - . _ ~ + / (then = signs), no spaces")
        return value


ReceiverAuth = Annotated[BasicAuth | BearerAuth, Field(discriminator="type")]
AUTH_ADAPTER: TypeAdapter[BasicAuth | BearerAuth] = TypeAdapter(ReceiverAuth)


class AuthPublic(SQLModel):
    """What answers show of a receiver's credentials: their kind, never their value."""

    type: str
    username: str | None = None
    password: str | None = None
    token: str | None = None


def mask_auth(auth: BasicAuth | BearerAuth | None) -> AuthPublic | None:
    if auth is None:
        return None
    if isinstance(auth, BasicAuth):
        return AuthPublic(type="basic", username=MASK, password=MASK)
    return AuthPublic(type="bearer", token=MASK)


class WebhookCreate(WebhookBase):
    body_template: Annotated[str | None, PydanticField(validate_default=True)] = None
    auth: ReceiverAuth | None = None
    """Credentials for the receiver's own API; stored encrypted, shown masked."""

    @field_validator("body_template")
    @classmethod
    def _template_renders(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A template is tried on a sample event of the webhook's trigger when it is saved."""
        fmt, event_type = info.data.get("body_format"), info.data.get("event_type")
        if fmt is None or event_type is None:  # refused themselves
            return value
        if fmt == BodyFormat.STANDARD:
            if value:
                raise ValueError("only used when body_format is json or form: leave it out, or choose one of those")
            return None
        if not value:
            raise ValueError(f"required when body_format is {fmt}")
        check_template(value, fmt, sample_context(event_type, info.data.get("name") or "sample"))
        return value

    @field_validator("auth")
    @classmethod
    def _one_authorization(
        cls, value: BasicAuth | BearerAuth | None, info: ValidationInfo
    ) -> BasicAuth | BearerAuth | None:
        if value is not None and any(name.lower() == "authorization" for name in info.data.get("headers") or {}):
            raise ValueError("an Authorization header is set too: keep one of the two")
        return value


class WebhookUpdate(SQLModel):
    """A partial change: fields left out keep their value; the result is checked as a whole."""

    name: str | None = None
    folder_id: str | None = None
    event_type: str | None = None
    filter: dict[str, str] | None = None
    url: str | None = None
    enabled: bool | None = None
    headers: dict[str, str] | None = None
    follow_redirects: bool | None = None
    forward_credentials: bool | None = None
    body_format: BodyFormat | None = None
    body_template: str | None = None
    preset: str | None = None
    max_per_second: float | None = None
    """Null removes the limit (as for max_in_flight and burst)."""
    burst: int | None = None
    max_in_flight: int | None = None
    ordered: bool | None = None
    ordered_on_failure: OrderOnFailure | None = None
    auth: ReceiverAuth | None = None
    """Replaces the credentials (the old ones are never shown); null removes them."""


class Webhook(WebhookBase, table=True):
    __tablename__ = "webhooks"
    __table_args__ = (
        Index("ix_webhooks_match", "workspace_id", "event_type", "enabled"),
        Index("ix_webhooks_folder", "workspace_id", "folder_id"),
        Index("ix_webhooks_list", "workspace_id", "created_at", "id"),
        # Names are unique in their folder, the top level (no folder) being one too.
        Index(
            "uq_webhooks_folder_name_key",
            "workspace_id",
            text("coalesce(folder_id, '')"),
            "name_key",
            unique=True,
        ),
    )

    id: str = Field(default_factory=lambda: new_id("wh"), primary_key=True, max_length=40)
    workspace_id: str = Field(max_length=200)
    folder_id: str | None = Field(default=None, foreign_key="folders.id", max_length=40)
    name_key: str = Field(default="", sa_column=Column(Text, nullable=False))
    """The name as uniqueness compares it (core.names), set from it on every write (`key_the_name`)."""
    secret: str = Field(
        default_factory=lambda: new_secret(),
        max_length=200,
        sa_column=Column(EncryptedText("webhooks.secret"), nullable=False),
    )
    previous_secret: str | None = Field(
        default=None, max_length=200, sa_column=Column(EncryptedText("webhooks.previous_secret"), nullable=True)
    )
    previous_secret_expires_at: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    disabled_at: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    failing_since: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    """The first failed attempt since the last 2xx; None while deliveries succeed."""
    auth: str | None = Field(default=None, sa_column=Column(EncryptedText("webhooks.auth"), nullable=True))
    """The receiver's credentials as JSON (BasicAuth or BearerAuth); see `receiver_auth`."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=aware())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=aware())

    @property
    def receiver_auth(self) -> BasicAuth | BearerAuth | None:
        return parse_auth(self.auth)


def key_the_name(_mapper: Any, _connection: Any, row: Folder | Webhook) -> None:
    """Before a row is written, its key follows its name, whichever code built or renamed it."""
    row.name_key = name_key(row.name)


for _named in (Folder, Webhook):
    event.listen(_named, "before_insert", key_the_name)
    event.listen(_named, "before_update", key_the_name)


def parse_auth(stored: str | None) -> BasicAuth | BearerAuth | None:
    if stored is None:
        return None
    return AUTH_ADAPTER.validate_json(stored)


def dump_auth(auth: BasicAuth | BearerAuth | None) -> str | None:
    return None if auth is None else auth.model_dump_json()


class WebhookPublic(WebhookBase):
    id: str
    workspace_id: str
    auth: AuthPublic | None = None
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, hook: Webhook) -> Self:
        """The webhook as answers show it: its receiver credentials masked."""
        return cls.model_validate(hook, from_attributes=True, update={"auth": mask_auth(hook.receiver_auth)})


class WebhookPage(SQLModel):
    items: list[WebhookPublic]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last one."""


class WebhookWithSecret(WebhookPublic):
    """What creation returns: the only answer that carries the secret, besides `show --secret`."""

    secret: str


# --- workspace settings ---------------------------------------------------------------------------


class WorkspaceSettingsUpdate(SQLModel):
    notification_url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    """Where operational events (`webhook.disabled`) go; null stops them (they are still logged)."""

    @field_validator("notification_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url_form(value)


class WorkspaceSettings(SQLModel, table=True):
    __tablename__ = "workspace_settings"

    workspace_id: str = Field(primary_key=True, max_length=200)
    notification_url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    notification_secret: str = Field(
        default_factory=lambda: new_secret(),
        max_length=200,
        sa_column=Column(EncryptedText("workspace_settings.notification_secret"), nullable=False),
    )
    """Signs operational events, as a webhook's secret signs its deliveries."""
    updated_at: datetime = Field(default_factory=utcnow, sa_column=aware())


class WorkspaceSettingsPublic(SQLModel):
    workspace_id: str
    notification_url: str | None
    notification_secret: str
    updated_at: datetime


# --- deliveries (the ledger) --------------------------------------------------------------------


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Gave up: the schedule ran out, or the answer said not to retry (410)."""
    SKIPPED = "skipped"
    """Not sent: the webhook was turned off or deleted before its attempt."""
    THROTTLED = "throttled"
    """Held back, using up no attempt: by the webhook's rate limit or concurrency cap, by the
    receiver's Retry-After, or (ordered) behind an earlier event of the same contact. `held_reason`
    says which, `next_attempt_at` until when."""


UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.THROTTLED)
"""Not delivered yet, and not given up: a workflow is still at it."""


class StoredEvent(SQLModel, table=True):
    """Each event as first received: deliveries read their body from here, not from history."""

    __tablename__ = "events"

    workspace_id: str = Field(primary_key=True, max_length=200)
    event_id: str = Field(primary_key=True, max_length=200)
    type: str = Field(max_length=64)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=aware())


class Delivery(SQLModel, table=True):
    """One row per (event, webhook): the ledger that makes retries, re-runs and resets safe."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("workspace_id", "event_id", "webhook_id", name="uq_deliveries_event_hook"),
        Index("ix_deliveries_webhook", "webhook_id", "created_at", "id"),
        Index("ix_deliveries_contact_order", "webhook_id", "contact_id", "occurred_at"),
        Index("ix_deliveries_status", "webhook_id", "status"),
        # A workspace's log by status, newest first (its failed deliveries): store.queries.workspace_deliveries.
        Index("ix_deliveries_workspace_status", "workspace_id", "status", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    """The `webhook-id` header: derived from (workspace, event, webhook), so it never changes."""
    workspace_id: str = Field(max_length=200)
    event_id: str = Field(max_length=200)
    webhook_id: str = Field(max_length=40)
    event_type: str = Field(max_length=64)
    workflow_id: str = Field(max_length=500)
    is_test: bool = False
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_column=Column(String(16), nullable=False))
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    response_excerpt: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    latency_ms: float | None = None
    redirects: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """The last attempt's redirect chain: each hop's status and host, in order."""
    held_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """Why the delivery is throttled (status throttled), until its next attempt."""
    contact_id: str | None = Field(default=None, max_length=200)
    occurred_at: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    """The event's contact and time, which order an ordered webhook's deliveries."""
    received_at: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    """When Temporal took the event in (its workflow's start): the order of intake, which breaks
    ties of occurred_at; how long before `created_at` it was says how backed up the workers were."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=aware())
    last_attempt_at: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    next_attempt_at: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    sending_until: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    """Taken by an attempt until its deadline (store.queries.claim_delivery): no other attempt sends
    the delivery meanwhile. Temporal can run one attempt twice at once: a workflow task that outlives
    its timeout is handed to another worker, which runs its local activities again."""


class WebhookPace(SQLModel, table=True):
    """A webhook's pacing, shared by every worker (activities.pacing): the next slot its rate
    allows, the end of the queue of held deliveries, and a pause its receiver asked for."""

    __tablename__ = "webhook_pacing"

    webhook_id: str = Field(primary_key=True, max_length=40)
    next_slot: datetime = Field(sa_column=aware())
    """The rate's theoretical arrival time (GCRA): a request may go when it is at most the burst
    ahead of now."""
    queue_end: datetime = Field(sa_column=aware())
    """The latest turn handed to a held delivery: the next one held comes back a pace after it."""
    paused_until: datetime | None = Field(default=None, sa_column=aware(nullable=True))
    paused_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """A 429 or 503 with Retry-After: every delivery to the webhook waits until then."""
    latency_ms: float | None = None
    """Recent request latency (a moving average): how often a slot frees under max_in_flight."""


class DeliveryLease(SQLModel, table=True):
    """A request open to a webhook with max_in_flight: taken before the send, dropped after, and
    expired after the attempt's timeout should its worker die with it."""

    __tablename__ = "delivery_leases"
    __table_args__ = (Index("ix_delivery_leases_webhook", "webhook_id", "expires_at"),)

    delivery_id: str = Field(primary_key=True, max_length=40)
    webhook_id: str = Field(max_length=40)
    expires_at: datetime = Field(sa_column=aware())


class DeliveryPublic(SQLModel):
    id: str
    """Also the `webhook-id` header the receiver saw."""
    webhook_id: str
    event_id: str
    event_type: str
    contact_id: str | None = None
    """The event's contact (the deliveries can be listed by it)."""
    is_test: bool
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    response_excerpt: str | None
    latency_ms: float | None
    redirects: list[dict[str, Any]] | None = None
    """The last attempt's redirect chain: each hop's status and host, in order."""
    held_reason: str | None = None
    """Why a throttled delivery is held back, until its next_attempt_at."""
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    workflow_id: str
    workflow_url: str = ""
    """The event's workflow in the Temporal UI."""


class DeliveryPage(SQLModel):
    items: list[DeliveryPublic]
    next_cursor: str | None


# --- API keys -----------------------------------------------------------------------------------


class ApiKey(SQLModel, table=True):
    """A bearer key, stored as its SHA-256: the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: str = Field(default_factory=lambda: new_id("key"), primary_key=True, max_length=40)
    workspace_id: str | None = Field(default=None, max_length=200)
    """None for an admin key, which may act on every workspace."""
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16)
    """The key's first characters, to tell keys apart in a list."""
    hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=aware())
    revoked_at: datetime | None = Field(default=None, sa_column=aware(nullable=True))


class ApiKeyPublic(SQLModel):
    id: str
    workspace_id: str | None
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str
    """The bearer key itself: shown only here."""


# --- rules without I/O --------------------------------------------------------------------------


def strip_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return check_key_length(value)


def sample_context(event_type: str, webhook_name: str) -> dict[str, Any]:
    """What a template sees for a sample event of this trigger (checks at save, previews)."""
    return template_context(sample_event(event_type), "wh_sample", webhook_name, "msg_sample")


def new_secret() -> str:
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url_form(url: str) -> str:
    """http(s), a host, no credentials, bounded length. Address safety needs DNS: see core.netguard."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("URL must not carry credentials (user:password@)")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ValueError("URL has an invalid port") from None
    return url


RESERVED_HEADERS = frozenset(
    {
        "content-type", "content-length", "content-encoding", "transfer-encoding", "host",
        "connection", "user-agent", "accept-encoding", "webhook-id", "webhook-timestamp",
        "webhook-signature",
    }
)  # fmt: skip
MAX_HEADERS = 20
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")


def check_headers(headers: dict[str, str]) -> None:
    """Custom headers: a few, well-formed, and none that the pipeline sets itself."""
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} custom headers")
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by the pipeline and cannot be overridden")
        if not isinstance(value, str) or len(value) > 1000 or any(c in value for c in "\r\n\0"):
            raise ValueError(f"header {name!r}: value must be at most 1000 characters, on one line")


def check_filter(event_type: str, filter_: dict[str, str]) -> None:
    allowed = FILTER_KEYS.get(event_type, ())
    if event_type == DATETIME_TYPE:
        check_datetime_filter(filter_)
    for key, value in filter_.items():
        if key not in allowed:
            fits = f"only {', '.join(allowed)}" if allowed else "no filter"
            raise ValueError(f"filter {key!r} does not fit {event_type}: it takes {fits}")
        if not isinstance(value, str) or not value:
            raise ValueError(f"filter {key!r} must be a non-empty string")
