"""A Redis lock store that is safe with several Rasa servers.

Rasa 3.6's ``RedisLockStore`` changes a conversation's lock with a plain
GET, change, SET. When two servers get a message for the same conversation at
the same moment, both can draw the same ticket, both process the conversation
at once, and the SQL tracker store then drops one of the two turns (it appends
"the events after the ones already stored", counted). Rasa's own attempt at a
fix was reverted (RasaHQ/rasa#11256, #11428; issue #9213).

This class makes every change to a lock one Redis transaction (WATCH/MULTI,
retried on conflict): ticket numbers are unique across servers and a lock is
deleted only when no one holds a ticket. Configure it in endpoints.yml:

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: redis.example.org
      port: 6379
      db: 1
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, Text, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

Change = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], Any]]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs,
                      **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: Text, change: Change) -> Any:
        """Apply ``change`` (old lock -> new lock or None to delete, result)
        atomically; returns the result."""
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> Any:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            new, result = change(lock)
            pipe.multi()
            if new is None or not new.is_someone_waiting():
                pipe.delete(key)
            else:
                pipe.set(key, new.dumps())
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, change)
        except Exception as e:  # same contract as Rasa's LockStore.issue_ticket
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e

    def update_lock(self, conversation_id: Text) -> None:
        def change(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, change)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def change(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, change)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        # finish_serving deletes the lock in the same transaction once no
        # ticket is left, so no second step that could race.
        self.finish_serving(conversation_id, ticket_number)
