from models.samples import sample_event
from models.tables import WebhookCreate
from starter import publish


async def test_one_delivery(client, worker, store, receiver, settings):
    hook = await store.create_webhook(
        WebhookCreate(workspace_id="ws_acme", name="Sheets", event_type="tag.applied", url=receiver.url("/a"))
    )
    handle = await publish(client, sample_event("tag.applied"), task_queue=settings.task_queue)
    result = await handle.result()
    print(result)
    assert result.delivered == 1
    assert receiver.at("/a")[0].headers["webhook-id"]
    print(receiver.at("/a")[0].body, hook.id)
