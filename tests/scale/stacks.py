"""Shared helpers for the scale-out and fault tests: several bot stacks
started in parallel, and reading a conversation back from its store."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence

from tests.support.local_stack import BotServer, PgServer, bot_stack


@contextmanager
def parallel_stacks(dirs: Sequence[Path], **kwargs: Any) -> Iterator[List[BotServer]]:
    """``len(dirs)`` bot stacks (Rasa + action server each), started in parallel."""
    with ExitStack() as stack:
        managers = [bot_stack(d, **kwargs) for d in dirs]

        def enter(cm):
            server = cm.__enter__()
            return cm, server

        servers = []
        with ThreadPoolExecutor(len(managers)) as pool:
            futures = [pool.submit(enter, cm) for cm in managers]
            errors = []
            for f in futures:
                try:
                    cm, server = f.result()
                    stack.push(cm.__exit__)
                    servers.append(server)
                except Exception as e:  # noqa: BLE001 - re-raised below after cleanup
                    errors.append(e)
            if errors:
                raise errors[0]
        yield servers


def pg_events(pg: PgServer, sender: str) -> List[Dict[str, Any]]:
    rows = pg.query("SELECT data FROM events WHERE sender_id = %s ORDER BY id", sender)
    return [json.loads(r[0]) for r in rows]


def sqlite_events(db: Path, sender: str) -> List[Dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(r[0]) for r in rows]


def user_texts(events: List[Dict[str, Any]]) -> List[str]:
    return [e.get("text") for e in events if e["event"] == "user"]


def turn_problems(events: List[Dict[str, Any]]) -> List[str]:
    """What is wrong with a stored conversation's shape, as readable strings.

    Expected: one session start at the top, then per turn exactly one user
    event, at least one bot message, and the turn closed by action_listen
    before the next user event; no event stored twice; timestamps in order."""
    problems = []
    keys = [json.dumps(e, sort_keys=True) for e in events]
    if len(set(keys)) != len(keys):
        problems.append(f"{len(keys) - len(set(keys))} events stored twice")
    stamps = [e["timestamp"] for e in events]
    if stamps != sorted(stamps):
        problems.append("timestamps out of order")
    starts = [e for e in events if e["event"] == "session_started"]
    if len(starts) != 1:
        problems.append(f"{len(starts)} session starts")
    turn: List[Dict[str, Any]] = []
    turns = []
    for e in events:
        if e["event"] == "user":
            if turn:
                turns.append(turn)
            turn = [e]
        elif turn:
            turn.append(e)
    if turn:
        turns.append(turn)
    for n, t in enumerate(turns):
        if not any(e["event"] == "bot" for e in t):
            problems.append(f"turn {n} ({t[0].get('text')!r}) has no bot message")
        actions = [e for e in t if e["event"] == "action"]
        if not actions or actions[-1].get("name") != "action_listen":
            problems.append(f"turn {n} ({t[0].get('text')!r}) not closed by action_listen")
        if sum(1 for a in actions if a.get("name") == "action_listen") != 1:
            problems.append(f"turn {n} ({t[0].get('text')!r}) interleaved with another turn")
    return problems
