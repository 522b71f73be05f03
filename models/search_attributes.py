"""The custom search attributes engineers find deliveries by in the Temporal UI."""

from temporalio.common import SearchAttributeKey

EVENT_TYPE = SearchAttributeKey.for_keyword("WebhookEventType")
WORKSPACE_ID = SearchAttributeKey.for_keyword("WebhookWorkspaceId")
CONTACT_ID = SearchAttributeKey.for_keyword("WebhookContactId")
WEBHOOK_IDS = SearchAttributeKey.for_keyword_list("WebhookIds")
FAILED_WEBHOOK_IDS = SearchAttributeKey.for_keyword_list("WebhookFailedIds")
FIRE_AT = SearchAttributeKey.for_datetime("WebhookFireAt")
"""When a DateTime trigger's timer fires: ops list upcoming fires with it."""

ALL = (EVENT_TYPE, WORKSPACE_ID, CONTACT_ID, WEBHOOK_IDS, FAILED_WEBHOOK_IDS, FIRE_AT)
