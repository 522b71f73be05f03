"""Every query the project makes, in one place, over one async engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, func, insert, text, tuple_, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased, defer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from core.errors import Conflict, NotFound
from core.matching import filter_admits
from core.names import folder_name_taken, moving_out_clashes, name_key, webhook_name_taken
from models.events import DATETIME_TYPE, EventConflict, TriggerEvent, same_content
from models.payload import delivery_id_for
from models.runs import MatchedWebhook, MatchResult
from models.tables import (
    UNFINISHED,
    ApiKey,
    Delivery,
    DeliveryStatus,
    Folder,
    StoredEvent,
    Webhook,
    WebhookPace,
    WorkspaceSettings,
    utcnow,
)
from store.db import create_engine
from store.pacing import PacingStore
from store.stats import StatsStore


@dataclass(frozen=True)
class Recorded:
    """An event's matches, and the DateTime webhooks that watch a field it may set."""

    matches: MatchResult
    watchers: list[Webhook]


@dataclass(frozen=True)
class Admission:
    conflict: StoredEvent | None
    """The event first received under this id, when its content differs."""
    webhook_ids: list[str]
    """The webhooks the event matches now (the workflow's own match, a moment later, decides)."""


@dataclass(frozen=True)
class DeliveryContext:
    """What one delivery attempt needs, read in one go at the start of the attempt."""

    delivery: Delivery
    webhook: Webhook | None
    event: dict[str, Any]
    paused_until: datetime | None = None
    paused_reason: str | None = None
    """A pause the webhook's receiver asked for (429/503 with Retry-After), if one was set."""
    claimed: bool = True
    """Whether this attempt took the delivery; if not, it is delivered or another attempt has it
    until `delivery.sending_until`."""


# The statements every delivery attempt runs, built once: building one (operators, coercions,
# its cache key) cost as much CPU as running it on SQLite.
DELIVERY_CONTEXT = (
    select(Delivery, StoredEvent.body, Webhook, WebhookPace)
    .join(
        StoredEvent,
        (col(StoredEvent.workspace_id) == col(Delivery.workspace_id))
        & (col(StoredEvent.event_id) == col(Delivery.event_id)),
    )
    .join(Webhook, col(Webhook.id) == col(Delivery.webhook_id), isouter=True)
    .join(WebhookPace, col(WebhookPace.webhook_id) == col(Delivery.webhook_id), isouter=True)
    .where(col(Delivery.id) == bindparam("delivery_id"))
)
CLAIM_DELIVERY = (
    update(Delivery)
    .where(
        col(Delivery.id) == bindparam("delivery_id"),
        col(Delivery.status) != DeliveryStatus.DELIVERED,
        col(Delivery.sending_until).is_(None) | (col(Delivery.sending_until) <= bindparam("now")),
    )
    .values(sending_until=bindparam("until"))
)
UPDATE_DELIVERY = update(Delivery).where(
    col(Delivery.id) == bindparam("delivery_id"), col(Delivery.status) != DeliveryStatus.DELIVERED
)
"""The columns to set are the other parameters of each execution. A delivered delivery is final:
an attempt that ran past its deadline writes nothing over it."""
UPDATE_CLAIMED_DELIVERY = UPDATE_DELIVERY.where(col(Delivery.sending_until) == bindparam("claimed_until"))
"""The same, only while the writing attempt's claim still holds the delivery."""
NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit = off")
NOT_FOR_MATCHING = [defer(c) for c in (Webhook.secret, Webhook.previous_secret, Webhook.auth, Webhook.body_template)]  # type: ignore[arg-type]
"""Matching reads none of these: the secrets are not even decrypted (the attempt reads them)."""
INSERT_EVENT = insert(StoredEvent)
INSERT_DELIVERY = insert(Delivery)


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.pacing = PacingStore(engine)
        self.stats = StatsStore(engine)

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

    async def record_event(
        self,
        event: TriggerEvent,
        workflow_id: str,
        only_webhook_id: str | None = None,
        received_at: datetime | None = None,
    ) -> Recorded:
        """Store the event and its matches once; later runs of the same event get the same matches.

        Fixing the matched set at first sight is what makes a re-run send only what was not
        delivered: a webhook created after the event does not receive it on a re-run either.
        """
        only = only_webhook_id or event.test_webhook_id
        try:
            # Written first and read only when it was there already (a re-run): one round trip
            # for a new event, which is nearly every event.
            async with self.session() as session:
                # Core inserts: the ORM's unit of work (which no loaded object needs here) cost
                # more than the statements on every event.
                conn = await session.connection()
                row = StoredEvent(
                    workspace_id=event.workspace_id,
                    event_id=event.event_id,
                    type=event.type,
                    body=event.model_dump(mode="json", exclude_unset=True),
                )
                await conn.execute(INSERT_EVENT, row.model_dump())
                hooks, watchers = await self._candidates(session, event, only)
                if hooks:
                    await conn.execute(
                        INSERT_DELIVERY,
                        [
                            Delivery(
                                id=delivery_id_for(event.workspace_id, event.event_id, hook.id),
                                workspace_id=event.workspace_id,
                                event_id=event.event_id,
                                webhook_id=hook.id,
                                event_type=event.type,
                                workflow_id=workflow_id,
                                is_test=event.test_webhook_id is not None,
                                contact_id=event.contact.id,
                                occurred_at=event.occurred_at,
                                received_at=received_at,
                            ).model_dump()
                            for hook in hooks
                        ],
                    )
                await session.commit()
                return Recorded(MatchResult(webhooks=[matched(h, event) for h in hooks]), watchers)
        except IntegrityError:
            pass  # stored by an earlier run (or by another run just now): read what it stored
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
            if not same_content(stored.body, event):
                result.conflict = str(EventConflict(event.event_id, first_received(stored)))
            _, watchers = await self._candidates(session, event, only, hooks=False)
            return Recorded(result, watchers)

    async def admission(self, event: TriggerEvent) -> Admission:
        """What the intake checks before it starts an event's workflow, read in one session."""
        async with self.session() as session:
            stored = await session.get(StoredEvent, (event.workspace_id, event.event_id))
            hooks, _ = await self._candidates(session, event, event.test_webhook_id, watchers=False)
        conflict = stored if stored is not None and not same_content(stored.body, event) else None
        return Admission(conflict=conflict, webhook_ids=[h.id for h in hooks])

    @staticmethod
    async def _candidates(
        session: AsyncSession,
        event: TriggerEvent,
        only: str | None,
        *,
        hooks: bool = True,
        watchers: bool = True,
    ) -> tuple[list[Webhook], list[Webhook]]:
        """The webhooks the event goes to, and the enabled DateTime webhooks whose watched field it
        may set (none for a test, a DateTime firing or a one-webhook run), in one query; either
        list is left empty when not asked for."""
        query = select(Webhook).options(*NOT_FOR_MATCHING).where(Webhook.workspace_id == event.workspace_id)
        if only is not None:
            # A test, or a DateTime trigger firing: its one webhook; the attempt still skips it if off.
            if not hooks:
                return [], []
            return list((await session.exec(query.where(Webhook.id == only))).all()), []
        types: list[str] = [event.type] if hooks else []
        if watchers and event.type != DATETIME_TYPE:
            types.append(DATETIME_TYPE)
        if not types:
            return [], []
        rows = await session.exec(
            query.where(col(Webhook.event_type).in_(types), col(Webhook.enabled).is_(True)).order_by(col(Webhook.id))
        )
        data = event.data.model_dump(mode="json")
        matched, watching = [], []
        for hook in rows.all():
            if hook.event_type == event.type and hooks:
                if filter_admits(hook.filter, data):
                    matched.append(hook)
            elif hook.event_type == DATETIME_TYPE:
                watching.append(hook)
        return matched, watching

    # --- the ledger ----------------------------------------------------------------------------

    async def claim_delivery(
        self, workspace_id: str, event_id: str, webhook_id: str, *, until: datetime, now: datetime | None = None
    ) -> DeliveryContext:
        """What an attempt needs, and the delivery taken for it until `until` (its deadline), unless
        it is delivered or another attempt holds it: in one transaction, so that of two attempts
        of one delivery at once only one sends. Every write of the attempt's outcome lets it go."""
        delivery_id = delivery_id_for(workspace_id, event_id, webhook_id)
        async with self.session() as session:
            if self.engine.dialect.name == "postgresql":
                # A claim lost in a crash only lets another attempt send sooner: not worth the wait
                # for the WAL's flush to disk that every attempt would make.
                await (await session.connection()).execute(NO_FLUSH_WAIT)
            claim = {"delivery_id": delivery_id, "until": until, "now": now or utcnow()}
            claimed = (await session.exec(CLAIM_DELIVERY, params=claim)).rowcount == 1
            row = (await session.exec(DELIVERY_CONTEXT, params={"delivery_id": delivery_id})).first()
            await session.commit()
        if row is None:
            raise NotFound(f"no delivery {delivery_id} of event {event_id} to webhook {webhook_id}")
        delivery, body, webhook, pace = row
        paused_until, paused_reason = (None, None) if pace is None else (pace.paused_until, pace.paused_reason)
        return DeliveryContext(delivery, webhook, dict(body), paused_until, paused_reason, claimed)

    async def update_delivery(self, delivery_id: str, *, claimed_until: datetime | None = None, **values: Any) -> None:
        """Set `values` on an undelivered delivery; with `claimed_until`, only while the claim that
        ends then still holds it (an attempt past its deadline may have lost it to the next one)."""
        # A Core statement on a connection: every attempt writes here, and an ORM session's
        # bookkeeping (which no loaded object needs) was a tenth of a busy worker's CPU.
        params = {"delivery_id": delivery_id, **values}
        async with self.engine.begin() as conn:
            if claimed_until is None:
                await conn.execute(UPDATE_DELIVERY, params)
            else:
                await conn.execute(UPDATE_CLAIMED_DELIVERY, params | {"claimed_until": claimed_until})

    async def deliveries_of_event(self, workspace_id: str, event_id: str) -> Sequence[Delivery]:
        async with self.session() as session:
            rows = await session.exec(
                select(Delivery)
                .where(Delivery.workspace_id == workspace_id, Delivery.event_id == event_id)
                .order_by(col(Delivery.webhook_id))
            )
            return rows.all()

    # --- webhooks ------------------------------------------------------------------------------

    async def add(self, row: Webhook | Folder | ApiKey | WorkspaceSettings) -> None:
        # Made before the commit, which expires the row if it fails: a name taken by a concurrent
        # write since the service checked it gets the check's answer.
        taken = name_taken(row) if isinstance(row, Folder | Webhook) else None
        async with self.session() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError as err:
                if taken is not None and breaks_name_index(err):
                    raise taken from None
                raise

    async def save_webhook(self, hook: Webhook) -> Webhook:
        hook.updated_at = utcnow()
        await self.add(hook)
        return hook

    async def get_webhook(self, webhook_id: str, workspace_id: str | None = None) -> Webhook:
        async with self.session() as session:
            hook = await session.get(Webhook, webhook_id)
        if hook is None or (workspace_id is not None and hook.workspace_id != workspace_id):
            raise NotFound(f"no webhook {webhook_id}", "webhook_id")
        return hook

    async def list_webhooks(
        self,
        workspace_id: str,
        *,
        folder_id: str | None = None,
        event_type: str | None = None,
        enabled: bool | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> Sequence[Webhook]:
        """Oldest first, a page of `limit` after the webhook `after` (keyset: stable under inserts)."""
        query = select(Webhook).where(Webhook.workspace_id == workspace_id)
        if folder_id is not None:
            query = query.where(Webhook.folder_id == folder_id)
        if event_type is not None:
            query = query.where(Webhook.event_type == event_type)
        if enabled is not None:
            query = query.where(Webhook.enabled == enabled)
        async with self.session() as session:
            if after is not None:
                mark = await session.get(Webhook, after)
                if mark is None or mark.workspace_id != workspace_id:
                    raise NotFound(f"no webhook {after} to continue after", "cursor")
                query = query.where(tuple_(col(Webhook.created_at), col(Webhook.id)) > tuple_(mark.created_at, mark.id))
            query = query.order_by(col(Webhook.created_at), col(Webhook.id))
            return (await session.exec(query.limit(limit))).all()

    async def webhook_names(self, workspace_id: str, webhook_ids: Collection[str]) -> dict[str, str]:
        """The names of those of these webhooks of the workspace that still exist."""
        query = select(Webhook.id, Webhook.name).where(
            Webhook.workspace_id == workspace_id, col(Webhook.id).in_(list(webhook_ids))
        )
        async with self.session() as session:
            return dict((await session.exec(query)).all())

    async def webhook_named(
        self, workspace_id: str, folder_id: str | None, name: str, except_id: str | None = None
    ) -> str | None:
        """The name, as written, of another webhook in the folder (or the top level) whose name is this one."""
        query = select(Webhook.name).where(
            Webhook.workspace_id == workspace_id,
            Webhook.folder_id == folder_id if folder_id is not None else col(Webhook.folder_id).is_(None),
            Webhook.name_key == name_key(name),
        )
        if except_id is not None:
            query = query.where(Webhook.id != except_id)
        async with self.session() as session:
            return (await session.exec(query.limit(1))).first()

    async def set_enabled(self, webhook_id: str, enabled: bool, reason: str | None = None) -> Webhook:
        """Turn a webhook on (clearing any reason it was turned off) or off (keeping the reason)."""
        hook = await self.get_webhook(webhook_id)
        hook.enabled = enabled
        hook.disabled_reason = None if enabled else reason
        hook.disabled_at = None if enabled else utcnow()
        if enabled:
            hook.failing_since = None  # a fresh start: the dead-endpoint clock restarts
        return await self.save_webhook(hook)

    async def mark_failing(self, webhook_id: str, since: datetime) -> None:
        """Start the webhook's failing streak, unless one is already running."""
        async with self.session() as session:
            await session.exec(
                update(Webhook)
                .where(col(Webhook.id) == webhook_id, col(Webhook.failing_since).is_(None))
                .values(failing_since=since)
            )
            await session.commit()

    async def clear_failing(self, webhook_id: str) -> None:
        async with self.session() as session:
            await session.exec(update(Webhook).where(col(Webhook.id) == webhook_id).values(failing_since=None))
            await session.commit()

    # --- workspace settings ---------------------------------------------------------------------

    async def workspace_settings(self, workspace_id: str) -> WorkspaceSettings | None:
        async with self.session() as session:
            return await session.get(WorkspaceSettings, workspace_id)

    async def delete_webhook(self, webhook_id: str) -> None:
        async with self.session() as session:
            result = await session.exec(delete(Webhook).where(col(Webhook.id) == webhook_id))
            await session.commit()
        if result.rowcount == 0:
            raise NotFound(f"no webhook {webhook_id}", "webhook_id")
        await self.pacing.forget(webhook_id)

    # --- folders -------------------------------------------------------------------------------

    async def get_folder(self, folder_id: str, workspace_id: str) -> Folder:
        async with self.session() as session:
            folder = await session.get(Folder, folder_id)
        if folder is None or folder.workspace_id != workspace_id:
            raise NotFound(f"no folder {folder_id} in workspace {workspace_id}", "folder_id")
        return folder

    async def folder_named(self, workspace_id: str, name: str, except_id: str | None = None) -> str | None:
        """The name, as written, of another folder of the workspace whose name is this one."""
        query = select(Folder.name).where(Folder.workspace_id == workspace_id, Folder.name_key == name_key(name))
        if except_id is not None:
            query = query.where(Folder.id != except_id)
        async with self.session() as session:
            return (await session.exec(query.limit(1))).first()

    async def list_folders(self, workspace_id: str) -> Sequence[Folder]:
        async with self.session() as session:
            rows = await session.exec(
                select(Folder).where(Folder.workspace_id == workspace_id).order_by(col(Folder.name))
            )
            return rows.all()

    async def webhooks_per_folder(self, workspace_id: str) -> dict[str | None, int]:
        """How many webhooks each folder holds (None: the top level)."""
        query = (
            select(col(Webhook.folder_id), func.count())
            .where(Webhook.workspace_id == workspace_id)
            .group_by(col(Webhook.folder_id))
        )
        async with self.session() as session:
            return {folder_id: count for folder_id, count in (await session.exec(query)).all()}

    async def delete_folder(self, folder: Folder, *, move_webhooks_out: bool) -> int:
        """Delete a folder; returns how many webhooks it held (moved out first when asked to, which
        is refused while one's name is taken at the top level)."""
        async with self.session() as session:
            held = (
                await session.exec(select(func.count()).select_from(Webhook).where(Webhook.folder_id == folder.id))
            ).one()
            if held and not move_webhooks_out:
                return held
            try:
                await session.exec(
                    update(Webhook)
                    .where(col(Webhook.folder_id) == folder.id)
                    .values(folder_id=None, updated_at=utcnow())
                )
            except IntegrityError as err:
                if not breaks_name_index(err):
                    raise
                await session.rollback()
                raise moving_out_clashes(folder.name, await names_at_top_level(session, folder)) from None
            await session.exec(delete(Folder).where(col(Folder.id) == folder.id))
            await session.commit()
            return held

    # --- deliveries, for people --------------------------------------------------------------

    async def list_deliveries(
        self,
        webhook_id: str,
        *,
        status: DeliveryStatus | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Sequence[Delivery]:
        """Newest first, a page of `limit` after the delivery `after`."""
        query = select(Delivery).where(Delivery.webhook_id == webhook_id)
        if status is not None:
            query = query.where(Delivery.status == status)
        async with self.session() as session:
            mark = await self._mark(session, after, lambda d: d.webhook_id == webhook_id)
            return (await session.exec(newest_first(query, mark).limit(limit))).all()

    async def list_workspace_deliveries(
        self, workspace_id: str, wanted: DeliveryFilter, *, after: str | None = None, limit: int = 50
    ) -> Sequence[Delivery]:
        """A workspace's deliveries that `wanted` lets through, newest first, a page of `limit`
        after the delivery `after`."""
        async with self.session() as session:
            mark = await self._mark(session, after, lambda d: d.workspace_id == workspace_id)
            return (await session.exec(workspace_deliveries(workspace_id, wanted, mark, limit))).all()

    @staticmethod
    async def _mark(session: AsyncSession, after: str | None, listed: Callable[[Delivery], bool]) -> Delivery | None:
        """The delivery a page continues after; it must be one the same list holds (its status may
        have changed since: a redelivered one still marks the place)."""
        if after is None:
            return None
        mark = await session.get(Delivery, after)
        if mark is None or not listed(mark):
            raise NotFound(f"no delivery {after} to continue after", "cursor")
        return mark

    async def latest_deliveries(self, webhook_ids: Sequence[str]) -> dict[str, Delivery]:
        """Each webhook's most recent delivery (tests included), for those that have one."""
        if not webhook_ids:
            return {}
        rank = (
            func.row_number()
            .over(
                partition_by=col(Delivery.webhook_id),
                order_by=(col(Delivery.created_at).desc(), col(Delivery.id).desc()),
            )
            .label("rank")
        )
        ranked = select(col(Delivery.id), rank).where(col(Delivery.webhook_id).in_(webhook_ids)).subquery()
        query = select(Delivery).join(ranked, col(Delivery.id) == ranked.c.id).where(ranked.c.rank == 1)
        async with self.session() as session:
            return {d.webhook_id: d for d in (await session.exec(query)).all()}

    async def failed_deliveries(
        self,
        *,
        workspace_id: str | None = None,
        webhook_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[Delivery]:
        """The deliveries that gave up, a workspace's or a webhook's (or one webhook's in a
        workspace), of events first seen in [since, until), oldest first; test sends left out (a
        probe is sent again by sending another)."""
        query = select(Delivery).where(Delivery.status == DeliveryStatus.FAILED, col(Delivery.is_test).is_(False))
        if workspace_id is not None:
            query = query.where(Delivery.workspace_id == workspace_id)
        if webhook_id is not None:
            query = query.where(Delivery.webhook_id == webhook_id)
        if since is not None:
            query = query.where(col(Delivery.created_at) >= since)
        if until is not None:
            query = query.where(col(Delivery.created_at) < until)
        async with self.session() as session:
            return (await session.exec(query.order_by(col(Delivery.created_at), col(Delivery.id)))).all()

    async def prune_deliveries(self, cutoff: datetime, batch: int) -> int:
        """Remove up to `batch` settled ledger rows created before `cutoff`, in one short
        transaction (by primary key, so no long lock on the table); returns how many went."""
        async with self.session() as session:
            ids = (
                await session.exec(
                    select(Delivery.id)
                    .where(col(Delivery.created_at) < cutoff, col(Delivery.status).not_in(UNFINISHED))
                    .limit(batch)
                )
            ).all()
            if ids:
                await session.exec(delete(Delivery).where(col(Delivery.id).in_(ids)))
                await session.commit()
            return len(ids)

    async def prune_events(self, cutoff: datetime, batch: int) -> int:
        """Remove up to `batch` stored events received before `cutoff` that no ledger row needs."""
        async with self.session() as session:
            needed = select(Delivery.id).where(
                Delivery.workspace_id == StoredEvent.workspace_id, Delivery.event_id == StoredEvent.event_id
            )
            keys = (
                await session.exec(
                    select(StoredEvent.workspace_id, StoredEvent.event_id)
                    .where(col(StoredEvent.received_at) < cutoff, ~needed.exists())
                    .limit(batch)
                )
            ).all()
            for workspace_id, event_id in keys:
                await session.exec(
                    delete(StoredEvent).where(
                        col(StoredEvent.workspace_id) == workspace_id, col(StoredEvent.event_id) == event_id
                    )
                )
            await session.commit()
            return len(keys)

    async def events_recorded(self, workspace_id: str, event_ids: Sequence[str]) -> int:
        """How many of these events are stored (matched by their workflow)."""
        async with self.session() as session:
            query = select(func.count()).where(
                StoredEvent.workspace_id == workspace_id, col(StoredEvent.event_id).in_(event_ids)
            )
            return (await session.exec(query)).one()

    async def find_event(self, workspace_id: str, event_id: str) -> StoredEvent | None:
        async with self.session() as session:
            return await session.get(StoredEvent, (workspace_id, event_id))

    async def get_delivery(self, delivery_id: str, workspace_id: str) -> Delivery:
        async with self.session() as session:
            delivery = await session.get(Delivery, delivery_id)
        if delivery is None or delivery.workspace_id != workspace_id:
            raise NotFound(f"no delivery {delivery_id}", "delivery_id")
        return delivery

    # --- API keys ------------------------------------------------------------------------------

    async def key_by_hash(self, digest: str) -> ApiKey | None:
        async with self.session() as session:
            return (await session.exec(select(ApiKey).where(ApiKey.hash == digest))).first()

    async def list_keys(self, workspace_id: str | None = None) -> Sequence[ApiKey]:
        query = select(ApiKey).order_by(col(ApiKey.created_at))
        if workspace_id is not None:
            query = query.where(ApiKey.workspace_id == workspace_id)
        async with self.session() as session:
            return (await session.exec(query)).all()

    async def revoke_key(self, key_id: str) -> ApiKey:
        async with self.session() as session:
            key = await session.get(ApiKey, key_id)
            if key is None:
                raise NotFound(f"no key {key_id}", "key_id")
            key.revoked_at = key.revoked_at or utcnow()
            session.add(key)
            await session.commit()
            return key


NAME_INDEXES = ("uq_folders_workspace_name_key", "uq_webhooks_folder_name_key")
"""The unique indexes on names (models.tables): a write that breaks one answers 409, not 500."""


def breaks_name_index(err: IntegrityError) -> bool:
    """Whether the write broke one of NAME_INDEXES: PostgreSQL names the index; SQLite names an
    expression index, and a plain one by its columns (`folders.workspace_id, folders.name_key`)."""
    diag = getattr(err.orig, "diag", None)
    if diag is not None:
        return diag.constraint_name in NAME_INDEXES
    message = str(err.orig)
    return message.startswith("UNIQUE constraint failed:") and "name_key" in message


def name_taken(row: Folder | Webhook) -> Conflict:
    if isinstance(row, Folder):
        return folder_name_taken(row.name)
    return webhook_name_taken(row.name, row.folder_id)


async def names_at_top_level(session: AsyncSession, folder: Folder) -> list[str]:
    """The names of the folder's webhooks that the workspace's top level holds already."""
    top_level = select(Webhook.name_key).where(
        Webhook.workspace_id == folder.workspace_id, col(Webhook.folder_id).is_(None)
    )
    rows = await session.exec(
        select(Webhook.name)
        .where(Webhook.folder_id == folder.id, col(Webhook.name_key).in_(top_level))
        .order_by(col(Webhook.name))
    )
    return list(rows.all())


@dataclass(frozen=True)
class DeliveryFilter:
    """What a workspace's delivery log is narrowed to; what is left empty lets everything through."""

    statuses: Sequence[DeliveryStatus] = ()
    webhook_id: str | None = None
    event_type: str | None = None
    contact_id: str | None = None


def newest_first(query: SelectOfScalar[Delivery], mark: Delivery | None) -> SelectOfScalar[Delivery]:
    """The deliveries `query` selects, newest first, from after `mark` on."""
    if mark is not None:
        query = query.where(tuple_(col(Delivery.created_at), col(Delivery.id)) < tuple_(mark.created_at, mark.id))
    return query.order_by(col(Delivery.created_at).desc(), col(Delivery.id).desc())


def workspace_deliveries(
    workspace_id: str, wanted: DeliveryFilter, mark: Delivery | None, limit: int
) -> SelectOfScalar[Delivery]:
    """A page of a workspace's deliveries, newest first. Each status is read on its own, newest
    first along ix_deliveries_workspace_status and cut at `limit`, and the few rows merged: with
    `status IN (...)` both stores would read every row of those statuses and sort them all. One
    webhook's are read in one go (its rows are few beside its workspace's)."""
    query = select(Delivery).where(Delivery.workspace_id == workspace_id)
    for column, value in ((Delivery.event_type, wanted.event_type), (Delivery.contact_id, wanted.contact_id)):
        if value is not None:
            query = query.where(col(column) == value)
    if wanted.webhook_id is not None:
        # Newest first along ix_deliveries_webhook, or (one status) ix_deliveries_workspace_status.
        query = query.where(Delivery.webhook_id == wanted.webhook_id)
        if wanted.statuses:
            query = query.where(col(Delivery.status).in_(wanted.statuses))
        return newest_first(query, mark).limit(limit)
    branches = [
        newest_first(query.where(Delivery.status == status), mark).limit(limit)
        for status in dict.fromkeys(wanted.statuses or DeliveryStatus)
    ]
    if len(branches) == 1:
        return branches[0]
    merged = union_all(*(select(branch.subquery()) for branch in branches)).subquery()
    row = aliased(Delivery, merged)
    return select(row).order_by(merged.c.created_at.desc(), merged.c.id.desc()).limit(limit)


def url_host(url: str) -> str:
    return urlsplit(url).hostname or ""


def matched(hook: Webhook, event: TriggerEvent) -> MatchedWebhook:
    return MatchedWebhook(
        webhook_id=hook.id,
        delivery_id=delivery_id_for(event.workspace_id, event.event_id, hook.id),
        name=hook.name,
        host=url_host(hook.url),
    )


def first_received(stored: StoredEvent) -> str:
    return f"first received on {stored.received_at:%Y-%m-%d %H:%M:%S} UTC"
