"""The conversation store of the single-machine setup (endpoints.yml).

Rasa's own ``SQLTrackerStore``; on SQLite each connection runs in write-ahead-log
mode with ``synchronous=NORMAL``. Rasa commits every turn, and SQLite's default
(a rollback journal, a full sync per commit) spent most of a reply's time waiting
for the disk (benchmarks/bench_bot.py). With WAL a commit survives the process
being killed; only a power cut can lose the last turns, never corrupt the file.
Other databases (PostgreSQL, docs/deployment.md) are left exactly as Rasa runs them.

On every database, reading a conversation back resolves each stored event's class
from a table built once, instead of Rasa's search of all ``Event`` subclasses per
event (about 2 ms a turn), and saving a turn it read knows how many of its events are
stored already, without counting them again in the database (about 1 ms). Rasa's lock
store keeps one turn per conversation at a time, on one server or several, so that
number stays true between reading a conversation and saving it.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from typing import Any, Dict, Iterator, List, Optional, Type

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

logger = logging.getLogger(__name__)

# Set on a tracker this store read or saved: how many of its events (counted from the
# start of its last session, as Rasa's own count does) are in the database.
STORED_EVENTS_ATTRIBUTE = "_siths_stored_events"

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")


def _set_sqlite_pragmas(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


@functools.cache
def event_class(type_name: str) -> Optional[Type[Event]]:
    """The ``Event`` subclass stored under ``type_name``, as Rasa's own
    ``Event.resolve_by_type`` finds it (``None`` for the legacy "topic" event;
    ``ValueError`` for an unknown name), looked up once per name."""
    return Event.resolve_by_type(type_name)


def deserialise_events(serialised: List[Dict[str, Any]]) -> List[Event]:
    """Rasa's ``events.deserialise_events`` with the class lookup above."""
    events = []
    for data in serialised:
        type_name = data.get("event")
        if type_name is None:
            continue
        cls = event_class(type_name)
        event = cls._from_parameters(data) if cls else None
        if event:
            events.append(event)
        else:
            logger.warning("A stored event of type '%s' could not be read.", type_name)
    return events


class WalSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` with SQLite in WAL mode and pooled connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # Keep connections open between turns (SQLAlchemy 1.4 opens and closes one
            # per turn on a SQLite file, and closing the last one checkpoints the log).
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(
                url, poolclass=QueuePool, pool_size=2, max_overflow=8,
                connect_args={"check_same_thread": False},
            )
            event.listen(self.engine, "connect", _set_sqlite_pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        """Rasa's ``SQLTrackerStore._retrieve`` with the faster event reading."""
        with self.session_scope() as session:
            rows = self._event_query(
                session, sender_id,
                fetch_events_from_all_sessions=fetch_events_from_all_sessions,
            ).all()
            stored = [json.loads(row.data) for row in rows]
        if not self.domain or not stored:
            return None
        tracker = DialogueStateTracker.from_events(
            sender_id, deserialise_events(stored), self.domain.slots)
        if not fetch_events_from_all_sessions:
            setattr(tracker, STORED_EVENTS_ATTRIBUTE, len(stored))
        return tracker

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The tracker's events not stored yet; Rasa counts the stored ones in the
        database each time, this store remembers them for a tracker it read or saved."""
        stored = getattr(tracker, STORED_EVENTS_ATTRIBUTE, None)
        if stored is None:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's ``SQLTrackerStore.save``; afterwards the tracker knows that all of its
        events are stored."""
        await super().save(tracker)
        stored = getattr(tracker, STORED_EVENTS_ATTRIBUTE, 0)
        setattr(tracker, STORED_EVENTS_ATTRIBUTE, max(stored, len(tracker.events)))
