"""DateTime Based Triggers, the pure part: reading a field's value, the offset, the time of day,
and the instant a timer fires, in the contact's time zone.

Offsets in days move the calendar day and keep the wall-clock time (one day before 09:00 is 09:00
the day before, across a DST change); offsets in minutes or hours are exact durations. A wall time
that does not exist (a spring-forward gap) fires as far after the gap as it was into it, 02:30
becoming 03:30; a wall time that happens twice (fall back) fires at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_OFFSET = timedelta(days=365)
_OFFSET = re.compile(r"^([+-]?)(\d{1,6})([mhd])$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Offset:
    amount: int
    """Negative: before the field's value; positive: after."""
    unit: str
    """m, h or d."""

    def __str__(self) -> str:
        return f"{self.amount:+d}{self.unit}" if self.amount else "0"


def parse_offset(text: str) -> Offset:
    """`-1d` (one day before), `+2h`, `30m` (after), `0` (at the moment)."""
    text = text.strip()
    if text in ("0", "+0", "-0"):
        return Offset(0, "m")
    match = _OFFSET.match(text)
    if not match:
        raise ValueError(f"offset {text!r}: expected a signed amount and a unit (m, h or d), e.g. -1d, +2h, 30m, 0")
    sign, amount, unit = match.groups()
    offset = Offset(-int(amount) if sign == "-" else int(amount), unit)
    if abs(timedelta(**{_UNITS[unit]: offset.amount})) > MAX_OFFSET:
        raise ValueError(f"offset {text!r} is out of range: at most 365 days either way")
    return offset


def parse_time_of_day(text: str) -> time:
    match = _TIME_OF_DAY.match(text.strip())
    if not match:
        raise ValueError(f"time_of_day {text!r}: expected HH:MM on a 24-hour clock, e.g. 09:00")
    return time(int(match[1]), int(match[2]))


def check_datetime_filter(filter_: dict[str, str]) -> None:
    """A `datetime.reached` webhook names the field, the offset and optionally a time of day."""
    if not filter_.get("field"):
        raise ValueError("a DateTime trigger needs field=<the custom field to watch>")
    if "offset" not in filter_:
        raise ValueError("a DateTime trigger needs offset=<-1d, +2h, 30m or 0>")
    offset = parse_offset(filter_["offset"])
    if "time_of_day" in filter_:
        parse_time_of_day(filter_["time_of_day"])
        if offset.unit != "d" and offset.amount != 0:
            raise ValueError("time_of_day goes with an offset in days (or 0): it sets the time on the resulting day")


def zone(name: str | None) -> ZoneInfo:
    """The contact's time zone, or UTC when it has none or an unknown one."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_value(value: Any, tz: ZoneInfo) -> datetime | date:
    """An ISO date, or an ISO datetime with or without a zone (without one, read in `tz`)."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date or a datetime")
    text = value.strip().replace("Z", "+00:00")
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def wall(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A local wall time as an instant, resolving gaps and overlaps as the module says."""
    local = datetime.combine(day, at, tzinfo=tz)  # fold=0: first occurrence of a repeated time
    # A time in a gap has no instant; the round trip through UTC moves it forward by the gap.
    return local.astimezone(UTC).astimezone(tz)


def fire_time(value: Any, offset: Offset, time_of_day: time | None, tz: ZoneInfo) -> datetime:
    """When a timer for this field value fires, in UTC. A date alone stands for its midnight."""
    base = parse_value(value, tz)
    moment = base.astimezone(tz) if isinstance(base, datetime) else wall(base, time(0, 0), tz)
    if offset.unit == "d":
        day = moment.date() + timedelta(days=offset.amount)
        return wall(day, time_of_day or moment.time(), tz).astimezone(UTC)
    moved = moment.astimezone(UTC) + timedelta(**{_UNITS[offset.unit]: offset.amount})
    if time_of_day is not None:  # only with a zero offset (check_datetime_filter)
        return wall(moved.astimezone(tz).date(), time_of_day, tz).astimezone(UTC)
    return moved


def watched_value(event_type: str, data: dict[str, Any], custom_fields: dict[str, Any], field: str) -> tuple[bool, Any]:
    """Whether an event speaks of `field`, and the value it brings (None or "" clear it): a
    `custom_field.changed` for it brings its new value; any other event brings the contact's."""
    if event_type == "custom_field.changed" and data.get("field") == field:
        return True, data.get("new_value")
    if field in custom_fields:
        return True, custom_fields[field]
    return False, None
