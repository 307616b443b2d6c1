"""One-time page links and page sessions for the agent's own pages (PIN page, order page).

A page link is ``http://127.0.0.1:<port>/<kind>/<id>?t=<token>``. The rules (docs/cardagent.md,
"The agent's pages"):

* the token is random (256 bits), stored only as its SHA-256 in ``page_links``; the clear token
  lives in this process's memory so that ``GET /v1/jobs/{id}`` can show the same URL again.
  Viewing never mints a new token;
* the first ``GET`` with the token *spends* it (compare-and-set in one transaction, so two
  tabs cannot both win) and opens a page session: a fresh random value in an ``HttpOnly``
  ``SameSite=Strict`` cookie scoped to ``/<kind>/<id>``, stored hashed. From then on the page
  URL is token-less and works only in the browser that holds the cookie;
* the spent token's hash is remembered, so opening the link again elsewhere says "the link was
  already used" instead of "invalid";
* a new token is issued only when a caller asks for the job/order again with POST (the chat's
  "start again") or after an agent restart for a page that was never opened (its clear token
  was only in memory). The old session keeps working until the new link is opened;
* sessions slide: each page request moves their expiry ``ttl`` seconds ahead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Literal

from cardagent.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS page_links (
    kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    token_hash TEXT,
    token_expires REAL,
    spent_hash TEXT,
    session_hash TEXT,
    session_expires REAL,
    opened_at REAL,
    final_try_session TEXT,
    PRIMARY KEY (kind, target_id)
);
"""

OpenResult = Literal["ok", "used", "expired", "invalid"]


def _h(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def _eq(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)


@dataclass(frozen=True)
class Opened:
    result: OpenResult
    session: str | None = None


class PageLinks:
    """Links and sessions of one kind of page (``pin`` or ``orders``)."""

    def __init__(self, store: Store, kind: str, port: int, ttl_s: float) -> None:
        self.store = store
        self.kind = kind
        self.port = port
        self.ttl_s = ttl_s
        self._tokens: dict[str, str] = {}  # target id -> clear token of its unspent link
        with store.connect() as db:
            db.executescript(SCHEMA)

    # --- URLs -------------------------------------------------------------------------------

    def base_url(self, target_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{self.kind}/{target_id}"

    def url(self, target_id: str) -> str | None:
        """The link to show: with its one-time token until opened, then token-less."""
        row = self._row(target_id)
        if row is None:
            return None
        token = self._tokens.get(target_id)
        if token is not None and _eq(row["token_hash"], _h(token)):
            return f"{self.base_url(target_id)}?t={token}"
        if row["opened_at"] is not None:
            return self.base_url(target_id)
        return None

    def opened(self, target_id: str) -> bool:
        row = self._row(target_id)
        return bool(row and row["opened_at"] is not None and row["token_hash"] is None)

    def has_live_token(self, target_id: str) -> bool:
        """An unspent, unexpired link whose clear token this process still knows."""
        row = self._row(target_id)
        token = self._tokens.get(target_id)
        return bool(
            row
            and token is not None
            and _eq(row["token_hash"], _h(token))
            and (row["token_expires"] or 0) > time.time()
        )

    # --- issuing and spending ----------------------------------------------------------------

    def issue(self, target_id: str, db: sqlite3.Connection | None = None) -> str:
        """A new one-time link token for the target (replaces an unspent one). With ``db``
        it is written in the caller's transaction (e.g. together with a new order)."""
        token = secrets.token_urlsafe(32)
        expires = time.time() + self.ttl_s
        sql = (
            "INSERT INTO page_links (kind, target_id, token_hash, token_expires) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(kind, target_id) DO UPDATE SET "
            "token_hash = excluded.token_hash, token_expires = excluded.token_expires"
        )
        args = (self.kind, target_id, _h(token), expires)
        if db is not None:
            db.execute(sql, args)
        else:
            with self.store.transaction() as tx:
                tx.execute(sql, args)
        self._tokens[target_id] = token
        return token

    def open(self, target_id: str, token: str) -> Opened:
        """Spend the link token and open a page session (the cookie value is returned)."""
        if not token or len(token) > 200:
            return Opened("invalid")
        hashed = _h(token)
        session = secrets.token_urlsafe(32)
        now = time.time()
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT * FROM page_links WHERE kind = ? AND target_id = ?",
                (self.kind, target_id),
            ).fetchone()
            if row is None:
                return Opened("invalid")
            if _eq(row["token_hash"], hashed):
                if (row["token_expires"] or 0) < now:
                    return Opened("expired")
                db.execute(
                    "UPDATE page_links SET token_hash = NULL, token_expires = NULL, "
                    "spent_hash = ?, session_hash = ?, session_expires = ?, opened_at = ?, "
                    "final_try_session = NULL WHERE kind = ? AND target_id = ?",
                    (hashed, _h(session), now + self.ttl_s, now, self.kind, target_id),
                )
            elif _eq(row["spent_hash"], hashed):
                return Opened("used")
            else:
                return Opened("invalid")
        self._tokens.pop(target_id, None)
        return Opened("ok", session)

    def check_session(self, target_id: str, session: str | None) -> bool:
        """Is this the page session of the target? Slides its expiry when it is."""
        if not session or len(session) > 200:
            return False
        now = time.time()
        with self.store.transaction() as db:
            cur = db.execute(
                "UPDATE page_links SET session_expires = ? WHERE kind = ? AND target_id = ? "
                "AND session_hash = ? AND session_expires >= ?",
                (now + self.ttl_s, self.kind, target_id, _h(session), now),
            )
            return cur.rowcount == 1

    # --- the final-try confirmation (PIN page) --------------------------------------------------

    def confirm_final_try(self, target_id: str, session: str) -> bool:
        """Record, for this page session, that the person accepted a last PIN try."""
        with self.store.transaction() as db:
            cur = db.execute(
                "UPDATE page_links SET final_try_session = ? WHERE kind = ? AND target_id = ? "
                "AND session_hash = ?",
                (_h(session), self.kind, target_id, _h(session)),
            )
            return cur.rowcount == 1

    def final_try_confirmed(self, target_id: str, session: str | None) -> bool:
        row = self._row(target_id)
        return bool(
            row
            and session
            and _eq(row["final_try_session"], _h(session))
            and _eq(row["session_hash"], _h(session))
        )

    def take_final_try(self, target_id: str, session: str | None) -> bool:
        """Use the confirmation once: it covers one submit of the PIN form."""
        if not session:
            return False
        with self.store.transaction() as db:
            cur = db.execute(
                "UPDATE page_links SET final_try_session = NULL WHERE kind = ? AND target_id = ? "
                "AND final_try_session = ? AND session_hash = ?",
                (self.kind, target_id, _h(session), _h(session)),
            )
            return cur.rowcount == 1

    # --- internals ---------------------------------------------------------------------------

    def _row(self, target_id: str) -> sqlite3.Row | None:
        with self.store.connect() as db:
            return db.execute(
                "SELECT * FROM page_links WHERE kind = ? AND target_id = ?",
                (self.kind, target_id),
            ).fetchone()


def csrf_for(session: str, kind: str, target_id: str) -> str:
    """The form's CSRF field: derived from the page session (no extra state)."""
    return hmac.new(
        session.encode("utf-8", "surrogateescape"),
        f"siths-cardagent-page|{kind}|{target_id}".encode(),
        hashlib.sha256,
    ).hexdigest()
