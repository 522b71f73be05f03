"""Every query the project makes, in one place, over one async engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.matching import filter_admits
from models.events import TriggerEvent
from models.payload import delivery_id_for
from models.runs import MatchedWebhook, MatchResult
from models.tables import (
    Delivery,
    Folder,
    FolderCreate,
    StoredEvent,
    Webhook,
    WebhookCreate,
    utcnow,
)
from store.db import create_engine


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class DeliveryContext:
    """What one delivery attempt needs, read in one go at the start of the attempt."""

    delivery: Delivery
    webhook: Webhook | None
    event: dict[str, Any]


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(create_engine(url))

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    # --- events and matching -------------------------------------------------------------------

    async def record_event(self, event: TriggerEvent, workflow_id: str) -> MatchResult:
        """Store the event and its matches once; later runs of the same event get the same matches.

        Fixing the matched set at first sight is what makes a re-run send only what was not
        delivered: a webhook created after the event does not receive it on a re-run either.
        """
        body = event.model_dump(mode="json", exclude_unset=True)
        try:
            async with self.session() as session:
                stored = await session.get(StoredEvent, (event.workspace_id, event.event_id))
                if stored is None:
                    session.add(
                        StoredEvent(
                            workspace_id=event.workspace_id,
                            event_id=event.event_id,
                            type=event.type,
                            body=body,
                        )
                    )
                    hooks = await self._matching_webhooks(session, event)
                    session.add_all(
                        Delivery(
                            id=delivery_id_for(event.workspace_id, event.event_id, hook.id),
                            workspace_id=event.workspace_id,
                            event_id=event.event_id,
                            webhook_id=hook.id,
                            event_type=event.type,
                            workflow_id=workflow_id,
                        )
                        for hook in hooks
                    )
                    await session.commit()
                    return MatchResult(webhooks=[matched(h, event) for h in hooks])
        except IntegrityError:
            pass  # another run stored it between our read and our write: read what it stored
        async with self.session() as session:
            stored = await session.get(StoredEvent, (event.workspace_id, event.event_id))
            assert stored is not None
            rows = await session.exec(
                select(Delivery, Webhook)
                .join(Webhook, col(Webhook.id) == col(Delivery.webhook_id), isouter=True)
                .where(Delivery.workspace_id == event.workspace_id, Delivery.event_id == event.event_id)
                .order_by(col(Delivery.webhook_id))
            )
            result = MatchResult(
                webhooks=[
                    MatchedWebhook(
                        webhook_id=d.webhook_id,
                        delivery_id=d.id,
                        name=h.name if h else "(deleted)",
                        host=url_host(h.url) if h else "",
                    )
                    for d, h in rows.all()
                ]
            )
            if stored.body != body:
                result.conflict = (
                    f"event {event.event_id} was first received on {stored.received_at:%Y-%m-%d %H:%M:%S} "
                    "with other content; the first one is kept and this one is not delivered"
                )
            return result

    @staticmethod
    async def _matching_webhooks(session: AsyncSession, event: TriggerEvent) -> list[Webhook]:
        candidates = await session.exec(
            select(Webhook)
            .where(
                Webhook.workspace_id == event.workspace_id,
                Webhook.event_type == event.type,
                col(Webhook.enabled).is_(True),
            )
            .order_by(col(Webhook.id))
        )
        data = event.data.model_dump(mode="json")
        return [hook for hook in candidates.all() if filter_admits(hook.filter, data)]

    # --- the ledger ----------------------------------------------------------------------------

    async def delivery_context(self, workspace_id: str, event_id: str, webhook_id: str) -> DeliveryContext:
        delivery_id = delivery_id_for(workspace_id, event_id, webhook_id)
        async with self.session() as session:
            row = (
                await session.exec(
                    select(Delivery, StoredEvent, Webhook)
                    .join(
                        StoredEvent,
                        (col(StoredEvent.workspace_id) == col(Delivery.workspace_id))
                        & (col(StoredEvent.event_id) == col(Delivery.event_id)),
                    )
                    .join(Webhook, col(Webhook.id) == col(Delivery.webhook_id), isouter=True)
                    .where(Delivery.id == delivery_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"no delivery {delivery_id} of event {event_id} to webhook {webhook_id}")
        delivery, stored, webhook = row
        return DeliveryContext(delivery=delivery, webhook=webhook, event=stored.body)

    async def update_delivery(self, delivery_id: str, **values: Any) -> None:
        async with self.session() as session:
            await session.exec(update(Delivery).where(col(Delivery.id) == delivery_id).values(**values))
            await session.commit()

    async def deliveries_of_event(self, workspace_id: str, event_id: str) -> Sequence[Delivery]:
        async with self.session() as session:
            rows = await session.exec(
                select(Delivery)
                .where(Delivery.workspace_id == workspace_id, Delivery.event_id == event_id)
                .order_by(col(Delivery.webhook_id))
            )
            return rows.all()

    # --- webhooks ------------------------------------------------------------------------------

    async def create_webhook(self, create: WebhookCreate) -> Webhook:
        async with self.session() as session:
            if create.folder_id is not None:
                await self._folder_in(session, create.workspace_id, create.folder_id)
            hook = Webhook.model_validate(create)
            session.add(hook)
            await session.commit()
            return hook

    async def get_webhook(self, webhook_id: str, workspace_id: str | None = None) -> Webhook:
        async with self.session() as session:
            hook = await session.get(Webhook, webhook_id)
        if hook is None or (workspace_id is not None and hook.workspace_id != workspace_id):
            raise NotFound(f"no webhook {webhook_id}")
        return hook

    async def list_webhooks(
        self,
        workspace_id: str,
        *,
        folder_id: str | None = None,
        event_type: str | None = None,
        enabled: bool | None = None,
    ) -> Sequence[Webhook]:
        query = select(Webhook).where(Webhook.workspace_id == workspace_id)
        if folder_id is not None:
            query = query.where(Webhook.folder_id == folder_id)
        if event_type is not None:
            query = query.where(Webhook.event_type == event_type)
        if enabled is not None:
            query = query.where(Webhook.enabled == enabled)
        async with self.session() as session:
            return (await session.exec(query.order_by(col(Webhook.created_at), col(Webhook.id)))).all()

    async def set_enabled(self, webhook_id: str, enabled: bool, reason: str | None = None) -> Webhook:
        """Turn a webhook on (clearing any reason it was turned off) or off (keeping the reason)."""
        async with self.session() as session:
            hook = await session.get(Webhook, webhook_id)
            if hook is None:
                raise NotFound(f"no webhook {webhook_id}")
            now = utcnow()
            hook.enabled = enabled
            hook.disabled_reason = None if enabled else reason
            hook.disabled_at = None if enabled else now
            hook.updated_at = now
            session.add(hook)
            await session.commit()
            return hook

    async def delete_webhook(self, webhook_id: str) -> None:
        async with self.session() as session:
            result = await session.exec(delete(Webhook).where(col(Webhook.id) == webhook_id))
            await session.commit()
        if result.rowcount == 0:
            raise NotFound(f"no webhook {webhook_id}")

    # --- folders -------------------------------------------------------------------------------

    async def create_folder(self, create: FolderCreate) -> Folder:
        async with self.session() as session:
            folder = Folder.model_validate(create)
            session.add(folder)
            try:
                await session.commit()
            except IntegrityError:
                raise ValueError(f"a folder named {create.name!r} already exists") from None
            return folder

    async def list_folders(self, workspace_id: str) -> Sequence[Folder]:
        async with self.session() as session:
            rows = await session.exec(
                select(Folder).where(Folder.workspace_id == workspace_id).order_by(col(Folder.name))
            )
            return rows.all()

    @staticmethod
    async def _folder_in(session: AsyncSession, workspace_id: str, folder_id: str) -> Folder:
        folder = await session.get(Folder, folder_id)
        if folder is None or folder.workspace_id != workspace_id:
            raise NotFound(f"no folder {folder_id} in workspace {workspace_id}")
        return folder


def url_host(url: str) -> str:
    return urlsplit(url).hostname or ""


def matched(hook: Webhook, event: TriggerEvent) -> MatchedWebhook:
    return MatchedWebhook(
        webhook_id=hook.id,
        delivery_id=delivery_id_for(event.workspace_id, event.event_id, hook.id),
        name=hook.name,
        host=url_host(hook.url),
    )
