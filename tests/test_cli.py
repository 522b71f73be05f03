"""The `webhooks` command as a user runs it: a real process, the real store, the real server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from temporalio.client import Client
from typer.testing import CliRunner

from cli.main import app
from core.config import Settings
from devstack.receiver import Receiver
from models.samples import sample_event
from models.tables import Delivery, DeliveryStatus, utcnow
from store.queries import Store

WEBHOOKS = str(Path(sys.executable).parent / "webhooks")

# The command line is a thin face over the services that test_api.py runs on both stores: it runs
# on SQLite alone.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def webhooks(
    *args: str, env: dict[str, str], stdin: bytes = b"", expect: int = 0, process: bool = False
) -> tuple[str, str]:
    """Run the command: in this process by default (a process costs a second and a half of
    imports), in a process of its own with `process=True`, as a user's shell would."""
    if not process:
        # In a thread: the command runs its own event loop, as it does from a shell.
        result = await asyncio.to_thread(CliRunner().invoke, app, list(args), input=stdin, env=env)
        assert result.exit_code == expect, f"exit {result.exit_code}: {result.stderr}{result.exception!r}"
        return result.stdout, result.stderr
    process_ = await asyncio.create_subprocess_exec(
        WEBHOOKS,
        *args,
        env=os.environ | env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process_.communicate(stdin)
    assert process_.returncode == expect, f"exit {process_.returncode}: {err.decode()}"
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
    stdin = json.dumps(event).encode()
    out, _ = await webhooks("send", "-", "--wait", "--json", env=cli_env, stdin=stdin, process=True)

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

    out, err = await webhooks("send", str(path), env=cli_env, expect=2, process=True)

    assert out == ""
    assert "data.sequence_id: field required" in err


async def test_send_of_a_file_that_is_not_there_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    out, err = await webhooks("send", str(tmp_path / "missing.json"), env=cli_env, expect=2, process=True)
    assert out == "" and err.strip() == f"error: cannot read {tmp_path / 'missing.json'}: No such file or directory"


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


@pytest.mark.usefixtures("worker")
async def test_update_rotate_test_and_read_the_delivery_log(cli_env: dict[str, str], receiver: Receiver) -> None:
    hook = await create_hook(cli_env, receiver.url("/first"))
    out, _ = await webhooks(
        "hook", "update", hook["id"], "--url", receiver.url("/second"), "--filter", "tag=VIP",
        "--header", "X-Api-Key=k1", "--json", env=cli_env,
    )  # fmt: skip
    changed = json.loads(out)
    assert (changed["url"], changed["filter"], changed["headers"]) == (
        receiver.url("/second"),
        {"tag": "VIP"},
        {"X-Api-Key": "k1"},
    )

    out, _ = await webhooks("hook", "rotate-secret", hook["id"], "--overlap-hours", "2", "--json", env=cli_env)
    rotated = json.loads(out)
    assert rotated["secret"] != hook["secret"] and rotated["previous_secret_expires_at"]

    out, _ = await webhooks("hook", "test", hook["id"], "--wait", "--json", env=cli_env)
    tested = json.loads(out)
    assert tested["result"]["delivered"] == 1
    [request] = receiver.at("/second")
    assert request.headers["x-api-key"] == "k1"
    body = Verifier(rotated["secret"]).verify(request.body, request.headers)
    assert body["data"]["test"] is True and body["data"]["event"]["tag"] == "VIP"
    Verifier(hook["secret"]).verify(request.body, request.headers)  # the old secret, during the overlap

    out, _ = await webhooks("deliveries", "list", hook["id"], "--json", env=cli_env)
    [delivery] = json.loads(out)
    assert (delivery["status"], delivery["is_test"], delivery["id"]) == (
        "delivered",
        True,
        request.headers["webhook-id"],
    )
    out, _ = await webhooks("deliveries", "show", delivery["id"], "-w", "ws_acme", "--json", env=cli_env)
    assert json.loads(out)["workflow_url"].endswith(tested["workflow_id"])


@pytest.mark.usefixtures("worker")
async def test_a_test_send_to_a_turned_off_webhook_says_at_once_it_is_not_sent(
    cli_env: dict[str, str], receiver: Receiver
) -> None:
    hook = await create_hook(cli_env, receiver.url("/off"))
    await webhooks("hook", "disable", hook["id"], env=cli_env)
    out, _ = await webhooks("hook", "test", hook["id"], "--wait", env=cli_env)
    lines = out.splitlines()
    assert (
        lines[2]
        == "note      the webhook is off: the test event is not sent, only recorded as skipped; turn it on to send one"
    )
    assert "0 delivered, 1 skipped" in out and receiver.at("/off") == []


async def test_redeliver_of_a_workflow_that_is_not_there_says_so_without_asking(cli_env: dict[str, str]) -> None:
    out, err = await webhooks("redeliver", "event-ws_acme-nope", env=cli_env, expect=2)
    assert out == "" and err == (
        "error: workflow_id: no event workflow event-ws_acme-nope: Temporal does not know it, "
        "and no event of it is stored\n"
    )


async def test_keys_and_folders_from_the_command_line(cli_env: dict[str, str]) -> None:
    out, _ = await webhooks("key", "create", "--name", "platform", "-w", "ws_acme", "--json", env=cli_env)
    key = json.loads(out)
    assert key["key"].startswith("wk_") and key["workspace_id"] == "ws_acme"
    out, _ = await webhooks("key", "list", "--json", env=cli_env)
    listed = json.loads(out)
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]
    out, _ = await webhooks("key", "revoke", key["id"], "--json", env=cli_env)
    assert json.loads(out)["revoked_at"]
    _, err = await webhooks("key", "create", "--name", "x", "--admin", "-w", "ws_acme", env=cli_env, expect=2)
    assert "either --workspace WS or --admin" in err

    out, _ = await webhooks("folder", "create", "-w", "ws_acme", "--name", "CRM", "--json", env=cli_env)
    folder = json.loads(out)
    out, _ = await webhooks(
        "folder", "rename", "-w", "ws_acme", folder["id"], "--name", "Sales CRM", "--json", env=cli_env
    )
    assert json.loads(out)["name"] == "Sales CRM"
    await create_hook(cli_env, "https://crm.example/in", "--folder", folder["id"])
    _, err = await webhooks("folder", "delete", "-w", "ws_acme", folder["id"], env=cli_env, expect=2)
    assert "holds 1 webhook(s)" in err
    out, _ = await webhooks(
        "folder", "delete", "-w", "ws_acme", folder["id"], "--move-webhooks-out", "--json", env=cli_env
    )
    assert json.loads(out)["webhooks_moved_out"] == 1


@pytest.mark.usefixtures("worker")
async def test_timers_list_shows_pending_datetime_timers(cli_env: dict[str, str], receiver: Receiver) -> None:
    out, _ = await webhooks(
        "hook", "create", "-w", "ws_acme", "--name", "Reminder", "--event", "datetime.reached",
        "--filter", "field=appointment_at", "--filter", "offset=-1d", "--filter", "time_of_day=09:00",
        "--url", receiver.url("/reminder"), "--json", env=cli_env,
    )  # fmt: skip
    hook = json.loads(out)
    contact = f"c_{uuid.uuid4().hex[:8]}"
    event = sample_event("contact.created", event_id=f"evt_{uuid.uuid4().hex[:8]}", contact_id=contact)
    event["contact"]["custom_fields"] = {"appointment_at": "2099-06-15T15:00:00+07:00"}
    event["contact"]["timezone"] = "Asia/Ho_Chi_Minh"
    await webhooks("send", "-", "--wait", env=cli_env, stdin=json.dumps(event).encode())

    listed: list[dict[str, Any]] = []
    for _ in range(50):  # visibility catches up within moments
        out, _ = await webhooks("timers", "list", "--webhook", hook["id"], "--json", env=cli_env)
        listed = json.loads(out)
        if listed and listed[0]["fire_at"]:
            break
        await asyncio.sleep(0.2)
    assert [(t["contact_id"], t["fire_at"]) for t in listed] == [(contact, "2099-06-14T02:00:00+00:00")]


# --- receivers: presets, templates, credentials, preview -------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_a_webhook_from_a_preset_with_credentials_from_the_environment_is_shown_masked(
    cli_env: dict[str, str], receiver: Receiver
) -> None:
    from devstack.services import ServiceEmulator, stand_in_url

    receiver.services = ServiceEmulator()
    secret_env = cli_env | {"WEBHOOKS_AUTH_SECRET": "demo-zendesk-token"}
    out, _ = await webhooks(
        "hook", "create", "-w", "ws_acme", "--name", "Handoff", "--event", "conversation.transferred",
        "--filter", "to=human", "--preset", "zendesk", "--set", "subdomain=demo",
        "--url", stand_in_url(receiver.url(""), "zendesk"), "--auth", "basic", "--auth-user", "agent@example.com/token",
        "--json", env=secret_env,
    )  # fmt: skip
    created = json.loads(out)
    assert created["preset"] == "zendesk" and created["body_format"] == "json"
    human, _ = await webhooks(
        "hook", "create", "-w", "ws_acme", "--name", "Bearer", "--event", "tag.applied", "--url", receiver.url("/b"),
        "--auth", "bearer", env=secret_env,
    )  # fmt: skip
    assert "whsec_" in human and "demo-zendesk-token" not in human  # the signing secret, not the credentials
    assert created["auth"]["password"] == "********" and "demo-zendesk-token" not in out

    shown, _ = await webhooks("hook", "show", created["id"], env=cli_env)
    assert "auth       basic (credentials kept encrypted, not shown)" in shown
    assert "demo-zendesk-token" not in shown and "agent@example.com" not in shown

    revealed, _ = await webhooks("hook", "show", created["id"], "--secret", "--json", env=cli_env)
    assert json.loads(revealed)["auth"]["password"] == "demo-zendesk-token"  # asked for

    preview, _ = await webhooks("hook", "preview", created["id"], env=cli_env)
    assert "authorization: Basic ********" in preview and '"ticket"' in preview

    out, _ = await webhooks("hook", "test", created["id"], "--wait", env=cli_env)
    assert "answer    HTTP 201" in out  # the stand-in made the ticket
    assert len(receiver.services.created["zendesk"]) == 1


async def test_a_template_file_is_checked_and_a_bad_one_named_in_one_line(
    cli_env: dict[str, str], receiver: Receiver, tmp_path: Path
) -> None:
    good = tmp_path / "slack.json"
    good.write_text('{"text": "{{ contact.name }} was tagged {{ event.tag }}"}')
    created = await create_hook(cli_env, receiver.url("/slack"), "--body-format", "json", "--template", str(good))
    preview, _ = await webhooks("hook", "preview", created["id"], "--json", env=cli_env)
    assert json.loads(json.loads(preview)["body"]) == {"text": "Jane Doe was tagged Order Closed"}

    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "text": "{{ contact.name | shout }}"\n}')
    _, err = await webhooks(
        "hook", "update", created["id"], "--template", str(bad), env=cli_env, expect=2, process=True
    )
    assert err.count("body_template") == 1 and "line 2" in err and "shout" in err and "Traceback" not in err
    _, err = await webhooks(
        "hook", "update", created["id"], "--template", str(tmp_path / "missing.json"), env=cli_env, expect=2
    )
    assert "missing.json" in err
    _, err = await webhooks("hook", "update", created["id"], "--auth", "basic", env=cli_env, expect=2)
    assert "--auth-user" in err


async def test_the_presets_are_listed(cli_env: dict[str, str]) -> None:
    out, _ = await webhooks("hook", "presets", "--json", env=cli_env)
    listed = {p["key"]: p for p in json.loads(out)}
    assert set(listed) == {
        "google_sheets", "zendesk", "freshdesk", "hubspot", "salesforce", "mailchimp", "slack", "discord"
    }  # fmt: skip
    assert listed["mailchimp"]["fields"] == ["dc", "list_id"]


# --- pacing ---------------------------------------------------------------------------------------


async def hold_back(store: Store, webhook_id: str, count: int, reason: str) -> None:
    """`count` deliveries to the webhook held back (throttled), straight into the ledger."""
    until = utcnow() + timedelta(minutes=1)
    async with store.session() as session:
        for _ in range(count):
            event = f"evt_{uuid.uuid4().hex[:10]}"
            row = Delivery(
                id=f"msg_{uuid.uuid4().hex[:20]}", workspace_id="ws_acme", event_id=event, webhook_id=webhook_id,
                event_type="tag.applied", workflow_id=f"event-ws_acme-{event}", status=DeliveryStatus.THROTTLED,
                held_reason=reason, next_attempt_at=until,
            )  # fmt: skip
            session.add(row)
        await session.commit()


def pacing_of(hook: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(hook[f] for f in ("max_per_second", "burst", "max_in_flight", "ordered", "ordered_on_failure"))


async def test_pacing_is_set_shown_changed_and_removed_from_the_command_line(
    cli_env: dict[str, str], store: Store
) -> None:
    hook = await create_hook(
        cli_env, "https://crm.example/in", "--max-per-second", "20", "--burst", "5", "--max-in-flight", "3",
        "--ordered", "--ordered-on-failure", "hold",
    )  # fmt: skip
    assert pacing_of(hook) == (20, 5, 3, True, "hold")
    shown, _ = await webhooks("hook", "show", hook["id"], env=cli_env)
    assert "  pacing     at most 20 a second (bursts of 5), at most 3 at once\n" in shown
    ordered = "one at a time per contact, in order; when one gives up: hold the next until it is redelivered"
    assert f"  ordered    {ordered}\n" in shown
    assert "  waiting    0 deliveries held back (status throttled)\n" in shown

    await hold_back(store, hook["id"], 2, "over max_per_second 20, burst 5")
    shown, _ = await webhooks("hook", "show", hook["id"], env=cli_env)
    assert "  waiting    2 deliveries held back (status throttled)\n" in shown
    out, _ = await webhooks("hook", "show", hook["id"], "--json", env=cli_env)
    assert json.loads(out)["waiting"] == 2
    listed, _ = await webhooks("hook", "list", "-w", "ws_acme", env=cli_env)
    header, row = listed.splitlines()
    assert header.split() == ["ID", "NAME", "TRIGGER", "STATE", "PACING", "WAITING", "URL"]
    assert "  20/s burst 5, 3 at once, ordered (hold)  2  " in row
    out, _ = await webhooks("hook", "list", "-w", "ws_acme", "--json", env=cli_env)
    assert [(h["id"], h["waiting"]) for h in json.loads(out)] == [(hook["id"], 2)]

    out, _ = await webhooks("deliveries", "list", hook["id"], "--status", "throttled", env=cli_env)
    assert out.splitlines()[0].endswith("LAST ERROR / HELD BACK")
    assert [line.split()[2] for line in out.splitlines()[1:]] == ["throttled", "throttled"]
    assert re.search(r"held until \d\d:\d\d:\d\d UTC: over max_per_second 20, burst 5$", out.splitlines()[1])
    out, _ = await webhooks("deliveries", "list", hook["id"], "--status", "throttled", "--json", env=cli_env)
    assert {(d["status"], d["held_reason"]) for d in json.loads(out)} == {
        ("throttled", "over max_per_second 20, burst 5")
    }

    async def update(*args: str) -> tuple[Any, ...]:
        out, _ = await webhooks("hook", "update", hook["id"], *args, "--json", env=cli_env)
        return pacing_of(json.loads(out))

    assert await update("--max-per-second", "0.5", "--burst", "2") == (0.5, 2, 3, True, "hold")
    assert await update("--ordered-on-failure", "release", "--name", "CRM v2") == (0.5, 2, 3, True, "release")
    assert await update("--no-rate-limit") == (None, None, 3, True, "release")
    assert await update("--no-max-in-flight", "--unordered") == (None, None, None, False, "release")
    shown, _ = await webhooks("hook", "show", hook["id"], env=cli_env)
    assert "pacing" not in shown and "ordered" not in shown
    assert "  waiting    2 deliveries held back" in shown  # still held, though the limits are gone


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("update", "--burst", "3"), "burst: only with max_per_second: set a rate"),
        (("update", "--max-per-second", "0"), "max_per_second: Input should be greater than or equal to 0.001"),
        (("update", "--max-per-second", "1e6"), "max_per_second: Input should be less than or equal to 1000"),
        (("update", "--max-per-second", "nan"), "max_per_second: must be a number from 0.001 to 1000"),
        (("update", "--max-per-second", "5", "--burst", "0"), "burst: Input should be greater than or equal to 1"),
        (("update", "--max-in-flight", "0"), "max_in_flight: Input should be greater than or equal to 1"),
        (("update", "--max-in-flight", "1001"), "max_in_flight: Input should be less than or equal to 1000"),
        (("update", "--no-rate-limit", "--max-per-second", "3"), "--no-rate-limit removes the rate and its burst"),
        (("update", "--no-max-in-flight", "--max-in-flight", "3"), "--no-max-in-flight removes the cap"),
        (("create", "--burst", "2"), "burst: only with max_per_second"),
        (("create", "--max-per-second", "-1"), "max_per_second: Input should be greater than or equal to 0.001"),
        (("create", "--max-in-flight", "0"), "max_in_flight: Input should be greater than or equal to 1"),
    ],
)
async def test_a_refused_pacing_flag_is_one_line_naming_the_field(
    cli_env: dict[str, str], store: Store, args: tuple[str, ...], message: str
) -> None:
    hook = await create_hook(cli_env, "https://crm.example/in", "--max-in-flight", "4")
    command, *flags = args
    target = [hook["id"]] if command == "update" else [
        "-w", "ws_acme", "--name", "Other", "--event", "tag.applied", "--url", "https://other.example/in"
    ]  # fmt: skip
    out, err = await webhooks("hook", command, *target, *flags, env=cli_env, expect=2)
    assert (out, err.count("\n")) == ("", 1) and err.startswith(f"error: {message}"), err
    [kept] = await store.list_webhooks("ws_acme")
    assert (kept.id, kept.max_per_second, kept.burst, kept.max_in_flight) == (hook["id"], None, None, 4)
