"""The trigger events the platform sends in: the catalog of the Webhooks page.

One pydantic model per trigger type, gathered in a union discriminated on `type`. Unknown fields
are kept (`extra="allow"`) so that what the platform adds later reaches receivers unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    TypeAdapter,
    ValidationError,
)

from core.errors import describe

Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@-]+$")]
"""An identifier that is safe in a workflow id and a search attribute."""

Text = Annotated[str, Field(min_length=1, max_length=1000)]


class Contact(BaseModel):
    """The contact the trigger happened to (for referrals: the referrer)."""

    model_config = ConfigDict(extra="allow")

    id: Id
    name: str | None = Field(default=None, max_length=1000)
    channel: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")]
    timezone: str | None = Field(default=None, max_length=64)
    tags: list[Annotated[str, Field(max_length=1000)]] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow")


class NoData(EventData):
    pass


class TagData(EventData):
    tag: Text


class CustomFieldChangedData(EventData):
    field: Text
    old_value: Any = None
    new_value: Any = None


class DateTimeReachedData(EventData):
    field: Text
    field_value: Any
    offset: str
    scheduled_for: AwareDatetime


class ConversationTransferredData(EventData):
    to: Literal["human", "bot"]
    agent_id: Id | None = None


class ContactCreatedData(EventData):
    source: str | None = Field(default=None, max_length=100)


class ConversationAssignedData(EventData):
    agent_id: Id
    agent_name: str | None = Field(default=None, max_length=1000)


class ConversationUnassignedData(EventData):
    agent_id: Id | None = None


class SequenceData(EventData):
    sequence_id: Id
    sequence_name: str | None = Field(default=None, max_length=1000)


class ReferralData(EventData):
    referred_contact_id: Id
    entry_point_link_id: Id | None = None


class EventBase(BaseModel):
    event_id: Id
    workspace_id: Id
    occurred_at: AwareDatetime
    contact: Contact
    test_webhook_id: Id | None = None
    """Set on a test send: the event goes to this webhook only, and its body says `"test": true`."""


class TagApplied(EventBase):
    type: Literal["tag.applied"]
    data: TagData


class TagRemoved(EventBase):
    type: Literal["tag.removed"]
    data: TagData


class CustomFieldChanged(EventBase):
    type: Literal["custom_field.changed"]
    data: CustomFieldChangedData


class DateTimeReached(EventBase):
    type: Literal["datetime.reached"]
    data: DateTimeReachedData


class ConversationTransferred(EventBase):
    type: Literal["conversation.transferred"]
    data: ConversationTransferredData


class ContactCreated(EventBase):
    type: Literal["contact.created"]
    data: ContactCreatedData = Field(default_factory=ContactCreatedData)


class BroadcastUnsubscribed(EventBase):
    type: Literal["broadcast.unsubscribed"]
    data: NoData = Field(default_factory=NoData)


class ContactArchived(EventBase):
    type: Literal["contact.archived"]
    data: NoData = Field(default_factory=NoData)


class ConversationFollowUp(EventBase):
    type: Literal["conversation.follow_up"]
    data: NoData = Field(default_factory=NoData)


class ConversationAssigned(EventBase):
    type: Literal["conversation.assigned"]
    data: ConversationAssignedData


class ConversationUnassigned(EventBase):
    type: Literal["conversation.unassigned"]
    data: ConversationUnassignedData = Field(default_factory=ConversationUnassignedData)


class SequenceSubscribed(EventBase):
    type: Literal["sequence.subscribed"]
    data: SequenceData


class SequenceUnsubscribed(EventBase):
    type: Literal["sequence.unsubscribed"]
    data: SequenceData


class ReferralNewContact(EventBase):
    type: Literal["referral.new_contact"]
    data: ReferralData


class ReferralExistingContact(EventBase):
    type: Literal["referral.existing_contact"]
    data: ReferralData


TriggerEvent = Annotated[
    TagApplied
    | TagRemoved
    | CustomFieldChanged
    | DateTimeReached
    | ConversationTransferred
    | ContactCreated
    | BroadcastUnsubscribed
    | ContactArchived
    | ConversationFollowUp
    | ConversationAssigned
    | ConversationUnassigned
    | SequenceSubscribed
    | SequenceUnsubscribed
    | ReferralNewContact
    | ReferralExistingContact,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[TriggerEvent] = TypeAdapter(TriggerEvent)


class TriggerEventInput(RootModel[TriggerEvent]):
    """The workflow's input: the event itself, as plain JSON on the wire.

    A root model, because the SDK reads the run method's type hints without `Annotated`
    metadata, which would lose the discriminator and make every error a wall of union members.
    """


EVENT_CLASSES: tuple[type[EventBase], ...] = get_args(get_args(TriggerEvent)[0])

EVENT_TYPES: tuple[str, ...] = tuple(get_args(cls.model_fields["type"].annotation)[0] for cls in EVENT_CLASSES)

DATETIME_TYPE = "datetime.reached"

PLATFORM_EVENT_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t != DATETIME_TYPE)
"""The types the platform sends; `datetime.reached` is made by the pipeline itself."""

FILTER_KEYS: dict[str, tuple[str, ...]] = {
    "tag.applied": ("tag",),
    "tag.removed": ("tag",),
    "custom_field.changed": ("field",),
    "datetime.reached": ("field", "offset", "time_of_day"),
    "conversation.transferred": ("to",),
    "conversation.assigned": ("agent_id",),
    "conversation.unassigned": ("agent_id",),
    "sequence.subscribed": ("sequence_id",),
    "sequence.unsubscribed": ("sequence_id",),
    "referral.new_contact": ("entry_point_link_id",),
    "referral.existing_contact": ("entry_point_link_id",),
}
"""Which `data` fields a webhook of each type may narrow on; types not listed take no filter."""

TRIGGER_LABELS: dict[str, str] = {
    "tag.applied": "Tag Applied",
    "tag.removed": "Tag Removed",
    "custom_field.changed": "Custom Field Changed",
    "datetime.reached": "DateTime Based Trigger",
    "conversation.transferred": "Conversation Transferred",
    "contact.created": "New Contact",
    "broadcast.unsubscribed": "Contact Unsubscribed From Broadcast",
    "contact.archived": "Archived",
    "conversation.follow_up": "Follow Up",
    "conversation.assigned": "Conversation Assigned",
    "conversation.unassigned": "Conversation Unassigned",
    "sequence.subscribed": "Subscribed To Sequence",
    "sequence.unsubscribed": "Unsubscribed From Sequence",
    "referral.new_contact": "Contact Referred A New Contact",
    "referral.existing_contact": "Contact Referred Existing Contact",
}
"""Each trigger as users see it on the Webhooks page (the contract's catalog)."""

CONDITION_WORDS: dict[str, str] = {
    "tag": "{}",
    "field": "{}",
    "offset": "{}",
    "time_of_day": "at {}",
    "to": "to {}",
    "agent_id": "agent {}",
    "sequence_id": "sequence {}",
    "entry_point_link_id": "link {}",
}


def describe_trigger(event_type: str, filter_: dict[str, str]) -> str:
    """A webhook's trigger in words: `Tag Applied: Order Closed`, `DateTime Based Trigger:
    appointment_at, -1d, at 09:00`; a trigger without a condition is its label alone."""
    label = TRIGGER_LABELS.get(event_type, event_type)
    words = [CONDITION_WORDS[key].format(filter_[key]) for key in FILTER_KEYS.get(event_type, ()) if filter_.get(key)]
    return f"{label}: {', '.join(words)}" if words else label


MAX_EVENT_BYTES = 256 * 1024
"""An event's largest JSON form: far below Temporal's payload limit (2 MiB), and far above any
contact a chatbot platform holds."""


class InvalidEvent(ValueError):
    """An event that does not fit the contract; the message names the field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def parse_event(raw: str | bytes | dict[str, Any]) -> TriggerEvent:
    """Validate an event from JSON text or a decoded object, naming the bad field on error."""
    if not isinstance(raw, dict) and len(raw) > MAX_EVENT_BYTES:
        raise too_large(len(raw))
    try:
        event = EVENT_ADAPTER.validate_python(raw) if isinstance(raw, dict) else EVENT_ADAPTER.validate_json(raw)
    except ValidationError as err:
        problems = problems_of(err.errors(include_url=False))
        field = problems[0][0] if problems else None  # none for a body that is not JSON at all
        raise InvalidEvent("invalid event: " + describe(problems), field) from None
    if isinstance(raw, dict) and (size := len(event.model_dump_json(exclude_unset=True))) > MAX_EVENT_BYTES:
        raise too_large(size)
    return event


class EventConflict(ValueError):
    """An event id already used in its workspace for an event with other content: the first one
    is kept, and this one is not delivered."""

    def __init__(self, event_id: str, first_seen: str) -> None:
        super().__init__(
            f"event {event_id} was {first_seen} with other content; the first one is kept, "
            "and this one was not delivered"
        )
        self.field = "event_id"


def same_content(first: dict[str, Any], event: TriggerEvent) -> bool:
    """Whether an event seen before (its JSON form) and this one say the same, defaults and key
    order aside."""
    return EVENT_ADAPTER.validate_python(first).model_dump(mode="json") == event.model_dump(mode="json")


def too_large(size: int) -> InvalidEvent:
    return InvalidEvent(f"invalid event: {size:,} bytes, larger than the {MAX_EVENT_BYTES // 1024} KiB an event may be")


NESTED_UNION_TAGS = {"auth": ("basic", "bearer")}
"""Fields holding a union told apart by `type` (a webhook's receiver credentials): pydantic puts
the member's tag in the error's location, where it is not a field."""


def problems_of(errors: Iterable[Mapping[str, Any]], skip: Collection[str] = ()) -> list[tuple[str | None, str]]:
    """(field as a dotted path, message) for each error pydantic (or FastAPI) reported; `skip`
    names location parts that are not fields (FastAPI's `body`, `query`...)."""
    problems: list[tuple[str | None, str]] = []
    for error in errors:
        kind = error["type"]
        loc = [str(part) for part in error["loc"] if str(part) not in skip]
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]  # the union's tag, not a field
        if len(loc) > 1 and loc[1] in NESTED_UNION_TAGS.get(loc[0], ()):
            del loc[1]  # `auth.bearer.token` is the field `auth.token`
        field = ".".join(loc) or None
        # A union told apart by its `type`: the event itself (at the top), or a part of it (`auth`).
        tag_field = f"{field}.type" if field else "type"
        if kind == "union_tag_not_found":
            problems.append((tag_field, "field required"))
        elif kind == "union_tag_invalid":
            ctx = error.get("ctx", {})
            expected = ", ".join(EVENT_TYPES) if field is None else str(ctx.get("expected_tags", "")).replace("'", "")
            what = "event type" if field is None else "type"
            problems.append((tag_field, f"unknown {what} {ctx.get('tag', '')!r}; expected one of {expected}"))
        elif kind == "missing":
            problems.append((field, "field required"))
        elif kind == "json_invalid":  # the body as a whole: no field is at fault
            problems.append((None, str(error["msg"])))
        else:
            problems.append((field, str(error["msg"]).removeprefix("Value error, ")))
    return problems


def describe_validation_error(err: ValidationError) -> str:
    """Each problem naming its field as a dotted path (`data.tag: field required`), `; `-joined."""
    return describe(problems_of(err.errors(include_url=False)))
