"""The management API: `webhooks api` serves it, `webhooks dev` starts it beside the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from temporalio.client import Client

from api import errors, events, folders, redelivery, webhooks, workspaces
from console.app import create_console
from console.session import PREFIX
from core.config import Settings
from core.temporal import connect
from store.queries import Store


def operation_id(route: APIRoute) -> str:
    """The route's function name (`create_webhook`): the name a client generated from the document
    gives the call (FastAPI's default adds the path and method: `create_webhook_workspaces__..._post`)."""
    return route.name


def create_app(settings: Settings, store: Store | None = None, temporal: Client | None = None) -> FastAPI:
    """The app; a store or Temporal client handed in is used as is (tests, the dev stack), and
    whatever it makes itself it also closes."""

    own_store = store is None
    # Opened with the app, not at the lifespan's start: opening checks the store's secrets against
    # the configured key (store.keys), and an API that could not read them must not start serving.
    opened = store or Store.from_url(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = opened
        # Lazy: the API answers (lists, shows, changes) while Temporal is unreachable; only
        # starting workflows needs it.
        app.state.temporal = temporal or await connect(lazy=True)
        try:
            yield
        finally:
            if own_store:
                await app.state.store.close()

    app = FastAPI(
        title="chatbot-webhooks",
        summary="Folders, webhooks, delivery logs and event intake of the chatbot platform's Webhooks page.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    errors.install(app)
    for module in (events, redelivery, workspaces, folders, webhooks):
        app.include_router(module.router, responses=errors.AUTHENTICATED)
    app.mount(PREFIX, create_console(app.state))

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
