"""The pure pieces, directly and exhaustively: signing, the schedule, Retry-After, classifying an
answer, filters, the address check, event validation and webhook shape rules."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook as Verifier

from core.matching import filter_admits
from core.netguard import is_public_address
from core.outcome import Verdict, classify
from core.schedule import (
    DEFAULT_SCHEDULE,
    parse_duration,
    parse_retry_after,
    parse_schedule,
    retry_delay,
)
from core.signing import sign, signature_headers
from models import search_attributes as sa
from models.events import EVENT_TYPES, FILTER_KEYS, PLATFORM_EVENT_TYPES, InvalidEvent, parse_event
from models.payload import delivery_id_for
from models.samples import SAMPLE_DATA, sample_event
from models.tables import WebhookCreate, new_secret

# --- signing --------------------------------------------------------------------------------------


def test_a_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_secret()
    body = b'{"type":"tag.applied","data":{"x":"\xc3\xa9"}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signature_headers([secret], "msg_1", now, body)
    assert Verifier(secret).verify(body, headers) == {"type": "tag.applied", "data": {"x": "é"}}


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    now = int(datetime.now(UTC).timestamp())
    headers = signature_headers([new, old], "msg_1", now, b"{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    Verifier(old).verify(b"{}", headers)
    Verifier(new).verify(b"{}", headers)


def test_a_tampered_body_does_not_verify() -> None:
    secret = new_secret()
    now = int(datetime.now(UTC).timestamp())
    headers = signature_headers([secret], "msg_1", now, b'{"a":1}')
    with pytest.raises(Exception, match="signature"):
        Verifier(secret).verify(b'{"a":2}', headers)


def test_signature_matches_the_spec_example() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign([secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_new_secrets_have_the_contract_form() -> None:
    import base64

    secret = new_secret()
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 64


def test_delivery_id_is_stable_and_distinct() -> None:
    assert delivery_id_for("ws", "e1", "wh_1") == delivery_id_for("ws", "e1", "wh_1")
    assert delivery_id_for("ws", "e1", "wh_1") != delivery_id_for("ws", "e1", "wh_2")
    assert delivery_id_for("ws", "e1", "wh_1") != delivery_id_for("ws2", "e1", "wh_1")
    assert delivery_id_for("ws", "e1", "wh_1").startswith("msg_")


# --- the schedule ---------------------------------------------------------------------------------


def test_the_default_schedule_is_the_contracts() -> None:
    assert [d.total_seconds() for d in DEFAULT_SCHEDULE] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert 26 < sum(d.total_seconds() for d in DEFAULT_SCHEDULE) / 3600 < 28


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s,2s,5s", [1, 2, 5]), ("500ms, 5m ,2h,1d", [0.5, 300, 7200, 86400]), ("15", [15]), ("", [])],
)
def test_parse_schedule(text: str, seconds: list[float]) -> None:
    assert [d.total_seconds() for d in parse_schedule(text)] == seconds


@pytest.mark.parametrize("text", ["1x", "-1s", "s", "1s,,2s", "one"])
def test_a_bad_schedule_names_the_bad_part(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_schedule(text)


def test_retry_delays_follow_the_schedule_within_jitter_and_then_run_out() -> None:
    rng = random.Random(7)
    schedule = parse_schedule("10s,100s")
    for _ in range(200):
        assert 8 <= retry_delay(schedule, 1, rng).total_seconds() <= 12  # type: ignore[union-attr]
        assert 80 <= retry_delay(schedule, 2, rng).total_seconds() <= 120  # type: ignore[union-attr]
    assert retry_delay(schedule, 3, rng) is None
    spread = {round(retry_delay(schedule, 1, rng).total_seconds(), 3) for _ in range(50)}  # type: ignore[union-attr]
    assert len(spread) > 40, "jitter spreads retries"


def test_retry_after_in_seconds_or_as_a_date_is_bounded() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30") == timedelta(seconds=30)
    assert parse_retry_after("0") == timedelta(seconds=1)
    assert parse_retry_after("86400") == timedelta(hours=1)
    assert parse_retry_after("Wed, 25 Nov 2026 12:02:00 GMT", now) == timedelta(minutes=2)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_duration("2h") == timedelta(hours=2)


# --- classifying an answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "verdict", "retry_after"),
    [
        (200, Verdict.DELIVERED, False),
        (204, Verdict.DELIVERED, False),
        (299, Verdict.DELIVERED, False),
        (301, Verdict.RETRY, False),
        (302, Verdict.RETRY, False),
        (307, Verdict.RETRY, False),
        (400, Verdict.RETRY, False),
        (404, Verdict.RETRY, False),
        (410, Verdict.GONE, False),
        (429, Verdict.RETRY, True),
        (500, Verdict.RETRY, False),
        (503, Verdict.RETRY, True),
    ],
)
def test_classify(status: int, verdict: Verdict, retry_after: bool) -> None:
    judged = classify(status)
    assert (judged.verdict, judged.honours_retry_after) == (verdict, retry_after)
    assert str(status) in judged.detail


def test_a_redirect_says_where_it_pointed() -> None:
    assert "to https://x.example/new not followed" in classify(301, "https://x.example/new").detail


# --- filters --------------------------------------------------------------------------------------

FILTER_CASES = [(event_type, key) for event_type in PLATFORM_EVENT_TYPES for key in FILTER_KEYS.get(event_type, ())]


@pytest.mark.parametrize(("event_type", "key"), FILTER_CASES)
def test_each_filter_admits_its_value_only(event_type: str, key: str) -> None:
    data = SAMPLE_DATA[event_type]
    assert filter_admits({}, data)
    assert filter_admits({key: data[key]}, data)
    assert not filter_admits({key: data[key] + "x"}, data)
    assert not filter_admits({key: data[key]}, {k: v for k, v in data.items() if k != key})


def test_filters_are_exact() -> None:
    assert not filter_admits({"tag": "order closed"}, {"tag": "Order Closed"})


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_webhook_filters_must_fit_the_trigger(event_type: str) -> None:
    # A DateTime trigger always names its field and offset; the others narrow on one key at most.
    base = {"field": "appointment_at", "offset": "-1d"} if event_type == "datetime.reached" else {}
    for key in FILTER_KEYS.get(event_type, ()):
        value = {"offset": "-1d", "time_of_day": "09:00"}.get(key, "v")
        WebhookCreate(name="n", event_type=event_type, url="https://x.io", filter=base | {key: value})
    with pytest.raises(ValidationError, match="does not fit"):
        WebhookCreate(name="n", event_type=event_type, url="https://x.io", filter=base | {"nope": "v"})


# --- webhook shape rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"url": "ftp://x.io/a"}, "must start with http:// or https://"),
        ({"url": "https://user:pw@x.io/a"}, "must not carry credentials"),
        ({"url": "https:///a"}, "no host"),
        ({"url": "https://x.io/" + "a" * 2100}, "at most 2048 characters"),
        ({"url": "https://x.io:99999/"}, "invalid port"),
        ({"name": "   "}, "must not be empty"),
        ({"event_type": "tag.exploded"}, "unknown event type"),
        ({"event_type": "contact.archived", "filter": {"tag": "x"}}, "takes no filter"),
        ({"filter": {"tag": ""}}, "non-empty string"),
    ],
)
def test_webhook_shape_rules_name_the_problem(values: dict[str, Any], message: str) -> None:
    fields = {"name": "Sheets", "event_type": "tag.applied", "url": "https://x.io/h"}
    with pytest.raises(ValidationError, match=message):
        WebhookCreate(**(fields | values))


# --- addresses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("192.0.2.1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


# --- events ---------------------------------------------------------------------------------------


def test_the_catalog_has_fifteen_triggers() -> None:
    assert len(EVENT_TYPES) == 15 and len(PLATFORM_EVENT_TYPES) == 14


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_sample_is_valid_and_keeps_what_it_was_given(event_type: str) -> None:
    raw = sample_event(event_type)
    raw["contact"]["locale"] = "vi_VN"  # unknown fields pass through to receivers
    event = parse_event(raw)
    assert event.type == event_type
    assert event.model_dump(mode="json", exclude_unset=True)["contact"] == raw["contact"]


REQUIRED_DATA = [
    (event_type, key)
    for event_type in EVENT_TYPES
    for key in SAMPLE_DATA[event_type]
    if key not in {"old_value", "new_value", "agent_name", "sequence_name", "source", "entry_point_link_id"}
    and not (event_type in ("conversation.transferred", "conversation.unassigned") and key == "agent_id")
]


@pytest.mark.parametrize(("event_type", "key"), REQUIRED_DATA)
def test_a_missing_data_field_is_named(event_type: str, key: str) -> None:
    raw = sample_event(event_type)
    del raw["data"][key]
    with pytest.raises(InvalidEvent, match=rf"data\.{key}: field required"):
        parse_event(raw)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("type"), "type: field required"),
        (lambda e: e.update(type="nope"), "type: unknown event type 'nope'"),
        (lambda e: e.pop("workspace_id"), "workspace_id: field required"),
        (lambda e: e.update(event_id=""), "event_id: String should have at least 1 character"),
        (lambda e: e.update(event_id="a b"), "event_id: String should match pattern"),
        (
            lambda e: e.update(occurred_at="2026-11-24T10:00:00"),
            "occurred_at: Input should have timezone info",
        ),
        (lambda e: e["contact"].update(channel="Messenger"), "contact.channel: String should match pattern"),
        (lambda e: e["data"].update(to="robot"), "data.to: Input should be 'human' or 'bot'"),
    ],
)
def test_malformed_events_name_the_field(change: Any, message: str) -> None:
    raw = sample_event("conversation.transferred")
    change(raw)
    with pytest.raises(InvalidEvent, match=message):
        parse_event(raw)


def test_data_may_be_left_out_where_the_trigger_has_none() -> None:
    raw = sample_event("contact.archived")
    del raw["data"]
    assert parse_event(raw).type == "contact.archived"


def test_invalid_json_is_an_invalid_event() -> None:
    with pytest.raises(InvalidEvent, match="Invalid JSON"):
        parse_event(b'{"event_id": ')


def test_the_webhook_ids_that_fit_in_a_search_attribute() -> None:
    ids = [f"wh_{n:020d}" for n in range(200)]
    kept = sa.fitting(ids)
    assert kept == ids[: len(kept)]
    assert len(json.dumps(kept).encode()) <= sa.VALUE_LIMIT_BYTES < len(json.dumps(ids[: len(kept) + 1]).encode())
