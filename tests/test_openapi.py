"""The OpenAPI document against the API it describes: schemathesis probes every operation of the
served API (`webhooks api` on 127.0.0.1, a real store and Temporal dev server) and checks each answer
against the document; a client generated from the document drives the API and reads its errors."""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import uvicorn
from openapi_python_client import generate
from openapi_python_client.config import Config, ConfigFile, MetaType
from temporalio.client import Client

from api.app import create_app
from console.session import FLASH_COOKIE
from core.config import Settings
from core.temporal import data_converter
from devstack.processes import free_port
from models.errors import ErrorBody
from models.samples import sample_event
from services.access import create_key
from store.queries import Store

WS = "ws_openapi"
SEEDS = 4
"""Webhooks and folders made before the probe, per kind of use (kept, and deleted)."""

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Served:
    url: str
    key: str
    document: dict[str, Any]

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {self.key}"})


@pytest.fixture
def served(client: Client, settings: Settings) -> Iterator[Served]:
    """The API on a free port of 127.0.0.1, served from a thread with its own event loop (the tests
    here call it synchronously, as schemathesis and the generated client do), on its own store and
    Temporal client. No worker runs: nothing is delivered to the URLs the probe makes up."""
    ready: Future[Served] = Future()
    server: uvicorn.Server | None = None

    async def serve() -> None:
        nonlocal server
        store = Store.from_url(settings.database_url)
        temporal = await Client.connect(
            client.service_client.config.target_host, namespace=client.namespace, data_converter=data_converter
        )
        key = (await create_key(store, WS, "openapi")).key
        app = create_app(settings, store=store, temporal=temporal)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="error"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        ready.set_result(Served(f"http://127.0.0.1:{server.config.port}", key, app.openapi()))
        try:
            await serving
        finally:
            await store.close()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as err:
            if not ready.done():
                ready.set_exception(err)
            raise

    thread = threading.Thread(target=run, name="openapi-api", daemon=True)
    thread.start()
    yield ready.result(timeout=60)
    assert server is not None
    server.should_exit = True
    thread.join(timeout=30)


def seed(served: Served, kind: str) -> tuple[list[str], list[str]]:
    """SEEDS folders, each with a webhook: ids for the probe to use beside the ones it makes up."""
    folders, hooks = [], []
    with served.http() as http:
        for n in range(SEEDS):
            folder = http.post(f"/workspaces/{WS}/folders", json={"name": f"{kind} {n}"}).raise_for_status().json()
            body = {"name": kind, "event_type": "tag.applied", "url": "https://receiver.invalid/hook"}
            hook = http.post(f"/workspaces/{WS}/webhooks", json=body | {"folder_id": folder["id"]}).raise_for_status()
            folders.append(folder["id"])
            hooks.append(hook.json()["id"])
    return folders, hooks


def probe_config(served: Served) -> dict[str, Any]:
    """The probe of the served API: the key of WS and its workspace in every path, half the ids in
    paths ones that exist (DELETE gets its own, so the others outlive it), the checks the document
    answers for. Bounded and derandomized: the same requests each run, in a few seconds."""
    folders, hooks = seed(served, "kept")
    doomed_folders, doomed_hooks = seed(served, "doomed")
    known = 0.5  # of the ids in paths: the rest are made up, and answer 404
    return {
        "color": False,
        "workers": 1,
        "headers": {"authorization": f"Bearer {served.key}"},
        "dictionaries": {
            "folders": {"values": folders},
            "webhooks": {"values": hooks},
            "doomed_folders": {"values": doomed_folders},
            "doomed_webhooks": {"values": doomed_hooks},
        },
        "parameters": {
            "path.workspace_id": WS,
            "path.folder_id": {"dictionary": "folders", "probability": known},
            "path.webhook_id": {"dictionary": "webhooks", "probability": known},
            "body.folder_id": {"dictionary": "folders", "probability": known},
        },
        "operations": [
            {
                "include-method": "DELETE",
                "parameters": {
                    "path.folder_id": {"dictionary": "doomed_folders", "probability": known},
                    "path.webhook_id": {"dictionary": "doomed_webhooks", "probability": known},
                },
            },
            # With no worker, waiting for the receiver's answer would take the whole grace (15 s).
            {"include-path-regex": "/test$", "parameters": {"query.wait": "false"}},
        ],
        "generation": {"max-examples": 5, "deterministic": True, "mode": "all", "database": "none"},
        # Coverage: each operation's boundary values, valid ones only (fuzzing sends invalid ones too);
        # no stateful phase: the ids it would chain are in the dictionaries.
        "phases": {"coverage": {"generation": {"mode": "positive"}}, "stateful": {"enabled": False}},
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "allow_header_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
        },
    }


def toml(value: Any) -> str:
    """A value as TOML, tables inline (schemathesis reads its configuration from a TOML file)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)} = {toml(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml(item) for item in value) + "]"
    return json.dumps(value)


def test_every_answer_of_every_operation_is_the_one_the_document_describes(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text("".join(f"{json.dumps(key)} = {toml(value)}\n" for key, value in probe_config(served).items()))
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", f"{served.url}/openapi.json"],
        cwd=tmp_path,  # whatever it keeps (reports, caches) stays out of the checkout
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_document_declares_the_error_body_and_no_default_validation_error(served: Served) -> None:
    """Every route of the API declares the 401 and 403 it gives with the error body, and FastAPI's
    own 422 (`{detail: [...]}`, which the API never answers) is nowhere in the document."""
    document = served.document
    assert "HTTPValidationError" not in json.dumps(document)
    operation_ids = [
        operation["operationId"] for operations in document["paths"].values() for operation in operations.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = {status: answer for status, answer in operation["responses"].items() if status >= "400"}
            if path == "/health":
                assert errors == {}
                continue
            assert {"401", "403", "422"} <= errors.keys(), (method, path)
            for status, answer in errors.items():
                assert answer["content"]["application/json"]["schema"] == error_body, (method, path, status)
                assert answer["description"], (method, path, status)


def test_a_client_generated_from_the_document_works_the_api_and_reads_its_errors(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(served.document))
    config = Config.from_sources(
        ConfigFile(package_name_override="webhooks_api_client", post_hooks=[]),  # no formatting: read by no one
        MetaType.NONE,
        document,
        "utf-8",
        overwrite=True,
        output_path=tmp_path / "webhooks_api_client",
    )
    assert not generate(config=config)
    monkeypatch.syspath_prepend(str(tmp_path))
    generated = importlib.import_module("webhooks_api_client")
    models = importlib.import_module("webhooks_api_client.models")

    def operation(tag: str, name: str) -> Any:
        """One call of the generated client: its module, with `sync` and `sync_detailed`."""
        return importlib.import_module(f"webhooks_api_client.api.{tag}.{name}")

    create_folder, list_folders = operation("folders", "create_folder"), operation("folders", "list_folders")
    create_webhook, list_webhooks = operation("webhooks", "create_webhook"), operation("webhooks", "list_webhooks")
    show_webhook = operation("webhooks", "show_webhook")

    with generated.AuthenticatedClient(base_url=served.url, token=served.key) as api:
        made = create_folder.sync_detailed(WS, client=api, body=models.FolderCreate(name="CRM"))
        assert made.status_code == 201 and isinstance(made.parsed, models.FolderPublic)
        folder = made.parsed
        new_hook = models.WebhookCreate(
            name="Closed orders", event_type="tag.applied", url="https://crm.example/hook", folder_id=folder.id
        )
        hook = create_webhook.sync(WS, client=api, body=new_hook)
        assert isinstance(hook, models.WebhookWithSecret) and hook.secret.startswith("whsec_")

        listed = list_webhooks.sync(WS, client=api, folder_id=folder.id)
        assert isinstance(listed, models.WebhookShownPage) and [h.id for h in listed.items] == [hook.id]
        assert [f.name for f in list_folders.sync(WS, client=api)] == ["CRM"]
        shown = show_webhook.sync(WS, hook.id, client=api)
        assert isinstance(shown, models.WebhookShown) and shown.name == "Closed orders" and shown.enabled

        # Each error arrives as the document's ErrorBody, typed, naming its field.
        missing = show_webhook.sync_detailed(WS, "wh_nope", client=api)
        assert missing.status_code == 404 and isinstance(missing.parsed, models.ErrorBody)
        assert missing.parsed.error.field == "webhook_id" and "wh_nope" in missing.parsed.error.message
        taken = create_folder.sync_detailed(WS, client=api, body=models.FolderCreate(name="crm"))
        assert taken.status_code == 409 and isinstance(taken.parsed, models.ErrorBody)
        assert taken.parsed.error.field == "name" and "crm" in taken.parsed.error.message
        refused = create_folder.sync_detailed(WS, client=api, body=models.FolderCreate(name=" "))
        assert refused.status_code == 422 and isinstance(refused.parsed, models.ErrorBody)
        assert refused.parsed.error.field == "name" and [p.field for p in refused.parsed.error.problems] == ["name"]

    with generated.Client(base_url=served.url) as anonymous:
        denied = show_webhook.sync_detailed(WS, hook.id, client=anonymous)
        assert denied.status_code == 401 and isinstance(denied.parsed, models.ErrorBody)
        assert "API key" in denied.parsed.error.message


async def test_without_temporal_the_routes_that_start_workflows_answer_the_503_they_declare(
    store: Store, settings: Settings
) -> None:
    """The API's Temporal client connects on first use (the API serves while Temporal is down):
    one that cannot connect makes a route that starts a workflow answer 503, not 500."""
    unreachable = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    app = create_app(settings, store=store, temporal=unreachable)
    key = (await create_key(store, WS, "openapi")).key
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api.test",
            headers={"authorization": f"Bearer {key}"},
        ) as http,
    ):
        body = {"name": "CRM", "event_type": "tag.applied", "url": "https://crm.example/hook"}
        hook = (await http.post(f"/workspaces/{WS}/webhooks", json=body)).json()
        starts = [
            ("/events", sample_event("tag.applied", workspace_id=WS)),
            (f"/workspaces/{WS}/webhooks/{hook['id']}/test", None),
        ]
        for path, sent in starts:
            response = await http.post(path, json=sent)
            assert response.status_code == 503, response.text
            refused = ErrorBody.model_validate(response.json())
            assert refused.error.message.startswith("Temporal cannot be reached") and refused.error.field is None
        # The console says it as a notice on the page the button was on, not with a 500.
        await http.post("/console/sign-in", data={"key": key})
        on_page = f"http://api.test/console/w/{WS}/webhooks/{hook['id']}"
        response = await http.post(
            f"/console/w/{WS}/webhooks/{hook['id']}/test", headers={"origin": "http://api.test", "referer": on_page}
        )
        assert response.status_code == 303 and response.headers["location"] == on_page
        assert unquote(response.cookies[FLASH_COOKIE]).startswith("Not done: Temporal cannot be reached")


async def test_a_body_that_cannot_be_decoded_is_refused_as_the_422_declared(acme_http: httpx.AsyncClient) -> None:
    """FastAPI answers a body it cannot decode (not UTF-8) with a 400 the document does not declare:
    the API refuses it as every body that is not JSON, naming no field."""
    response = await acme_http.post(
        "/workspaces/ws_acme/folders", content=b'{"name": "\xff"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    refused = ErrorBody.model_validate(response.json())
    assert refused.error.message.startswith("Invalid JSON: ") and "utf-8" in refused.error.message
    assert refused.error.field is None
