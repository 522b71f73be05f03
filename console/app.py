"""The console's pages and forms, mounted by the API at /console. Every change is a plain form
POST answered by a redirect (so it works without script, and reloading never repeats it); the
services do the work and their errors come back next to the field they name."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import State
from temporalio.service import RPCError

from api.deps import ClientDep, SettingsDep, StoreDep
from console.charts import health_view
from console.forms import (
    AUTH_KINDS,
    BODY_FORMATS,
    CONDITION_LABELS,
    ON_FAILURE,
    FolderForm,
    WebhookForm,
    auth_kind,
    field_errors,
    folder_values,
    inputs,
)
from console.session import (
    PREFIX,
    PageError,
    SignInNeeded,
    WorkspaceDep,
    flash,
    flashed,
    forget,
    remember,
    shown,
    signed_in,
)
from core.errors import Conflict, ServiceError
from core.temporal import unavailable
from models.events import FILTER_KEYS, TRIGGER_LABELS, describe_trigger
from models.presets import PRESETS
from models.preview import ReceiverAnswer, RequestPreview
from models.tables import UNFINISHED, DeliveryPublic, DeliveryStatus, OrderOnFailure, Webhook, WebhookUpdate
from services import deliveries, redelivery
from services import webhooks as hooks
from services.access import Unauthorized, authenticate
from services.stats import webhook_stats
from store.queries import DeliveryFilter, Store, url_host

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.trim_blocks = templates.env.lstrip_blocks = True  # a list of hundreds, not of blank lines
templates.env.auto_reload = False  # templates change with a release, not while serving: no stat per render
templates.env.globals.update(
    prefix=PREFIX,
    trigger_labels=TRIGGER_LABELS,
    filter_keys=FILTER_KEYS,
    condition_labels=CONDITION_LABELS,
    describe_trigger=describe_trigger,
    url_host=url_host,
    presets=PRESETS,
    body_formats=BODY_FORMATS,
    auth_kinds=AUTH_KINDS,
    on_failure=ON_FAILURE,
    template_example='{"text": "New lead: {{ contact.name }} ({{ contact.tags | join:\', \' }})"}',
)
DELIVERIES = templates.env.get_template("_deliveries.html")
"""The deliveries' macros, for the fragment a webhook's page fetches again."""
RECENT_DELIVERIES = 25
FAILED_PAGE = 50
"""Failed deliveries a page lists; the Webhooks page counts up to as many."""
ONLY_FAILED = DeliveryFilter(statuses=[DeliveryStatus.FAILED])
"""What the failed deliveries are (services.deliveries.list_workspace_deliveries says why)."""
TEST_ANSWER_WAIT = timedelta(seconds=5)
"""How long a test send waits for the receiver's answer before the page comes back without it (its
delivery's row then follows the attempt by itself: no longer than a quick receiver takes)."""


def create_console(state: State) -> FastAPI:
    """The console as an app of its own (its errors are pages, not JSON), sharing the API's state:
    its store, Temporal client and settings."""
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state = state
    console.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    console.add_middleware(GZipMiddleware, minimum_size=1024)  # a long list is repetitive markup
    install_errors(console)

    @console.middleware("http")
    async def same_origin_posts(request: Request, call_next: Any) -> Response:
        # The cookie is SameSite=Strict already; a form posted from another site is refused too. Hosts
        # are compared, not schemes: behind a proxy that ends TLS the app itself sees http.
        origin = request.headers.get("origin")
        hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
        if request.method == "POST" and origin and urlsplit(origin).netloc not in hosts:
            return page(request, "error.html", {"message": "a form from another site was refused"}, status=403)
        response: Response = await call_next(request)
        return response

    # --- signing in ------------------------------------------------------------------------------

    @console.get("/", response_class=HTMLResponse)
    async def home(request: Request, store: StoreDep) -> Response:
        try:
            key = await signed_in(request, store)
        except SignInNeeded:
            return page(request, "sign_in.html", {"workspace": "", "errors": {}})
        if key.workspace_id is None:  # an admin key signed in elsewhere: ask which workspace
            return page(request, "sign_in.html", {"workspace": "", "errors": {}})
        return RedirectResponse(f"{PREFIX}/w/{key.workspace_id}", status_code=303)

    @console.post("/sign-in", response_class=HTMLResponse)
    async def sign_in(
        request: Request, store: StoreDep, key: Annotated[str, Form()], workspace: Annotated[str, Form()] = ""
    ) -> Response:
        try:
            found = await authenticate(store, key.strip())
        except Unauthorized as err:
            return page(request, "sign_in.html", {"errors": {"key": str(err)}, "workspace": workspace}, status=401)
        target = found.workspace_id or workspace.strip()
        if not target:
            errors = {"workspace": "an admin key covers every workspace: name the one to open"}
            return page(request, "sign_in.html", {"errors": errors, "workspace": ""}, status=422)
        response = RedirectResponse(f"{PREFIX}/w/{target}", status_code=303)
        remember(response, request, key.strip())
        return response

    @console.post("/sign-out")
    async def sign_out() -> Response:
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        forget(response)
        return response

    # --- the Webhooks page -----------------------------------------------------------------------

    @console.get("/w/{workspace_id}", response_class=HTMLResponse)
    async def webhooks_page(
        request: Request, store: StoreDep, workspace_id: WorkspaceDep, folder: str = ""
    ) -> Response:
        return await list_page(request, store, workspace_id, folder)

    @console.post("/w/{workspace_id}/folders", response_class=HTMLResponse)
    async def create_folder(
        request: Request, store: StoreDep, workspace_id: WorkspaceDep, name: Annotated[str, Form()] = ""
    ) -> Response:
        try:
            folder = await hooks.create_folder(store, workspace_id, folder_values(name))
        except ServiceError as err:
            refused = FolderForm("new", name, field_errors(err.problems, inputs("name")))
            return await list_page(request, store, workspace_id, "", refused, status=err.status)
        return done(f"/w/{workspace_id}?folder={folder.id}", f"Folder {folder.name!r} created.")

    @console.post("/w/{workspace_id}/folders/{folder_id}/rename", response_class=HTMLResponse)
    async def rename_folder(
        request: Request,
        store: StoreDep,
        workspace_id: WorkspaceDep,
        folder_id: str,
        name: Annotated[str, Form()] = "",
    ) -> Response:
        try:
            folder = await hooks.rename_folder(store, workspace_id, folder_id, folder_values(name))
        except ServiceError as err:
            refused = FolderForm("rename", name, field_errors(err.problems, inputs("name")))
            return await list_page(request, store, workspace_id, folder_id, refused, status=err.status)
        return done(f"/w/{workspace_id}?folder={folder.id}", f"Folder renamed to {folder.name!r}.")

    @console.post("/w/{workspace_id}/folders/{folder_id}/delete", response_class=HTMLResponse)
    async def delete_folder(
        request: Request,
        store: StoreDep,
        workspace_id: WorkspaceDep,
        folder_id: str,
        move_out: Annotated[bool, Form()] = False,
    ) -> Response:
        folder = await store.get_folder(folder_id, workspace_id)
        try:
            moved = await hooks.delete_folder(store, workspace_id, folder_id, move_webhooks_out=move_out)
        except Conflict as err:
            message = err.message  # moving out would clash with names at the top level: said as it is
            if err.field == "folder_id":  # it holds webhooks: said in the words of this form's checkbox
                held = (await store.webhooks_per_folder(workspace_id)).get(folder_id, 0)
                message = (
                    f"it holds {held} webhook(s): move them out first, or tick “move its webhooks to the top level”"
                )
            refused = FolderForm("delete", errors={"move_out": message})
            return await list_page(request, store, workspace_id, folder_id, refused, status=err.status)
        moved_words = f"; {moved} webhook(s) moved to the top level" if moved else ""
        return done(f"/w/{workspace_id}", f"Folder {folder.name!r} deleted{moved_words}.")

    # --- one webhook -----------------------------------------------------------------------------

    @console.get("/w/{workspace_id}/webhooks/new", response_class=HTMLResponse)
    async def new_webhook(
        request: Request, store: StoreDep, workspace_id: WorkspaceDep, folder: str = "", preset: str = ""
    ) -> Response:
        # "Send to" reloads this page with ?preset=KEY: the form then starts from that preset.
        return await form_page(request, store, workspace_id, WebhookForm.start(preset, folder), None)

    @console.post("/w/{workspace_id}/webhooks", response_class=HTMLResponse)
    async def create_webhook(
        request: Request, store: StoreDep, settings: SettingsDep, workspace_id: WorkspaceDep
    ) -> Response:
        form = WebhookForm.from_post(await request.form())
        try:
            create = form.create()
            hook = await hooks.create_webhook(store, workspace_id, create, allow_private=settings.allow_private_urls)
        except ServiceError as err:
            form.refuse(err)
            return await form_page(request, store, workspace_id, form, None, status=err.status)
        return done(f"/w/{workspace_id}/webhooks/{hook.id}", f"Webhook {hook.name!r} created.")

    @console.get("/w/{workspace_id}/webhooks/{webhook_id}", response_class=HTMLResponse)
    async def show_webhook(
        request: Request,
        store: StoreDep,
        client: ClientDep,
        settings: SettingsDep,
        workspace_id: WorkspaceDep,
        webhook_id: str,
    ) -> Response:
        hook = await store.get_webhook(webhook_id, workspace_id)
        waiting = (await store.pacing.waiting([hook.id])).get(hook.id, 0)
        folder = await store.get_folder(hook.folder_id, workspace_id) if hook.folder_id else None
        context = {
            "workspace_id": workspace_id,
            "hook": hook,
            "folder": folder,
            "deliveries": await recent_deliveries(store, hook.id, settings.ui_url, client.namespace),
            "waiting": waiting,
            "preset": PRESETS.get(hook.preset or ""),
            "auth": auth_kind(hook.receiver_auth),
            "health_stats": health_view(await webhook_stats(store, workspace_id, hook.id)),
        } | preview_context(hook)
        return page(request, "webhook.html", context)

    @console.get("/w/{workspace_id}/webhooks/{webhook_id}/deliveries-fragment", response_class=HTMLResponse)
    async def deliveries_fragment(
        request: Request,
        store: StoreDep,
        client: ClientDep,
        settings: SettingsDep,
        workspace_id: WorkspaceDep,
        webhook_id: str,
    ) -> Response:
        """The webhook page's Recent deliveries alone, which its script fetches again while one is
        in flight."""
        hook = await store.get_webhook(webhook_id, workspace_id)
        shown = await recent_deliveries(store, hook.id, settings.ui_url, client.namespace)
        fragment = DELIVERIES.module.recent_deliveries(shown, f"{PREFIX}/w/{workspace_id}")  # type: ignore[attr-defined]
        return HTMLResponse(fragment, headers={"cache-control": "no-store"})

    @console.get("/w/{workspace_id}/webhooks/{webhook_id}/credentials", response_class=HTMLResponse)
    async def show_credentials(
        request: Request, store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str
    ) -> Response:
        """The receiver's credentials in clear, on a page of their own: asked for, never in passing."""
        hook = await store.get_webhook(webhook_id, workspace_id)
        response = page(
            request, "credentials.html", {"workspace_id": workspace_id, "hook": hook, "auth": hook.receiver_auth}
        )
        response.headers["cache-control"] = "no-store"
        return response

    @console.get("/w/{workspace_id}/webhooks/{webhook_id}/edit", response_class=HTMLResponse)
    async def edit_webhook(request: Request, store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str) -> Response:
        hook = await store.get_webhook(webhook_id, workspace_id)
        return await form_page(request, store, workspace_id, WebhookForm.of_webhook(hook), hook.id)

    @console.post("/w/{workspace_id}/webhooks/{webhook_id}", response_class=HTMLResponse)
    async def update_webhook(
        request: Request, store: StoreDep, settings: SettingsDep, workspace_id: WorkspaceDep, webhook_id: str
    ) -> Response:
        current = await store.get_webhook(webhook_id, workspace_id)
        form = WebhookForm.from_post(await request.form(), editing=current)
        try:
            change = form.change(current)
            hook = await hooks.update_webhook(
                store, workspace_id, webhook_id, change, allow_private=settings.allow_private_urls
            )
        except ServiceError as err:
            form.refuse(err)
            return await form_page(request, store, workspace_id, form, webhook_id, status=err.status)
        return done(f"/w/{workspace_id}/webhooks/{hook.id}", "Changes saved.")

    @console.post("/w/{workspace_id}/webhooks/{webhook_id}/toggle")
    async def toggle_webhook(
        request: Request,
        store: StoreDep,
        workspace_id: WorkspaceDep,
        webhook_id: str,
        enabled: Annotated[bool, Form()],
        back: Annotated[str, Form()] = "",
    ) -> Response:
        hook = await hooks.set_enabled(store, workspace_id, webhook_id, enabled, None)
        state = "on" if hook.enabled else "off"
        return done(back_to(back, workspace_id), f"Webhook {hook.name!r} turned {state}.")

    @console.post("/w/{workspace_id}/webhooks/{webhook_id}/move")
    async def move_webhook(
        request: Request,
        store: StoreDep,
        settings: SettingsDep,
        workspace_id: WorkspaceDep,
        webhook_id: str,
        folder_id: Annotated[str, Form()] = "",
        back: Annotated[str, Form()] = "",
    ) -> Response:
        change = WebhookUpdate(folder_id=folder_id or None)
        hook = await hooks.update_webhook(
            store, workspace_id, webhook_id, change, allow_private=settings.allow_private_urls
        )
        where = f"folder {(await store.get_folder(folder_id, workspace_id)).name!r}" if folder_id else "the top level"
        return done(back_to(back, workspace_id), f"Webhook {hook.name!r} moved to {where}.")

    @console.post("/w/{workspace_id}/webhooks/{webhook_id}/test")
    async def test_webhook(
        request: Request,
        store: StoreDep,
        client: ClientDep,
        settings: SettingsDep,
        workspace_id: WorkspaceDep,
        webhook_id: str,
    ) -> Response:
        sent = await hooks.send_test(store, client, settings.task_queue, workspace_id, webhook_id)
        answer = (await hooks.await_test(store, workspace_id, sent, TEST_ANSWER_WAIT)).answer
        if answer is None:
            message = f"Test event sent ({sent.handle.id}); its delivery below shows the answer when it comes."
        elif answer.status == DeliveryStatus.SKIPPED:  # the attempt skips a webhook that is off, a test too
            message = (
                "Test event not sent: the webhook is off, so its delivery was recorded as skipped. "
                "Turn it on to send one."
            )
        else:
            message = f"Test event {answer.status}: {describe_answer(answer)}"
        return done(f"/w/{workspace_id}/webhooks/{webhook_id}", message)

    @console.post("/w/{workspace_id}/webhooks/{webhook_id}/rotate")
    async def rotate_secret(request: Request, store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str) -> Response:
        await hooks.rotate_secret(store, workspace_id, webhook_id)
        message = "New secret: it signs from now on, and the previous one beside it for 24 hours."
        return done(f"/w/{workspace_id}/webhooks/{webhook_id}#secret", message)

    @console.post("/w/{workspace_id}/webhooks/{webhook_id}/delete")
    async def delete_webhook(
        request: Request, store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str
    ) -> Response:
        hook = await store.get_webhook(webhook_id, workspace_id)
        await hooks.delete_webhook(store, workspace_id, webhook_id)
        folder = f"?folder={hook.folder_id}" if hook.folder_id else ""
        return done(f"/w/{workspace_id}{folder}", f"Webhook {hook.name!r} deleted.")

    @console.post("/w/{workspace_id}/deliveries/{delivery_id}/redeliver")
    async def redeliver(
        request: Request,
        store: StoreDep,
        client: ClientDep,
        settings: SettingsDep,
        workspace_id: WorkspaceDep,
        delivery_id: str,
        back: Annotated[str, Form()] = "",
    ) -> Response:
        delivery = await store.get_delivery(delivery_id, workspace_id)
        result = await redelivery.redeliver_delivery(
            client, store, workspace_id, delivery_id, "redelivery from the console",
            task_queue=settings.task_queue, ui_url=settings.ui_url,
        )  # fmt: skip
        webhook_page = f"/w/{workspace_id}/webhooks/{delivery.webhook_id}"
        return done(back_to(back, workspace_id) if back else webhook_page, f"Redelivery: {result.detail}")

    @console.get("/w/{workspace_id}/deliveries/failed", response_class=HTMLResponse)
    async def failed_deliveries(
        request: Request,
        store: StoreDep,
        client: ClientDep,
        settings: SettingsDep,
        workspace_id: WorkspaceDep,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        """The workspace's deliveries still undelivered, as the ledger has them: one redelivered and
        delivered since is not among them."""
        listed = await deliveries.list_workspace_deliveries(
            store, workspace_id, ui_url=settings.ui_url, namespace=client.namespace,
            status=DeliveryStatus.FAILED, cursor=cursor, limit=FAILED_PAGE,
        )  # fmt: skip
        # A deleted webhook's deliveries stay, shown by its id.
        names = await store.webhook_names(workspace_id, {d.webhook_id for d in listed.items})
        return page(request, "failed.html", {"workspace_id": workspace_id, "listed": listed, "names": names})

    return console


async def list_page(
    request: Request,
    store: Store,
    workspace_id: str,
    folder: str,
    refused: FolderForm | None = None,
    status: int = 200,
) -> Response:
    """The Webhooks page of a folder (all of them when `folder` is empty), with the folder form
    that was refused, if any, shown again with its errors."""
    folders = list(await store.list_folders(workspace_id))
    current = next((f for f in folders if f.id == folder), None)
    if folder and current is None:
        raise PageError(404, f"no folder {folder} in workspace {workspace_id}")
    listed = await store.list_webhooks(workspace_id, folder_id=folder or None, limit=500)
    latest = await store.latest_deliveries([h.id for h in listed])
    waiting = await store.pacing.waiting([h.id for h in listed])
    counts = await store.webhooks_per_folder(workspace_id)
    failed = await store.list_workspace_deliveries(workspace_id, ONLY_FAILED, limit=FAILED_PAGE + 1)
    context = {
        "workspace_id": workspace_id,
        "folders": folders,
        "counts": counts,
        "current": current,
        "webhooks": listed,
        "latest": latest,
        "waiting": waiting,
        "folder_names": {f.id: f.name for f in folders},
        "folder_form": refused or FolderForm(""),
        "failed_count": f"{FAILED_PAGE}+" if len(failed) > FAILED_PAGE else len(failed),
    }
    return page(request, "webhooks.html", context, status=status)


async def form_page(
    request: Request, store: Store, workspace_id: str, form: WebhookForm, webhook_id: str | None, status: int = 200
) -> Response:
    context = {
        "workspace_id": workspace_id,
        "form": form,
        "webhook_id": webhook_id,
        "folders": await store.list_folders(workspace_id),
    }
    return page(request, "webhook_form.html", context, status=status)


async def recent_deliveries(store: Store, webhook_id: str, ui_url: str, namespace: str) -> list[DeliveryPublic]:
    recent = await store.list_deliveries(webhook_id, limit=RECENT_DELIVERIES)
    return [deliveries.public(d, ui_url, namespace) for d in recent]


def preview_context(hook: Webhook) -> dict[str, Any]:
    """The request the webhook would send, for the page: header names as HTTP writes them, a JSON
    body indented; or why it cannot be made."""
    try:
        shown = hooks.preview(hook)
    except ServiceError as err:
        return {"preview": None, "preview_error": err.message}
    headers = [(name.title() if name == name.lower() else name, value) for name, value in shown.headers.items()]
    return {"preview": shown, "preview_headers": headers, "preview_body": readable_body(shown), "preview_error": None}


def readable_body(shown: RequestPreview) -> str:
    if shown.content_type.startswith("application/json"):
        try:
            return json.dumps(json.loads(shown.body), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return shown.body


def redirect_chain(hops: list[dict[str, Any]] | None) -> str:
    """A delivery's redirects as the page shows them: `302 script.google.com → 200 ...`."""
    return " → ".join(f"{hop.get('status_code', '?')} {hop.get('host', '?')}" for hop in hops or ())


def rate(value: float) -> str:
    return f"{value:g}"


def pace_badges(hook: Webhook) -> list[tuple[str, str]]:
    """The Webhooks list's badges for a webhook's pacing: (text, what it means), e.g. `≤20/s`."""
    badges = []
    if hook.max_per_second is not None:
        per_second, burst = rate(hook.max_per_second), hook.burst or 1
        spacing = f"up to {burst} at once" if burst > 1 else "evenly spaced"
        text = f"≤{per_second}/s" + (f", burst {burst}" if burst > 1 else "")
        badges.append((text, f"at most {per_second} requests a second, {spacing}"))
    if hook.max_in_flight is not None:
        badges.append((f"{hook.max_in_flight} at once", f"at most {hook.max_in_flight} requests open at once"))
    if hook.ordered:
        held = hook.ordered_on_failure == OrderOnFailure.HOLD
        badges.append(("ordered", "each contact's events in order" + (", held after a failure" if held else "")))
    return badges


def pacing_words(hook: Webhook) -> str:
    """The webhook page's Pacing: its rate limit and concurrency cap in words."""
    words = []
    if hook.max_per_second is not None:
        burst = hook.burst or 1
        spacing = f"up to {burst} at once" if burst > 1 else "evenly spaced"
        words.append(f"at most {rate(hook.max_per_second)} requests a second ({spacing})")
    if hook.max_in_flight is not None:
        words.append(f"at most {hook.max_in_flight} open at once")
    return "; ".join(words) or "no limit"


def order_words(hook: Webhook) -> str:
    """The webhook page's Order: as they come, or each contact's in order and what a failure does."""
    if not hook.ordered:
        return "as they come"
    then = "wait until it is redelivered" if hook.ordered_on_failure == OrderOnFailure.HOLD else "go on"
    return f"each contact's events one at a time, in order; when one gives up, the contact's next events {then}"


def guide_parts(guide: str) -> list[tuple[str, str]]:
    """A preset's guide as ("text" | "code", paragraph): a paragraph of `//` comments and code (the
    Apps Script to paste) is shown as code, the rest as text."""
    parts = [part.strip("\n") for part in guide.split("\n\n") if part.strip()]
    return [("code" if part.lstrip().startswith("//") else "text", part) for part in parts]


templates.env.globals.update(
    statuses=DeliveryStatus,
    unfinished=UNFINISHED,
    redirect_chain=redirect_chain,
    guide_parts=guide_parts,
    pace_badges=pace_badges,
    pacing_words=pacing_words,
    order_words=order_words,
)


def back_to(back: str, workspace_id: str) -> str:
    """Where a form asked to return, within this workspace's pages only."""
    own = f"/w/{workspace_id}"
    return back if back == own or back.startswith((own + "/", own + "?")) else own


def describe_answer(answer: ReceiverAnswer) -> str:
    """The receiver's answer in one line: its status and the start of what it said."""
    said = (answer.excerpt or "").strip()[:200]
    if answer.status_code is None:
        return answer.error or "no answer"
    return f"the receiver answered HTTP {answer.status_code}" + (f": {said}" if said else "")


def done(path: str, message: str) -> Response:
    return flash(RedirectResponse(f"{PREFIX}{path}", status_code=303), message)


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    message = flashed(request)
    response = templates.TemplateResponse(request, name, context | {"flash": message}, status_code=status)
    if message is not None:
        shown(response)
    return response


def install_errors(console: FastAPI) -> None:
    @console.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, _: SignInNeeded) -> Response:
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        forget(response)
        return response

    @console.exception_handler(PageError)
    async def page_error(request: Request, err: PageError) -> Response:
        return page(request, "error.html", {"message": err.message}, status=err.status)

    @console.exception_handler(ServiceError)
    async def service_error(request: Request, err: ServiceError) -> Response:
        return not_done(request, "; ".join(message for _, message in err.problems), err.status)

    @console.exception_handler(RPCError)
    @console.exception_handler(RuntimeError)
    async def temporal_unavailable(request: Request, err: Exception) -> Response:
        said = unavailable(err)
        if said is None:
            raise err  # a defect: answered 500, with its traceback in the log
        return not_done(request, f"{said}; try again", 503)

    def not_done(request: Request, said: str, status: int) -> Response:
        """A button's form (a toggle, a move, a redelivery, a test send): the message comes back as a
        flash on the page it came from; a page that cannot be shown says why. Neither has an input to
        put the message under: its words alone, without a field's name."""
        referer = request.headers.get("referer", "")
        if request.method == "POST" and referer.startswith(f"{request.url.scheme}://{request.url.netloc}{PREFIX}/"):
            return flash(RedirectResponse(referer, status_code=303), f"Not done: {said}")
        return page(request, "error.html", {"message": said}, status=status)

    @console.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> Response:
        return page(request, "error.html", {"message": "the form was incomplete"}, status=422)
