"""The PUK outbox's retry schedule (unit tests: no card, no network)."""

from __future__ import annotations

import math

import pytest

from cardagent.orders import backoff_delay, is_rejection


@pytest.mark.parametrize("attempts", [1, 2, 3, 10, 60, 61, 1000, 1025, 10**6, 10**18])
@pytest.mark.parametrize("rand", [0.0, 0.5, 1.0])
def test_backoff_is_finite_and_capped_at_any_attempt_count(attempts: int, rand: float) -> None:
    delay = backoff_delay(attempts, 1.0, 300.0, rand=lambda: rand)
    assert math.isfinite(delay)
    assert 0 < delay <= 300.0


def test_backoff_doubles_then_caps() -> None:
    fixed = [backoff_delay(n, 1.0, 300.0, rand=lambda: 1.0) for n in range(1, 12)]
    assert fixed[:9] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]
    assert fixed[9:] == [300.0, 300.0]
    # jitter: between half and all of the capped exponential, never less
    assert backoff_delay(1000, 1.0, 300.0, rand=lambda: 0.0) == 150.0
    assert backoff_delay(10**6, 1.0, 300.0, rand=lambda: 1.0) == 300.0


def test_backoff_spreads_retries() -> None:
    delays = {backoff_delay(20, 1.0, 300.0) for _ in range(50)}
    assert len(delays) > 40 and all(150.0 <= d <= 300.0 for d in delays)


@pytest.mark.parametrize("attempts", [0, -1, -(10**6)])
def test_backoff_odd_counts_and_settings(attempts: int) -> None:
    assert 0 < backoff_delay(attempts, 1.0, 300.0) <= 1.0
    assert math.isfinite(backoff_delay(10**6, 1e300, 1e308))
    assert 0 < backoff_delay(5, 0.0, 0.0) < 1.0  # nonsense settings still give a short wait


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (422, True),
        (499, True),
        (408, False),
        (409, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
        (200, False),
        (201, False),
    ],
)
def test_which_answers_are_terminal(status: int, terminal: bool) -> None:
    assert is_rejection(status) is terminal
