"""`webhooks deliveries ...`: the delivery log, from the ledger."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import Workspace, with_store, workspace_of
from cli.output import JsonOption, emit, fail, table
from core.config import Settings
from core.temporal import connect
from models.tables import DeliveryPublic, DeliveryStatus
from services import deliveries
from store.queries import Store

deliveries_app = typer.Typer(help="The delivery log, from the ledger.", no_args_is_help=True)


@deliveries_app.command("list")
def deliveries_list(
    hook_id: Annotated[
        str | None, typer.Argument(help="One webhook's deliveries (wh_...); or --workspace for all of its workspace.")
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", help="Every webhook's deliveries in this workspace (bot / page)."),
    ] = None,
    status: Annotated[
        list[DeliveryStatus] | None,
        typer.Option(help="Only deliveries in this state; repeat it for several. failed: still undelivered."),
    ] = None,
    webhook: Annotated[str | None, typer.Option(help="Only this webhook's (the same as HOOK_ID).")] = None,
    event: Annotated[str | None, typer.Option(help="Only events of this trigger type, e.g. tag.applied.")] = None,
    contact: Annotated[str | None, typer.Option(help="Only this contact's events.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    json_: bool = JsonOption,
) -> None:
    """Recent deliveries, newest first, from the ledger: a webhook's, or a whole workspace's
    (`-w WS --status failed`: what is still undelivered after giving up; one redelivered since is
    not listed). A held one (throttled) says why and until when."""
    if hook_id is not None and webhook is not None:
        fail("give the webhook once: HOOK_ID or --webhook")
    hook = hook_id or webhook
    if workspace is None and hook is None:
        fail("give a webhook (HOOK_ID) or --workspace WS")
    settings = Settings()

    async def work(store: Store) -> list[DeliveryPublic]:
        namespace = (await connect(lazy=True)).namespace
        # The workspace given, else the named webhook's (one of the two is given, as checked above).
        in_workspace = workspace or await workspace_of(store, hook or "")
        page = await deliveries.list_workspace_deliveries(
            store,
            in_workspace,
            ui_url=settings.ui_url, namespace=namespace, status=status, webhook_id=hook, event_type=event,
            contact_id=contact, limit=limit,
        )  # fmt: skip
        return page.items

    shown = with_store(work)
    emit(
        shown,
        json_,
        lambda: table(
            [
                (
                    d.id,
                    d.event_id,
                    d.status,
                    d.webhook_id,
                    d.attempts,
                    d.last_status_code,
                    f"{d.created_at:%Y-%m-%d %H:%M:%S}",
                    detail(d),
                )
                for d in shown
            ],
            ["DELIVERY", "EVENT", "STATUS", "WEBHOOK", "ATTEMPTS", "HTTP", "CREATED (UTC)", "LAST ERROR / HELD BACK"],
        ),
    )


def detail(delivery: DeliveryPublic) -> str:
    """The last error; for a held delivery, why it is held and until when."""
    if delivery.status == DeliveryStatus.THROTTLED and delivery.held_reason:
        until = f" until {delivery.next_attempt_at:%H:%M:%S} UTC" if delivery.next_attempt_at else ""
        return f"held{until}: {delivery.held_reason}"
    return delivery.last_error or ""


@deliveries_app.command("show")
def deliveries_show(
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id (msg_..., the webhook-id header).")],
    workspace: Workspace,
    json_: bool = JsonOption,
) -> None:
    """One delivery in detail, with its workflow's link in the Temporal UI."""
    settings = Settings()

    async def work(store: Store) -> DeliveryPublic:
        namespace = (await connect(lazy=True)).namespace
        return await deliveries.get_delivery(store, workspace, delivery_id, ui_url=settings.ui_url, namespace=namespace)

    shown = with_store(work)

    def human() -> None:
        for field, value in shown.model_dump().items():
            typer.echo(f"{field:<18}{'' if value is None else value}")

    emit(shown, json_, human)
