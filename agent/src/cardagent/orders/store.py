"""PUK orders and their outbox rows in the agent's database (tables: cardagent/store.py).

Every change that must happen together is one transaction here: proposing an order with
its page link, placing it with its outbox row, a delivery result with the order's status.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from collections.abc import Callable
from typing import Any

from cardagent.pages.links import PageLinks
from cardagent.store import Store

# Rows still to send: not delivered, and the order placed and not rejected/cancelled.
_PENDING = (
    "FROM outbox b JOIN puk_orders p ON p.id = b.order_id "
    "WHERE b.delivered_at IS NULL AND p.status = 'queued'"
)


def new_reference() -> str:
    """The reference a person quotes: ``PUK-<date>-<6 hex>``."""
    return "PUK-" + dt.datetime.now(dt.UTC).strftime("%Y%m%d-") + secrets.token_hex(3).upper()


class OrderStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- orders -------------------------------------------------------------------------------

    def proposals_awaiting(self) -> list[str]:
        """Ids of open proposals nobody has confirmed yet."""
        with self.store.connect() as db:
            rows = db.execute(
                "SELECT id FROM puk_orders WHERE status = 'awaiting_confirmation' AND open = 1"
            ).fetchall()
        return [row["id"] for row in rows]

    def propose(
        self, card_key: str, card: dict[str, Any], now: float, open_until: float, links: PageLinks
    ) -> tuple[str, bool]:
        """The card's open order, or a new proposal with its page link: (order id, created).

        ``orders_one_open`` (unique partial index) makes a second open order for the same
        card impossible whatever the concurrency."""
        with self.store.transaction() as db:
            # Old proposals nobody confirmed end as cancelled; old placed orders just close.
            db.execute(
                "UPDATE puk_orders SET open = 0, status = 'cancelled' WHERE open = 1 "
                "AND open_until < ? AND status = 'awaiting_confirmation'",
                (now,),
            )
            db.execute("UPDATE puk_orders SET open = 0 WHERE open = 1 AND open_until < ?", (now,))
            row = db.execute(
                "SELECT id, status FROM puk_orders WHERE card_key = ? AND open = 1", (card_key,)
            ).fetchone()
            if row is not None:
                # Asked again (the chat's "start again"): a proposal whose link was opened
                # elsewhere or has expired gets a new link; an unspent one stays the same.
                if row["status"] == "awaiting_confirmation" and not links.has_live_token(row["id"]):
                    links.issue(row["id"], db=db)
                return row["id"], False
            order_id = secrets.token_hex(8)
            db.execute(
                "INSERT INTO puk_orders (id, card_key, reference, status, open, open_until, "
                "card, created_at) VALUES (?, ?, ?, 'awaiting_confirmation', 1, ?, ?, ?)",
                (order_id, card_key, new_reference(), open_until, json.dumps(card), now),
            )
            links.issue(order_id, db=db)
        return order_id, True

    def place(
        self, order_id: str, now: float, payload: Callable[[sqlite3.Row], dict[str, Any]]
    ) -> sqlite3.Row | None:
        """Place a proposal: status ``queued`` and its outbox row (``payload(order row)``), in
        one transaction. None when there was nothing to place (placed, cancelled, closed)."""
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT * FROM puk_orders WHERE id = ? AND status = 'awaiting_confirmation' "
                "AND open = 1",
                (order_id,),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE puk_orders SET status = 'queued' WHERE id = ? "
                "AND status = 'awaiting_confirmation'",
                (order_id,),
            )
            db.execute(
                "INSERT INTO outbox (order_id, idempotency_key, payload, next_attempt_at) "
                "VALUES (?, ?, ?, ?)",
                (order_id, f"puk-order-{order_id}", json.dumps(payload(row)), now),
            )
        return row

    def cancel(self, order_id: str) -> bool:
        """End a proposal (nothing was sent); False when it was no longer a proposal."""
        with self.store.transaction() as db:
            cur = db.execute(
                "UPDATE puk_orders SET status = 'cancelled', open = 0 WHERE id = ? "
                "AND status = 'awaiting_confirmation'",
                (order_id,),
            )
        return cur.rowcount == 1

    def order(self, order_id: str) -> sqlite3.Row | None:
        """The order with its delivery columns (attempts, last_error, next_attempt_at)."""
        with self.store.connect() as db:
            return db.execute(
                "SELECT o.*, b.attempts, b.last_error, b.next_attempt_at FROM puk_orders o "
                "LEFT JOIN outbox b ON b.order_id = o.id WHERE o.id = ?",
                (order_id,),
            ).fetchone()

    # --- the outbox ---------------------------------------------------------------------------

    def pending_count(self) -> int:
        with self.store.connect() as db:
            return db.execute(f"SELECT COUNT(*) {_PENDING}").fetchone()[0]

    def due(self, now: float, limit: int) -> list[sqlite3.Row]:
        """Rows due now, oldest due first."""
        with self.store.connect() as db:
            return db.execute(
                f"SELECT b.* {_PENDING} AND b.next_attempt_at <= ? "
                "ORDER BY b.next_attempt_at, b.id LIMIT ?",
                (now, limit),
            ).fetchall()

    def next_due(self) -> float | None:
        with self.store.connect() as db:
            return db.execute(f"SELECT MIN(b.next_attempt_at) {_PENDING}").fetchone()[0]

    def count_attempt(self, row_id: int, attempts: int) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE outbox SET attempts = ? WHERE id = ?", (attempts, row_id))

    def retry_at(self, row_id: int, error: str, when: float) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET last_error = ?, next_attempt_at = ? WHERE id = ?",
                (error, when, row_id),
            )

    def rejected(self, row_id: int, order_id: str, error: str) -> None:
        """Terminal: the row is never sent again; the order shows as rejected."""
        with self.store.transaction() as db:
            db.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (error, row_id))
            db.execute(
                "UPDATE puk_orders SET status = 'rejected', open = 0 "
                "WHERE id = ? AND status = 'queued'",
                (order_id,),
            )

    def delivered(self, row_id: int, order_id: str, now: float, receiver_ref: str | None) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET delivered_at = ?, last_error = NULL WHERE id = ?",
                (now, row_id),
            )
            db.execute(
                "UPDATE puk_orders SET status = 'delivered', delivered_at = ?, "
                "receiver_reference = ? WHERE id = ?",
                (now, receiver_ref, order_id),
            )
