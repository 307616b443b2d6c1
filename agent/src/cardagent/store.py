"""The agent's persistent state: upgrade jobs, PUK orders and their outbox, in SQLite.

One file, ``<data_dir>/agent.db`` (WAL mode, folder 0700). Every call opens its own short
connection, so worker threads and request threads never share one. Never stored here: PINs,
PUKs, page tokens in clear (only their SHA-256), personnummer.

Invariants kept by the schema, not by code paths:
* ``jobs_one_active``: at most one active (non-final) upgrade job per card;
* ``orders_one_open``: at most one open PUK order per card;
* ``outbox.order_id`` / ``outbox.idempotency_key`` unique: one delivery record per order.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    card_key TEXT NOT NULL,
    status TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    step TEXT,
    progress INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    message TEXT NOT NULL DEFAULT '',  -- unused: a job holds facts only (kept for old files)
    state TEXT NOT NULL DEFAULT '{}',
    page_token_hash TEXT,
    page_expires REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_active ON jobs(card_key) WHERE active = 1;
CREATE TABLE IF NOT EXISTS puk_orders (
    id TEXT PRIMARY KEY,
    card_key TEXT NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    open INTEGER NOT NULL DEFAULT 1,
    open_until REAL NOT NULL,
    card TEXT NOT NULL,
    receiver_reference TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS orders_one_open ON puk_orders(card_key) WHERE open = 1;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL UNIQUE REFERENCES puk_orders(id),
    idempotency_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    delivered_at REAL,
    last_error TEXT
);
"""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        from cardagent.tokenfile import ensure_private_dir

        ensure_private_dir(path.parent)  # 0700, ours, not a symlink
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        if os.name == "posix":
            os.chmod(path, 0o600)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: one writer at a time, across threads and processes."""
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- jobs -------------------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row)

    def active_job(self, card_key: str) -> dict[str, Any] | None:
        with self.connect() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE card_key = ? AND active = 1", (card_key,)
            ).fetchone()
        return _job(row)

    def jobs_with_status(self, *statuses: str) -> list[dict[str, Any]]:
        marks = ",".join("?" for _ in statuses)
        with self.connect() as db:
            rows = db.execute(f"SELECT * FROM jobs WHERE status IN ({marks})", statuses).fetchall()
        return [j for j in (_job(r) for r in rows) if j]

    def insert_job(self, db: sqlite3.Connection, job: dict[str, Any]) -> None:
        now = time.time()
        db.execute(
            "INSERT INTO jobs (id, card_key, status, active, step, progress, state, "
            "page_token_hash, page_expires, created_at, updated_at) "
            "VALUES (?, ?, ?, 1, ?, 0, ?, ?, ?, ?, ?)",
            (
                job["id"],
                job["card_key"],
                job["status"],
                job.get("step"),
                json.dumps(job.get("state", {})),
                job.get("page_token_hash"),
                job.get("page_expires"),
                now,
                now,
            ),
        )

    def update_job(
        self, job_id: str, *, expect_status: tuple[str, ...] | None = None, **fields: Any
    ) -> bool:
        """Update a job; with ``expect_status`` only if it is in one of those (compare-and-set)."""
        if "state" in fields:
            fields["state"] = json.dumps(fields["state"])
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        args: list[Any] = list(fields.values()) + [job_id]
        sql = f"UPDATE jobs SET {sets} WHERE id = ?"
        if expect_status:
            sql += f" AND status IN ({','.join('?' for _ in expect_status)})"
            args += list(expect_status)
        with self.transaction() as db:
            return db.execute(sql, args).rowcount == 1


def _job(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    out["state"] = json.loads(out["state"] or "{}")
    return out
