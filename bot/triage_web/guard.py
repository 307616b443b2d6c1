"""Limits on guessing: failed sign-ins per address and reference lookups per session, in
a sliding window (in memory; one triage process)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Deque, Dict


class Attempts:
    """At most ``limit`` attempts per key in any ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._seen: Dict[str, Deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> Deque[float]:
        seen, now = self._seen[key], time.monotonic()
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if not seen:
            self._seen.pop(key, None)
        return seen

    def exhausted(self, key: str) -> bool:
        return len(self._recent(key)) >= self.limit

    def add(self, key: str) -> None:
        self._recent(key)
        self._seen[key].append(time.monotonic())
