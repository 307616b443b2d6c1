"""bot.lock_store.AtomicRedisLockStore on a real redis-server: ticket numbers
stay unique when several servers (here: several store instances in threads)
ask for the same conversation's lock at once, and the lock goes away only when
the last ticket is done."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore
from tests.support.local_stack import RedisServer, redis_server

pytestmark = pytest.mark.stack  # starts real processes (Rasa, action server, servers)

SERVERS, PER_SERVER = 8, 25


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def store(redis: RedisServer) -> LockStore:
    return LockStore.create(EndpointConfig.from_dict(redis.lock_store()))


def test_endpoints_config_gives_the_atomic_store(redis):
    created = store(redis)
    assert isinstance(created, AtomicRedisLockStore)
    assert created.red.connection_pool.connection_kwargs["port"] == redis.port


def test_tickets_are_unique_across_servers_asking_at_once(redis):
    stores = [store(redis) for _ in range(SERVERS)]
    barrier = threading.Barrier(SERVERS)
    issued: list = []

    def server(s: LockStore) -> None:
        barrier.wait()
        for _ in range(PER_SERVER):
            issued.append(s.issue_ticket("same-conversation"))

    threads = [threading.Thread(target=server, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(issued) == list(range(SERVERS * PER_SERVER))
    assert len(stores[0].get_lock("same-conversation").tickets) == SERVERS * PER_SERVER


def test_lock_is_served_in_ticket_order_and_deleted_after_the_last(redis):
    a, b = store(redis), store(redis)
    first, second = a.issue_ticket("c2"), b.issue_ticket("c2")
    assert not a.get_lock("c2").is_locked(first)
    assert b.get_lock("c2").is_locked(second)
    a.cleanup("c2", first)
    assert not b.get_lock("c2").is_locked(second)
    b.cleanup("c2", second)
    assert a.get_lock("c2") is None
