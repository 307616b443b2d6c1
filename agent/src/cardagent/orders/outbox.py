"""Delivery of placed PUK orders: the outbox worker and its retry schedule.

A worker thread POSTs each outbox row to the card administration's webhook with an
``Idempotency-Key`` header (the same key on every attempt, across restarts) and retries with
exponential backoff until it gets a 2xx (or 409, "already have it"). The receiver
deduplicates by the key, so an order the agent accepted reaches it exactly once. A 4xx answer
other than 408/429 is terminal: the order becomes ``rejected``.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable

import httpx

from cardagent.identifiers import mask_text
from cardagent.orders.store import OrderStore
from cardagent.settings import Settings

log = logging.getLogger("cardagent.puk")

# At most this many rows are sent per pass, oldest due first: a row that keeps failing (or a
# slow receiver) cannot hold the worker, and every row gets its turn.
OUTBOX_BATCH = 20
_MAX_EXPONENT = 60  # 2.0**60: far past any cap, still a finite float


def backoff_delay(
    attempts: int, initial_s: float, max_s: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt number ``attempts`` (1, 2, ...).

    ``min(initial * 2**(attempts-1), max)`` with "equal jitter" (half of it fixed, half random,
    so orders that failed together do not all retry together). The exponent is capped before
    it is computed, so any attempt count (10**6 too) gives a finite delay <= ``max_s``.
    """
    initial = max(float(initial_s), 0.001)
    cap = max(float(max_s), initial)
    exponent = min(max(int(attempts), 1) - 1, _MAX_EXPONENT)
    base = min(cap, initial * 2.0**exponent)
    return base / 2 + rand() * base / 2


def is_rejection(status_code: int) -> bool:
    """A 4xx answer means the order system will never take this order as sent: terminal.
    408 (timeout) and 429 (too many requests) are worth retrying; 409 means "already have it"."""
    return 400 <= status_code < 500 and status_code not in (408, 409, 429)


def _reason(response: httpx.Response) -> str:
    """A short, printable, masked reason from the order system's answer (for the log)."""
    try:
        body = response.json()
        text = str(body.get("error") or body.get("message") or "") if isinstance(body, dict) else ""
    except ValueError:
        text = response.text
    text = "".join(ch if ch.isprintable() else " " for ch in text)[:200].strip()
    return mask_text(text)


def _receiver_reference(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("reference") if isinstance(body, dict) else None


class OutboxWorker:
    """Delivers outbox rows; one thread per agent, woken on new orders, resumes on start.

    Retries use :func:`backoff_delay` (capped, jittered, never overflowing); a 4xx answer
    other than 408/429 is terminal: the order becomes ``rejected`` (``order_rejected`` in the
    API), is logged (masked) and is never sent again."""

    def __init__(self, settings: Settings, orders: OrderStore) -> None:
        self.settings = settings
        self.orders = orders
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="puk-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.deliver_due()
            except Exception:  # noqa: BLE001 - never let the worker die
                log.exception("outbox worker error")
                wait = 5.0
            self._wake.wait(timeout=wait)
            self._wake.clear()

    def _client(self) -> httpx.Client:
        o = self.settings.orders
        verify: ssl.SSLContext | bool = True
        if o.webhook_tls_ca:
            verify = ssl.create_default_context(cafile=o.webhook_tls_ca)
        return httpx.Client(verify=verify, timeout=o.timeout_s, follow_redirects=False)

    def deliver_due(self) -> float:
        """Send the due rows, oldest due first, at most ``OUTBOX_BATCH`` per pass; returns
        seconds until the next one is due."""
        o = self.settings.orders
        waiting = self.orders.pending_count()
        if not waiting:
            return 60.0
        if not o.webhook_url:
            log.warning("%d PUK order(s) waiting: no order webhook configured", waiting)
            return 60.0
        due = self.orders.due(time.time(), OUTBOX_BATCH)
        if due:
            with self._client() as client:
                for row in due:
                    if self._stop.is_set():
                        break
                    try:
                        self._attempt(client, row)
                    except Exception:  # noqa: BLE001 - one bad row must not stop the others
                        log.exception("outbox row %s: unexpected error", row["id"])
                        self._retry_later(row["id"], row["order_id"], row["attempts"] + 1, "error")
        nxt = self.orders.next_due()
        if len(due) >= OUTBOX_BATCH:
            return 0.05  # more may be due right now
        return 60.0 if nxt is None else max(0.05, min(60.0, nxt - time.time()))

    def _retry_later(self, row_id: int, order_id: str, attempts: int, error: str) -> float:
        o = self.settings.orders
        delay = backoff_delay(attempts, o.retry_initial_s, o.retry_max_s)
        self.orders.retry_at(row_id, error, time.time() + delay)
        log.warning("PUK order %s not delivered (%s); retry in %.1f s", order_id, error, delay)
        return delay

    def _attempt(self, client: httpx.Client, row: sqlite3.Row) -> None:
        o = self.settings.orders
        headers = {"Content-Type": "application/json", "Idempotency-Key": row["idempotency_key"]}
        if o.webhook_token:
            headers["Authorization"] = f"Bearer {o.webhook_token}"
        attempts = row["attempts"] + 1
        # Count the attempt before sending: a crash mid-request still backs off next time.
        self.orders.count_attempt(row["id"], attempts)
        try:
            r = client.post(o.webhook_url or "", content=row["payload"], headers=headers)
        except httpx.HTTPError as exc:
            self._retry_later(row["id"], row["order_id"], attempts, type(exc).__name__)
            return
        if 200 <= r.status_code < 300 or r.status_code == 409:
            self.orders.delivered(row["id"], row["order_id"], time.time(), _receiver_reference(r))
            log.info("PUK order %s delivered (attempt %d)", row["order_id"], attempts)
            return
        error = f"HTTP {r.status_code}"
        if not is_rejection(r.status_code):
            self._retry_later(row["id"], row["order_id"], attempts, error)
            return
        reason = _reason(r)
        error = f"{error}: {reason}" if reason else error
        self.orders.rejected(row["id"], row["order_id"], error)
        log.error(
            "PUK order %s rejected by the order system (%s); it will not be sent again",
            row["order_id"],
            error,
        )
