"""DateTime Based Triggers' pure rules: offsets, times of day, values, zones, DST."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from models.datetime_trigger import (
    Offset,
    check_datetime_filter,
    fire_time,
    parse_offset,
    parse_time_of_day,
    watched_value,
    zone,
)
from models.tables import WebhookCreate

HCM = zone("Asia/Ho_Chi_Minh")
NY = zone("America/New_York")


@pytest.mark.parametrize(
    ("text", "offset"),
    [("-1d", Offset(-1, "d")), ("+2h", Offset(2, "h")), ("30m", Offset(30, "m")), ("0", Offset(0, "m")),
     ("-365d", Offset(-365, "d"))],
)  # fmt: skip
def test_parse_offset(text: str, offset: Offset) -> None:
    assert parse_offset(text) == offset


@pytest.mark.parametrize(
    ("text", "message"),
    [("1w", "expected a signed amount and a unit"), ("-1 day", "expected"), ("", "expected"),
     ("366d", "out of range"), ("-9000h", "out of range")],
)  # fmt: skip
def test_a_bad_offset_is_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_offset(text)


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ({"offset": "-1d"}, "needs field="),
        ({"field": "appointment_at"}, "needs offset="),
        ({"field": "a", "offset": "-1w"}, "unit"),
        ({"field": "a", "offset": "-2h", "time_of_day": "09:00"}, "time_of_day goes with an offset in days"),
        ({"field": "a", "offset": "-1d", "time_of_day": "9am"}, "HH:MM"),
        ({"field": "a", "offset": "-1d", "time_of_day": "24:00"}, "HH:MM"),
    ],
)
def test_datetime_settings_are_checked_at_creation(filter_: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_datetime_filter(filter_)
    with pytest.raises(ValidationError, match=message):
        WebhookCreate(name="n", event_type="datetime.reached", url="https://x.io", filter=filter_)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "offset", "time_of_day", "tz", "expected"),
    [
        # 1 day before a datetime field, at 09:00 in Ho Chi Minh City (UTC+7)
        ("2026-12-01T15:00:00+07:00", "-1d", "09:00", HCM, "2026-11-30T02:00:00"),
        # a value without a zone is read in the contact's zone
        ("2026-12-01T15:00:00", "0", None, HCM, "2026-12-01T08:00:00"),
        ("2026-12-01T15:00:00Z", "+2h", None, HCM, "2026-12-01T17:00:00"),
        ("2026-12-01T15:00:00+07:00", "-30m", None, HCM, "2026-12-01T07:30:00"),
        # a date alone stands for its midnight
        ("2026-12-01", "-1d", "09:00", HCM, "2026-11-30T02:00:00"),
        ("2026-12-01", "0", None, HCM, "2026-11-30T17:00:00"),
        ("2026-12-01", "+2h", None, HCM, "2026-11-30T19:00:00"),
        # days keep the wall clock across DST (New York springs forward on 2026-03-08)
        ("2026-03-09T09:00:00", "-1d", None, NY, "2026-03-08T13:00:00"),
        ("2026-03-07T09:00:00", "+1d", None, NY, "2026-03-08T13:00:00"),
        # hours are exact durations across it
        ("2026-03-08T01:00:00", "+2h", None, NY, "2026-03-08T08:00:00"),
        # a wall time in the gap fires as far after it: 02:30 -> 03:30 EDT
        ("2026-03-08T02:30:00", "0", None, NY, "2026-03-08T07:30:00"),
        ("2026-03-09", "-1d", "02:30", NY, "2026-03-08T07:30:00"),
        # a repeated wall time (falls back on 2026-11-01) fires at its first occurrence (EDT)
        ("2026-11-01T01:30:00", "0", None, NY, "2026-11-01T05:30:00"),
        ("2026-11-02", "-1d", "01:30", NY, "2026-11-01T05:30:00"),
    ],
)
def test_fire_time(value: str, offset: str, time_of_day: str | None, tz: Any, expected: str) -> None:
    tod = parse_time_of_day(time_of_day) if time_of_day else None
    assert fire_time(value, parse_offset(offset), tod, tz) == at(expected)


@pytest.mark.parametrize("value", ["soon", "2026-13-01", 42, None, "01/12/2026"])
def test_an_unreadable_value_is_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        fire_time(value, parse_offset("0"), None, HCM)


def test_an_unknown_or_missing_zone_is_utc() -> None:
    assert zone("Mars/Olympus") == zone(None) == zone("UTC")


def test_which_events_speak_of_the_field() -> None:
    fields = {"appointment_at": "2026-12-01"}
    assert watched_value(
        "custom_field.changed", {"field": "appointment_at", "new_value": "x"}, {}, "appointment_at"
    ) == (
        True,
        "x",
    )
    assert watched_value(
        "custom_field.changed", {"field": "appointment_at", "new_value": None}, fields, "appointment_at"
    ) == (
        True,
        None,
    )
    assert watched_value("contact.created", {}, fields, "appointment_at") == (True, "2026-12-01")
    assert watched_value("tag.applied", {"tag": "x"}, {}, "appointment_at") == (False, None)
