"""Connecting to Temporal: the SDK's environment configuration and the project's converter."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.envconfig import ClientConfig
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from core.config import Settings
from core.tracing import tracing_interceptors
from models.events import MAX_EVENT_BYTES, TriggerEventInput, describe_validation_error, too_large

INVALID_INPUT = "InvalidInput"


class _NamingJSONConverter(PydanticJSONPlainPayloadConverter):
    """Turns a payload that does not fit its model into a non-retryable failure naming the field.

    Raised while decoding a workflow's input, an ApplicationError fails the workflow at once
    (the SDK lets failure errors through); anything else would fail the workflow *task* and
    retry it for ever, which is what a malformed start from another language's SDK would do.
    """

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        # A start from another SDK skipped publish()'s size rule; the workflow keeps it all the same.
        if type_hint is TriggerEventInput and len(payload.data) > MAX_EVENT_BYTES:
            raise ApplicationError(str(too_large(len(payload.data))), type=INVALID_INPUT, non_retryable=True)
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as err:
            raise ApplicationError(
                "invalid input: " + describe_validation_error(err), type=INVALID_INPUT, non_retryable=True
            ) from None


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default converters, with pydantic (and field-naming errors) for JSON."""

    def __init__(self) -> None:
        super().__init__(
            *(
                _NamingJSONConverter() if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


data_converter = DataConverter(payload_converter_class=PayloadConverter)


def converter_for(encryption_key: str | None) -> DataConverter:
    """The project's converter, encrypting every payload when keys are given (core.codec)."""
    if not encryption_key:
        return data_converter
    from core.codec import EncryptionCodec, parse_keys

    return dataclasses.replace(data_converter, payload_codec=EncryptionCodec(parse_keys(encryption_key)))


async def connect(*, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    """A client configured as the Temporal SDK's environment configuration says
    (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE...),
    encrypting payloads when WEBHOOKS_ENCRYPTION_KEY is set."""
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", "localhost:7233")
    converter = converter_for(Settings().encryption_key)
    return await Client.connect(
        **config, data_converter=converter, lazy=lazy, runtime=runtime, interceptors=tracing_interceptors()
    )


UNREACHABLE = "Failed client connect"
"""How the Temporal SDK's lazy client (the API's and the console's) says it could not connect: a RuntimeError."""


def unavailable(err: Exception) -> str | None:
    """What to say when Temporal could not take a request (unreachable, or it refused); None for
    any other error, which is a defect."""
    if isinstance(err, RPCError):
        return f"Temporal did not take the request: {err.message}"
    if isinstance(err, RuntimeError) and str(err).startswith(UNREACHABLE):
        return f"Temporal cannot be reached: {err}"
    return None


def workflow_url(ui_url: str, namespace: str, workflow_id: str) -> str:
    return f"{ui_url.rstrip('/')}/namespaces/{quote(namespace)}/workflows/{quote(workflow_id, safe='')}"


async def register_search_attributes(client: Client) -> list[str]:
    """Register the project's search attributes on the client's namespace; returns those added.
    Idempotent; refuses to go on when a name exists with another type."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    from models import search_attributes as sa

    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing: dict[str, IndexedValueType.ValueType] = {}
    for key in sa.ALL:
        wanted = IndexedValueType.ValueType(key.indexed_value_type)
        have = existing.custom_attributes.get(key.name)
        if have is None:
            missing[key.name] = wanted
        elif have != wanted:
            raise RuntimeError(
                f"search attribute {key.name} exists as {IndexedValueType.Name(have)}, "
                f"expected {IndexedValueType.Name(wanted)}"
            )
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)


async def ensure_retention_schedule(client: Client, task_queue: str) -> bool:
    """Create the daily ledger-retention schedule (03:00 UTC), or bring it up to date; True if created."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleSpec,
        ScheduleUpdate,
        ScheduleUpdateInput,
    )

    from models.payload import RETENTION_SCHEDULE_ID, RETENTION_TYPE
    from models.runs import PruneInput

    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RETENTION_TYPE, PruneInput(), id="webhooks-ledger-retention-run", task_queue=task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1), offset=timedelta(hours=3))]),
    )
    try:
        await client.create_schedule(RETENTION_SCHEDULE_ID, schedule)
        return True
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(RETENTION_SCHEDULE_ID).update(replace)
        return False
