"""The custom search attributes engineers find deliveries by in the Temporal UI."""

import json

from temporalio.common import SearchAttributeKey

EVENT_TYPE = SearchAttributeKey.for_keyword("WebhookEventType")
WORKSPACE_ID = SearchAttributeKey.for_keyword("WebhookWorkspaceId")
CONTACT_ID = SearchAttributeKey.for_keyword("WebhookContactId")
WEBHOOK_IDS = SearchAttributeKey.for_keyword_list("WebhookIds")
FAILED_WEBHOOK_IDS = SearchAttributeKey.for_keyword_list("WebhookFailedIds")
FIRE_AT = SearchAttributeKey.for_datetime("WebhookFireAt")
"""When a DateTime trigger's timer fires: ops list upcoming fires with it."""

ALL = (EVENT_TYPE, WORKSPACE_ID, CONTACT_ID, WEBHOOK_IDS, FAILED_WEBHOOK_IDS, FIRE_AT)

VALUE_LIMIT_BYTES = 2048
"""Temporal's default (and Temporal Cloud's fixed) limit on one search attribute value: a larger
one terminates the workflow with BadSearchAttributes."""


def fitting(ids: list[str], limit: int = VALUE_LIMIT_BYTES) -> list[str]:
    """The longest prefix of `ids` whose JSON form fits in a search attribute value (about 75
    webhook ids); an event matching more is still delivered to all, and the ledger lists them all."""
    kept: list[str] = []
    size = 2  # the brackets
    for webhook_id in ids:
        size += len(json.dumps(webhook_id).encode()) + (2 if kept else 0)  # the id, and ", " before it
        if size > limit:
            break
        kept.append(webhook_id)
    return kept
