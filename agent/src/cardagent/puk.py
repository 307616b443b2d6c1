"""PUK orders: at most one open order per card, delivered exactly once through an outbox.

* The card is identified from its certificates (public data, no PIN): card serial, HSA-id,
  name and organisation. No personnummer goes into the order.
* ``orders_one_open`` (unique partial index) makes a second open order for the same card
  impossible, whatever the concurrency; asking again returns the open order.
* A request (from the bot, the widget, anyone with the token) only *proposes* an order:
  status ``awaiting_confirmation``, nothing in the outbox. The person places it by clicking
  "Beställ" on the agent's own order page (``/orders/{id}``, see cardagent/pages/), which
  states the cost and the card; "Avbryt" there cancels it.
* On "Beställ" the order (``queued``) and its outbox row are written in one transaction.
  A worker thread POSTs the outbox row to the card administration's webhook with an
  ``Idempotency-Key`` header (the same key on every attempt, across restarts) and retries
  with exponential backoff until it gets a 2xx (or 409, "already have it"). The receiver
  deduplicates by the key, so an order the agent accepted reaches it exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import secrets
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from cryptography import x509
from cryptography.x509.oid import NameOID

from cardagent import __version__
from cardagent.assurance import FAMILY_EID, FAMILY_LEGACY
from cardagent.errors import AgentError
from cardagent.identifiers import recognise
from cardagent.pages.links import PageLinks
from cardagent.service import CardService, card_key_of
from cardagent.settings import Settings
from cardagent.store import Store

log = logging.getLogger("cardagent.puk")

STATUS_MESSAGES = {
    "awaiting_confirmation": (
        "Beställningen är inte gjord än. Öppna sidan för beställningen och klicka på Beställ "
        "där om du vill beställa en ny PUK-kod. {cost}"
    ),
    "queued": (
        "Din beställning av en ny PUK-kod är gjord (referens {ref}) och skickas till "
        "beställningssystemet. {cost} Med PUK-koden kan du sedan välja nya legitimerings- och "
        "signeringskoder."
    ),
    "queued_retrying": (
        "Din beställning (referens {ref}) är sparad, men beställningssystemet svarar inte just "
        "nu. Den skickas automatiskt så snart det går; du behöver inte beställa igen."
    ),
    "delivered": (
        "Din beställning av en ny PUK-kod (referens {ref}) är skickad till "
        "beställningssystemet. {cost} Med PUK-koden kan du sedan välja nya legitimerings- och "
        "signeringskoder."
    ),
    "cancelled": "Beställningen avbröts. Ingen PUK-kod har beställts.",
    "rejected": (
        "Beställningssystemet tog inte emot beställningen (referens {ref}), så ingen PUK-kod "
        "är beställd. Kontakta Servicecenter och uppge referensen."
    ),
}


class OrderRefused(AgentError):
    status = 409

    def __init__(self, code: str, message: str, status: int = 409, detail: str = "") -> None:
        super().__init__(detail)
        self.code = code
        self.message_sv = message
        self.status = status


class OrderNotFound(AgentError):
    code = "order_not_found"
    status = 404
    message_sv = "Det finns ingen sådan beställning."


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


class PukOrders:
    """Order proposals, the person's confirmation on the order page, and their status.

    ``create`` only proposes (``awaiting_confirmation``, no outbox row, nothing sent); the
    order is placed - status ``queued`` and its outbox row, in one transaction - only by
    :meth:`confirm`, which only the order page calls after the person clicked "Beställ".
    """

    def __init__(self, settings: Settings, service: CardService, store: Store) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.worker = OutboxWorker(settings, store)
        self.links = PageLinks(store, "orders", settings.port, settings.upgrade.pin_page_ttl_s)

    def recover(self) -> None:
        """After a restart: a proposal whose page was never opened gets one new link (its
        clear token lived only in the old process's memory)."""
        with self.store.connect() as db:
            rows = db.execute(
                "SELECT id FROM puk_orders WHERE status = 'awaiting_confirmation' AND open = 1"
            ).fetchall()
        for row in rows:
            if not self.links.opened(row["id"]):
                self.links.issue(row["id"])

    def create(self) -> tuple[dict[str, Any], bool]:
        """Propose a PUK order for the card in the reader (or return the card's open one)."""
        o = self.settings.orders
        card = self._identify()
        now = time.time()
        existing: str | None = None
        with self.store.transaction() as db:
            # Old proposals nobody confirmed end as cancelled; old placed orders just close.
            db.execute(
                "UPDATE puk_orders SET open = 0, status = 'cancelled' WHERE open = 1 "
                "AND open_until < ? AND status = 'awaiting_confirmation'",
                (now,),
            )
            db.execute("UPDATE puk_orders SET open = 0 WHERE open = 1 AND open_until < ?", (now,))
            row = db.execute(
                "SELECT id, status FROM puk_orders WHERE card_key = ? AND open = 1",
                (card["key"],),
            ).fetchone()
            if row is not None:
                existing = row["id"]
                # Asked again (the chat's "start again"): a proposal whose link was opened
                # elsewhere or has expired gets a new link; an unspent one stays the same.
                if row["status"] == "awaiting_confirmation" and not self.links.has_live_token(
                    existing
                ):
                    self.links.issue(existing, db=db)
            else:
                order_id = secrets.token_hex(8)
                reference = (
                    "PUK-"
                    + dt.datetime.now(dt.UTC).strftime("%Y%m%d-")
                    + secrets.token_hex(3).upper()
                )
                public_card = {k: v for k, v in card.items() if k != "key"}
                db.execute(
                    "INSERT INTO puk_orders (id, card_key, reference, status, open, open_until, "
                    "card, created_at) VALUES (?, ?, ?, 'awaiting_confirmation', 1, ?, ?, ?)",
                    (
                        order_id,
                        card["key"],
                        reference,
                        now + o.open_days * 86400,
                        json.dumps(public_card),
                        now,
                    ),
                )
                self.links.issue(order_id, db=db)
        if existing is not None:
            return self.view(existing), False
        log.info("PUK order %s proposed; waiting for the person to confirm it", order_id)
        return self.view(order_id), True

    def confirm(self, order_id: str) -> bool:
        """The person clicked "Beställ": place the order (queued + outbox row), exactly once.

        Returns False when there was nothing to place (already placed, cancelled, closed):
        a double click or a resubmitted form changes nothing.
        """
        o = self.settings.orders
        now = time.time()
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT * FROM puk_orders WHERE id = ? AND status = 'awaiting_confirmation' "
                "AND open = 1",
                (order_id,),
            ).fetchone()
            if row is None:
                return False
            db.execute(
                "UPDATE puk_orders SET status = 'queued' WHERE id = ? "
                "AND status = 'awaiting_confirmation'",
                (order_id,),
            )
            payload = {
                "type": "siths.puk_order",
                "order_id": order_id,
                "reference": row["reference"],
                "created_at": _iso(row["created_at"]),
                "confirmed_at": _iso(now),
                "card": json.loads(row["card"]),
                "cost_sek": o.cost_sek,
                "cost_note": o.cost_note,
                "cost_confirmed_by_user": True,
                "confirmed_on": "card_agent_order_page",
                "delivery": "registered_letter_to_home_address",
                "source": f"SITHS card agent {__version__}",
            }
            db.execute(
                "INSERT INTO outbox (order_id, idempotency_key, payload, next_attempt_at) "
                "VALUES (?, ?, ?, ?)",
                (order_id, f"puk-order-{order_id}", json.dumps(payload), now),
            )
        log.info("PUK order %s confirmed on the order page (%s)", order_id, row["reference"])
        self.worker.wake()
        return True

    def cancel(self, order_id: str) -> bool:
        """The person clicked "Avbryt" on the order page: the proposal ends, nothing is sent."""
        with self.store.transaction() as db:
            cur = db.execute(
                "UPDATE puk_orders SET status = 'cancelled', open = 0 WHERE id = ? "
                "AND status = 'awaiting_confirmation'",
                (order_id,),
            )
        if cur.rowcount == 1:
            log.info("PUK order %s cancelled on the order page", order_id)
        return cur.rowcount == 1

    def _identify(self) -> dict[str, Any]:
        reading = self.service.read()
        if reading.card_reader is None:
            raise OrderRefused("no_card", "Sätt i ditt SITHS-kort i kortläsaren först.")
        key = card_key_of(reading)
        siths = [
            (raw, info)
            for view in reading.tokens
            for raw, info in zip(view.data.certificates, view.certificates, strict=False)
            if info.ca_family in (FAMILY_EID, FAMILY_LEGACY)
        ]
        if key is None or not siths:
            raise OrderRefused(
                "not_a_siths_card",
                "Kortet i läsaren är inget SITHS-kort. PUK-kod kan bara beställas för SITHS-kort.",
            )
        hsa = next((s for s in siths if s[1].identifier.kind == "hsa_id"), None)
        if hsa is None:
            raise OrderRefused(
                "card_not_identified",
                "Kortet kunde inte identifieras (inget HSA-id). Kontakta Servicecenter.",
            )
        cert = x509.load_der_x509_certificate(hsa[0].der)

        def first(oid: x509.ObjectIdentifier) -> str | None:
            vals = cert.subject.get_attributes_for_oid(oid)
            return str(vals[0].value) if vals else None

        return {
            "key": key,
            "card_serial": reading.card_serial or None,
            "token_serials": sorted(t.data.serial for t in reading.tokens),
            "hsa_id": hsa[1].identifier.raw,
            "given_name": first(NameOID.GIVEN_NAME),
            "surname": first(NameOID.SURNAME),
            "organisation": first(NameOID.ORGANIZATION_NAME),
            "certificate_issuer": hsa[1].issuer_cn,
            "card_state": reading.classification.state,
        }

    def _row(self, order_id: str) -> sqlite3.Row:
        with self.store.connect() as db:
            row = db.execute(
                "SELECT o.*, b.attempts, b.last_error, b.next_attempt_at FROM puk_orders o "
                "LEFT JOIN outbox b ON b.order_id = o.id WHERE o.id = ?",
                (order_id,),
            ).fetchone()
        if row is None:
            raise OrderNotFound(f"no order {order_id}")
        return row

    def view(self, order_id: str) -> dict[str, Any]:
        row = self._row(order_id)
        o = self.settings.orders
        status = row["status"]
        attempts = row["attempts"] or 0
        error_code = None
        key = status if status in STATUS_MESSAGES else "queued"
        if status == "queued" and attempts > 0:
            error_code = "order_endpoint_down"
            key = "queued_retrying"
        elif status == "rejected":
            error_code = "order_rejected"
        card = json.loads(row["card"])
        opened = self.links.opened(order_id)
        url = self.links.url(order_id) if status == "awaiting_confirmation" or opened else None
        return {
            "order_id": row["id"],
            "reference": row["reference"],
            "status": status,
            "message": STATUS_MESSAGES[key].format(ref=row["reference"], cost=o.cost_note),
            "error_code": error_code,
            "cost_sek": o.cost_sek,
            "cost_note": o.cost_note,
            "card": {
                "serial": card.get("card_serial"),
                "hsa_id": card.get("hsa_id"),
                "organisation": card.get("organisation"),
            },
            "delivery": {
                "attempts": attempts,
                "delivered_at": _iso(row["delivered_at"]),
                "next_attempt_at": (
                    None
                    if row["delivered_at"] or row["next_attempt_at"] is None
                    else _iso(row["next_attempt_at"])
                ),
                "receiver_reference": row["receiver_reference"],
            },
            "confirm_page_url": url,
            "page_opened": opened,
            "created_at": _iso(row["created_at"]),
            "open_until": _iso(row["open_until"]),
        }

    def page_facts(self, order_id: str) -> dict[str, Any]:
        """What the order page shows: the card as the agent read it, cost, status."""
        row = self._row(order_id)
        card = json.loads(row["card"])
        name = " ".join(p for p in (card.get("given_name"), card.get("surname")) if p)
        return {
            "order_status": row["status"],
            "reference": row["reference"],
            "retrying": row["status"] == "queued" and (row["attempts"] or 0) > 0,
            "cost_note": self.settings.orders.cost_note,
            "card": {
                "name": name,
                "hsa_id": recognise(card.get("hsa_id")).masked if card.get("hsa_id") else "",
                "organisation": card.get("organisation") or "",
                "serial": card.get("card_serial") or "",
            },
        }


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
    from cardagent.identifiers import mask_text

    try:
        body = response.json()
        text = str(body.get("error") or body.get("message") or "") if isinstance(body, dict) else ""
    except ValueError:
        text = response.text
    text = "".join(ch if ch.isprintable() else " " for ch in text)[:200].strip()
    return mask_text(text)


class OutboxWorker:
    """Delivers outbox rows; one thread per agent, woken on new orders, resumes on start.

    Retries use :func:`backoff_delay` (capped, jittered, never overflowing); a 4xx answer
    other than 408/429 is terminal: the order becomes ``rejected`` (``order_rejected`` in the
    API), is logged (masked) and is never sent again."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
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

    # Rows still to send: not delivered, and the order placed and not rejected/cancelled.
    _PENDING = (
        "FROM outbox b JOIN puk_orders p ON p.id = b.order_id "
        "WHERE b.delivered_at IS NULL AND p.status = 'queued'"
    )

    def deliver_due(self) -> float:
        """Send the due rows, oldest due first, at most ``OUTBOX_BATCH`` per pass; returns
        seconds until the next one is due."""
        o = self.settings.orders
        now = time.time()
        with self.store.connect() as db:
            waiting = db.execute(f"SELECT COUNT(*) {self._PENDING}").fetchone()[0]
            if waiting and o.webhook_url:
                due = db.execute(
                    f"SELECT b.* {self._PENDING} AND b.next_attempt_at <= ? "
                    "ORDER BY b.next_attempt_at, b.id LIMIT ?",
                    (now, OUTBOX_BATCH),
                ).fetchall()
            else:
                due = []
        if not waiting:
            return 60.0
        if not o.webhook_url:
            log.warning("%d PUK order(s) waiting: no order webhook configured", waiting)
            return 60.0
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
        with self.store.connect() as db:
            nxt = db.execute(f"SELECT MIN(b.next_attempt_at) {self._PENDING}").fetchone()[0]
        if len(due) >= OUTBOX_BATCH:
            return 0.05  # more may be due right now
        return 60.0 if nxt is None else max(0.05, min(60.0, nxt - time.time()))

    def _retry_later(self, row_id: int, order_id: str, attempts: int, error: str) -> float:
        o = self.settings.orders
        delay = backoff_delay(attempts, o.retry_initial_s, o.retry_max_s)
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET last_error = ?, next_attempt_at = ? WHERE id = ?",
                (error, time.time() + delay, row_id),
            )
        log.warning("PUK order %s not delivered (%s); retry in %.1f s", order_id, error, delay)
        return delay

    def _attempt(self, client: httpx.Client, row: sqlite3.Row) -> None:
        o = self.settings.orders
        headers = {"Content-Type": "application/json", "Idempotency-Key": row["idempotency_key"]}
        if o.webhook_token:
            headers["Authorization"] = f"Bearer {o.webhook_token}"
        attempts = row["attempts"] + 1
        # Count the attempt before sending: a crash mid-request still backs off next time.
        with self.store.transaction() as db:
            db.execute("UPDATE outbox SET attempts = ? WHERE id = ?", (attempts, row["id"]))
        error: str | None = None
        rejected = False
        receiver_ref = None
        try:
            r = client.post(o.webhook_url or "", content=row["payload"], headers=headers)
            if 200 <= r.status_code < 300 or r.status_code == 409:
                try:
                    body = r.json()
                    receiver_ref = body.get("reference") if isinstance(body, dict) else None
                except ValueError:
                    receiver_ref = None
            else:
                error = f"HTTP {r.status_code}"
                if is_rejection(r.status_code):
                    rejected = True
                    reason = _reason(r)
                    error = f"{error}: {reason}" if reason else error
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}"
        if rejected:
            # Terminal: never sent again; the order shows as rejected (order_rejected).
            with self.store.transaction() as db:
                db.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (error, row["id"]))
                db.execute(
                    "UPDATE puk_orders SET status = 'rejected', open = 0 "
                    "WHERE id = ? AND status = 'queued'",
                    (row["order_id"],),
                )
            log.error(
                "PUK order %s rejected by the order system (%s); it will not be sent again",
                row["order_id"],
                error,
            )
            return
        if error is not None:
            self._retry_later(row["id"], row["order_id"], attempts, error)
            return
        now = time.time()
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET delivered_at = ?, last_error = NULL WHERE id = ?",
                (now, row["id"]),
            )
            db.execute(
                "UPDATE puk_orders SET status = 'delivered', delivered_at = ?, "
                "receiver_reference = ? WHERE id = ?",
                (now, receiver_ref, row["order_id"]),
            )
        log.info("PUK order %s delivered (attempt %d)", row["order_id"], attempts)
