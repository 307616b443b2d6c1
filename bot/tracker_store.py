"""The conversation store of the single-machine setup (endpoints.yml).

Rasa's own ``SQLTrackerStore``; on SQLite each connection runs in write-ahead-log
mode with ``synchronous=NORMAL``. Rasa commits every turn, and SQLite's default
(a rollback journal, a full sync per commit) spent most of a reply's time waiting
for the disk (benchmarks/bench_bot.py). With WAL a commit survives the process
being killed; only a power cut can lose the last turns, never corrupt the file.
Other databases (PostgreSQL, docs/deployment.md) are left exactly as Rasa runs them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")


def _set_sqlite_pragmas(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


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
