"""The `webhooks` command as a user runs it: a real process, the real store, the real server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from core.config import Settings
from devstack.receiver import Receiver
from models.samples import sample_event

WEBHOOKS = str(Path(sys.executable).parent / "webhooks")


async def webhooks(*args: str, env: dict[str, str], stdin: bytes = b"", expect: int = 0) -> tuple[str, str]:
    process = await asyncio.create_subprocess_exec(
        WEBHOOKS,
        *args,
        env=os.environ | env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    assert process.returncode == expect, f"exit {process.returncode}: {err.decode()}"
    return out.decode(), err.decode()


@pytest.fixture
def cli_env(client: Client, settings: Settings) -> dict[str, str]:
    return {
        "WEBHOOKS_DATABASE_URL": settings.database_url,
        "WEBHOOKS_TASK_QUEUE": settings.task_queue,
        "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
    }


async def create_hook(env: dict[str, str], url: str, *extra: str) -> dict[str, Any]:
    out, _ = await webhooks(
        "hook", "create", "-w", "ws_acme", "--name", "Sheets", "--event", "tag.applied",
        "--url", url, *extra, "--json", env=env,
    )  # fmt: skip
    created: dict[str, Any] = json.loads(out)
    return created


@pytest.mark.usefixtures("worker")
async def test_send_prints_the_workflow_and_its_result(cli_env: dict[str, str], receiver: Receiver) -> None:
    hook = await create_hook(cli_env, receiver.url("/sheets"), "--filter", "tag=Order Closed")
    assert hook["secret"].startswith("whsec_") and hook["enabled"] and hook["disabled_reason"] is None

    event_id = f"evt_{uuid.uuid4().hex[:8]}"  # the server outlives the test: an id of its own
    event = sample_event("tag.applied", event_id=event_id)
    out, _ = await webhooks("send", "-", "--wait", "--json", env=cli_env, stdin=json.dumps(event).encode())

    shown = json.loads(out)
    assert shown["workflow_id"] == f"event-ws_acme-{event_id}"
    assert shown["ui_url"].endswith(f"/namespaces/default/workflows/event-ws_acme-{event_id}")
    assert shown["result"]["delivered"] == 1
    assert shown["result"]["deliveries"][0]["webhook_id"] == hook["id"]
    assert len(receiver.at("/sheets")) == 1


async def test_send_refuses_a_malformed_event_naming_the_field(cli_env: dict[str, str], tmp_path: Path) -> None:
    event = sample_event("sequence.subscribed")
    del event["data"]["sequence_id"]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))

    out, err = await webhooks("send", str(path), env=cli_env, expect=2)

    assert out == ""
    assert "data.sequence_id: field required" in err


async def test_hook_create_refuses_a_loopback_url_unless_allowed(cli_env: dict[str, str]) -> None:
    guarded = cli_env | {"WEBHOOKS_ALLOW_PRIVATE_URLS": "false"}
    _, err = await webhooks(
        "hook", "create", "-w", "ws_acme", "--name", "x", "--event", "tag.applied",
        "--url", "http://127.0.0.1:9/x", env=guarded, expect=2,
    )  # fmt: skip
    assert "url: 127.0.0.1 resolves to a non-public address" in err
    _, err = await webhooks(
        "hook", "create", "-w", "ws_acme", "--name", "x", "--event", "contact.archived",
        "--filter", "tag=VIP", "--url", "https://example.com/x", env=guarded, expect=2,
    )  # fmt: skip
    assert "filter 'tag' does not fit contact.archived" in err


async def test_hooks_and_folders_round_trip(cli_env: dict[str, str]) -> None:
    out, _ = await webhooks("folder", "create", "-w", "ws_acme", "--name", "CRM", "--json", env=cli_env)
    folder = json.loads(out)
    hook = await create_hook(cli_env, "https://crm.example/in", "--folder", folder["id"])
    assert hook["folder_id"] == folder["id"]

    out, _ = await webhooks("folder", "list", "-w", "ws_acme", "--json", env=cli_env)
    assert [f["name"] for f in json.loads(out)] == ["CRM"]

    out, _ = await webhooks("hook", "disable", hook["id"], "--reason", "CRM migration", "--json", env=cli_env)
    assert json.loads(out)["enabled"] is False and json.loads(out)["disabled_reason"] == "CRM migration"
    out, _ = await webhooks("hook", "list", "-w", "ws_acme", "--disabled", "--json", env=cli_env)
    assert [h["id"] for h in json.loads(out)] == [hook["id"]]
    assert "secret" not in json.loads(out)[0]

    out, _ = await webhooks("hook", "enable", hook["id"], "--json", env=cli_env)
    assert json.loads(out)["enabled"] is True and json.loads(out)["disabled_reason"] is None

    out, _ = await webhooks("hook", "show", hook["id"], "--secret", "--json", env=cli_env)
    assert json.loads(out)["secret"] == hook["secret"]

    await webhooks("hook", "delete", hook["id"], env=cli_env)
    _, err = await webhooks("hook", "show", hook["id"], env=cli_env, expect=2)
    assert f"no webhook {hook['id']}" in err

    _, err = await webhooks(
        "hook", "create", "-w", "ws_acme", "--name", "x", "--event", "tag.applied",
        "--url", "https://x.example", "--folder", "fld_missing", env=cli_env, expect=2,
    )  # fmt: skip
    assert "no folder fld_missing" in err
