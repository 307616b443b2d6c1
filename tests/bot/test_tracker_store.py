"""The single-machine conversation store: Rasa's SQL store, SQLite in WAL mode."""

from __future__ import annotations

import asyncio
import sqlite3

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import WalSQLTrackerStore


def test_conversations_are_kept_in_a_sqlite_file_in_wal_mode(tmp_path):
    db = tmp_path / "tracker.db"
    store = WalSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(db))
    tracker = DialogueStateTracker("someone", slots=[])
    tracker.update(UserUttered("hej", {"name": "greet", "confidence": 1.0}))
    asyncio.run(store.save(tracker))

    again = WalSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(db))
    kept = asyncio.run(again.retrieve("someone"))
    assert kept is not None and kept.latest_message.text == "hej"
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
