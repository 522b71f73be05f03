"""The pure rules of pacing (core.pacing): the rate's windows, the queue's turns, the cap."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core import pacing
from core.pacing import Admitted, Held, Limits, State

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def run(limits: Limits, arrivals: list[float]) -> list[float]:
    """Admit requests arriving at these offsets (s), each asking again at the earliest it is told
    (waiting in place), until admitted; the offsets at which they went."""
    state = State(next_slot=T0, queue_end=T0, in_flight=0)
    sent = []
    for offset in sorted(arrivals):
        now = T0 + timedelta(seconds=offset)
        while True:
            verdict = pacing.admit(limits, state, now, returning=True, take_turn=False)
            if isinstance(verdict, Admitted):
                state = State(next_slot=verdict.next_slot, queue_end=state.queue_end, in_flight=0)
                sent.append((now - T0).total_seconds())
                break
            assert verdict.until > now
            now = verdict.until
    return sent


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + 1 - 1e-9) for start in times)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.sampled_from([0.5, 1, 3, 10, 20, 100]),
    burst=st.integers(min_value=1, max_value=10),
    arrivals=st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200),
)
def test_no_second_sees_more_than_the_rate_plus_the_burst(rate: float, burst: int, arrivals: list[float]) -> None:
    sent = run(Limits(max_per_second=rate, burst=burst), arrivals)
    assert len(sent) == len(arrivals)
    assert busiest_second(sent) <= math.ceil(rate) + burst - 1


def test_a_burst_goes_at_once_then_the_rest_evenly_spaced() -> None:
    """The last of the burst 50 ms later (the send skew kept in hand), then one every 0.1 s."""
    sent = run(Limits(max_per_second=10, burst=4), [0.0] * 10)
    assert sent[:4] == [0.0, 0.0, 0.0, 0.05]
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(sent[3:])]
    assert gaps == [0.1] * 6


def test_the_default_burst_of_one_spaces_every_request() -> None:
    sent = run(Limits(max_per_second=4), [0.0] * 5)
    assert sent == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_an_idle_webhook_saves_up_no_more_than_its_burst() -> None:
    sent = run(Limits(max_per_second=10, burst=3), [0.0, 60.0, 60.0, 60.0, 60.0])
    assert sent[1:4] == [60.0, 60.0, 60.05] and round(sent[4] - 60.0, 6) == 0.15


def test_held_deliveries_get_turns_one_pace_apart_from_the_queues_end() -> None:
    limits = Limits(max_per_second=20, burst=1)
    state = State(next_slot=T0 + timedelta(seconds=1), queue_end=T0, in_flight=0)
    turns, reasons = [], set()
    for _ in range(5):
        held = pacing.admit(limits, state, T0, returning=False, take_turn=True)
        assert isinstance(held, Held) and held.queue_end == held.until
        turns.append((held.until - T0).total_seconds())
        reasons.add(held.reason)
        state = State(next_slot=state.next_slot, queue_end=held.until, in_flight=0)
    assert turns == [1.0, 1.05, 1.1, 1.15, 1.2]
    assert reasons == {"over max_per_second 20", "over max_per_second 20; behind deliveries held earlier"}


def test_a_newcomer_queues_behind_held_deliveries_and_a_returning_one_goes_at_its_turn() -> None:
    limits = Limits(max_per_second=10, burst=1)
    state = State(next_slot=T0, queue_end=T0 + timedelta(seconds=3), in_flight=0)
    newcomer = pacing.admit(limits, state, T0, returning=False, take_turn=True)
    assert isinstance(newcomer, Held) and newcomer.until == T0 + timedelta(seconds=3.1)
    assert "behind deliveries held earlier" in newcomer.reason
    assert isinstance(pacing.admit(limits, state, T0, returning=True, take_turn=True), Admitted)


def test_the_cap_holds_while_as_many_requests_are_open_and_spaces_turns_by_latency() -> None:
    limits = Limits(max_in_flight=3)
    busy = State(next_slot=T0, queue_end=T0, in_flight=3, latency=timedelta(milliseconds=600))
    held = pacing.admit(limits, busy, T0, returning=True, take_turn=True)
    assert isinstance(held, Held) and held.until == T0 + timedelta(milliseconds=200)
    assert "3 requests open" in held.reason
    free = State(next_slot=T0, queue_end=T0, in_flight=2)
    assert isinstance(pacing.admit(limits, free, T0, returning=True, take_turn=True), Admitted)


def test_waiting_in_place_takes_no_turn() -> None:
    state = State(next_slot=T0 + timedelta(seconds=1), queue_end=T0, in_flight=0)
    held = pacing.admit(Limits(max_per_second=1), state, T0, returning=True, take_turn=False)
    assert isinstance(held, Held) and held.queue_end is None and held.until == T0 + timedelta(seconds=1)


def test_a_pause_sends_held_deliveries_back_spread_after_it() -> None:
    until = T0 + timedelta(seconds=30)
    rng = random.Random(7)
    backs = [pacing.after_pause(until, T0, rng) for _ in range(200)]
    assert all(until <= b <= until + pacing.PAUSE_SPREAD for b in backs)
    assert max(backs) - min(backs) > timedelta(seconds=2)
    short = T0 + timedelta(seconds=2)
    assert all(short <= pacing.after_pause(short, T0, rng) <= short + timedelta(seconds=0.2) for _ in range(50))


def test_the_moving_latency_leans_on_the_past() -> None:
    assert pacing.moving_latency(None, timedelta(seconds=1)) == timedelta(seconds=1)
    assert pacing.moving_latency(timedelta(seconds=1), timedelta(seconds=2)) == timedelta(seconds=1.2)


def test_turns_follow_a_fast_rate_and_a_cap_spaces_them_by_at_least_20_ms() -> None:
    assert Limits(max_per_second=200).spacing(None) == timedelta(milliseconds=5)
    assert Limits(max_in_flight=100).spacing(timedelta(milliseconds=100)) == pacing.MIN_SPACING
    assert Limits(max_per_second=200, max_in_flight=2).spacing(timedelta(milliseconds=100)) == timedelta(
        milliseconds=50
    )
