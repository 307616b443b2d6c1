"""A small local stand-in for the card administration's order endpoint (HTTPS JSON webhook).

``POST /orders`` with ``Idempotency-Key`` (required) and JSON body: stores the order once per
key in SQLite (201 + ``{"reference": "ÄRENDE-…", "duplicate": false}``); a repeated key gets
200 with the same reference and ``duplicate: true``, and is counted but not stored again.
``GET /orders`` lists stored orders with how many times each key was received.

Fault hooks for tests: ``--fail N`` answers the first N posts with 503; ``--reject STATUS``
answers every post with that 4xx (e.g. 400 or 422: the order system refuses the order) and
stores nothing; ``--die-after-store`` exits the process right after committing the first new
order, before answering (the worst moment for exactly-once). ``posts`` counts every POST.

Demo: ``python -m devtools.order_receiver [--port 8444] [--db FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

DEFAULT_PORT = 8444


class OrderReceiver:
    def __init__(
        self,
        db_path: Path,
        token: str | None = None,
        fail_next: int = 0,
        die_after_store: bool = False,
        reject_with: int | None = None,
    ) -> None:
        self.db_path = db_path
        self.token = token
        self.fail_next = fail_next
        self.die_after_store = die_after_store
        self.reject_with = reject_with
        self.reject_error = "order_invalid"  # the "error" of a rejection (tests may change it)
        self.fail_keys: set[str] = set()  # tests: these Idempotency-Keys always get 503
        self.posts = 0  # every POST /orders, whatever the answer
        self.posts_by_key: dict[str, int] = {}
        self._lock = threading.Lock()
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS orders (n INTEGER PRIMARY KEY AUTOINCREMENT, "
                "idempotency_key TEXT NOT NULL UNIQUE, body TEXT NOT NULL, received INTEGER "
                "NOT NULL DEFAULT 1)"
            )
        self.app = self._build()

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def _build(self) -> FastAPI:
        app = FastAPI(title="TEST order receiver", docs_url=None, redoc_url=None, openapi_url=None)

        @app.post("/orders")
        async def post_order(request: Request) -> JSONResponse:
            with self._lock:
                self.posts += 1
            if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            key = request.headers.get("idempotency-key")
            if not key:
                return JSONResponse({"error": "Idempotency-Key required"}, status_code=400)
            with self._lock:
                self.posts_by_key[key] = self.posts_by_key.get(key, 0) + 1
                if key in self.fail_keys:
                    return JSONResponse({"error": "unavailable"}, status_code=503)
                if self.fail_next > 0:
                    self.fail_next -= 1
                    return JSONResponse({"error": "unavailable"}, status_code=503)
                if self.reject_with is not None:
                    return JSONResponse(
                        {"error": self.reject_error, "message": "TEST: order refused"},
                        status_code=self.reject_with,
                    )
            try:
                body = json.loads(await request.body())
            except ValueError:
                return JSONResponse({"error": "not JSON"}, status_code=400)
            return self._store(key, body)

        @app.get("/orders")
        def list_orders() -> dict[str, Any]:
            return {"orders": self.orders()}

        return app

    def _store(self, key: str, body: Any) -> JSONResponse:
        with self._lock, self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT n FROM orders WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                db.execute(
                    "UPDATE orders SET received = received + 1 WHERE idempotency_key = ?", (key,)
                )
                db.execute("COMMIT")
                return JSONResponse(
                    {"reference": f"ÄRENDE-{row['n']:06d}", "duplicate": True}, status_code=200
                )
            n = db.execute(
                "INSERT INTO orders (idempotency_key, body) VALUES (?, ?)", (key, json.dumps(body))
            ).lastrowid
            db.execute("COMMIT")
        if self.die_after_store:
            os._exit(17)  # test hook: stored, never answered
        return JSONResponse({"reference": f"ÄRENDE-{n:06d}", "duplicate": False}, status_code=201)

    def orders(self) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM orders ORDER BY n").fetchall()
        return [
            {
                "reference": f"ÄRENDE-{r['n']:06d}",
                "idempotency_key": r["idempotency_key"],
                "received": r["received"],
                "order": json.loads(r["body"]),
            }
            for r in rows
        ]


def main(argv: list[str] | None = None) -> int:
    from cardagent.settings import resolve_data_dir
    from devtools.pki import tls_server_files
    from devtools.servers import serve_https

    parser = argparse.ArgumentParser(description="Local test receiver for PUK orders")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--db", type=Path, help="SQLite file (default: demo folder)")
    parser.add_argument("--tls", type=Path, help="TLS files folder (default: demo folder)")
    parser.add_argument("--token", default=os.environ.get("ORDER_RECEIVER_TOKEN"))
    parser.add_argument("--fail", type=int, default=0)
    parser.add_argument("--die-after-store", action="store_true")
    parser.add_argument("--reject", type=int, metavar="STATUS", help="answer every post with it")
    args = parser.parse_args(argv)
    demo = resolve_data_dir() / "demo"
    demo.mkdir(parents=True, exist_ok=True)
    tls = tls_server_files(args.tls or demo / "tls")
    receiver = OrderReceiver(
        args.db or demo / "orders-received.db",
        token=args.token,
        fail_next=args.fail,
        die_after_store=args.die_after_store,
        reject_with=args.reject,
    )
    print(f"order receiver on https://127.0.0.1:{args.port}/orders", flush=True)
    serve_https(receiver.app, args.port, tls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
