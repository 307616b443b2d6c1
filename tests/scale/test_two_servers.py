"""Region scale-out: two Rasa servers and two action servers sharing one
PostgreSQL tracker store and one Redis lock store (both started here, on
loopback). Every conversation's turns go alternately to the two servers
(round-robin, no stickiness) while many conversations run at once; then every
turn must be stored exactly once, in order, and both servers must see the same
conversation."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Iterator, List, Tuple

import httpx
import pytest

from bot.faq_catalog import faq_catalog
from tests.bot.responses import joined, rendered
from tests.scale.stacks import (
    parallel_stacks,
    pg_events,
    turn_problems,
    user_texts,
)
from tests.support.local_stack import (
    BotServer,
    PgServer,
    postgres_server,
    redis_server,
    write_endpoints,
)
from tests.support.unsure import find_unsure

pytestmark = pytest.mark.stack  # starts real processes (Rasa, action server, servers)

CONVERSATIONS = 24
TURNS = 6

QUESTIONS: List[Tuple[str, str]] = [
    (q, entry.response) for entry in faq_catalog().values() for q in entry.questions
]


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Iterator[Tuple[List[BotServer], PgServer]]:
    tmp = tmp_path_factory.mktemp("region")
    with postgres_server() as pg, redis_server() as redis:
        endpoints = write_endpoints(
            tmp / "endpoints.yml",
            tracker_store=pg.tracker_store(),
            lock_store=redis.lock_store(),
        )
        dirs = [tmp / "a", tmp / "b"]
        for d in dirs:
            d.mkdir()
        with parallel_stacks(dirs, endpoints=endpoints, debug=False) as servers:
            yield servers, pg


def script(conversation: int) -> List[Tuple[str, str]]:
    """Distinct FAQ questions (and their expected answers) for one conversation."""
    return [QUESTIONS[(conversation * 5 + t) % len(QUESTIONS)] for t in range(TURNS)]


def test_round_robin_under_load_stores_every_turn_once_in_order(region):
    servers, pg = region
    senders = [f"region-{n}-{uuid.uuid4().hex[:8]}" for n in range(CONVERSATIONS)]
    served = [0, 0]
    wrong_answers = []

    async def conversation(client: httpx.AsyncClient, n: int) -> None:
        for t, (question, response) in enumerate(script(n)):
            which = (n + t) % 2  # alternate servers turn by turn
            served[which] += 1
            r = await client.post(f"{servers[which].url}/webhooks/rest/webhook",
                                  json={"sender": senders[n], "message": question})
            r.raise_for_status()
            if joined(r.json()) != rendered(response):
                wrong_answers.append((senders[n], t, question))

    async def run() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            await asyncio.gather(*(conversation(client, n) for n in range(CONVERSATIONS)))

    asyncio.run(run())
    assert served[0] == served[1] == CONVERSATIONS * TURNS // 2
    assert wrong_answers == []

    lost, duplicated, shape = {}, {}, {}
    for n, sender in enumerate(senders):
        events = pg_events(pg, sender)
        sent = [q for q, _ in script(n)]
        stored = user_texts(events)
        if stored != sent:
            missing = [q for q in sent if q not in stored]
            extra = len(stored) - len(sent) + len(missing)
            if missing:
                lost[sender] = missing
            if extra:
                duplicated[sender] = stored
        problems = turn_problems(events)
        if problems:
            shape[sender] = problems
    assert lost == {}
    assert duplicated == {}
    assert shape == {}


def test_both_servers_see_the_same_stored_conversation(region):
    servers, pg = region
    sender = f"region-same-{uuid.uuid4().hex[:8]}"
    for t, (question, _) in enumerate(QUESTIONS[:4]):
        servers[t % 2].chat(sender, question)
    stored = pg_events(pg, sender)
    for server in servers:
        assert server.tracker(sender)["events"] == stored
    assert len(user_texts(stored)) == 4


def test_conversation_state_follows_the_user_across_servers(region):
    """'Menade du ...?' asked on server A, 'Inget av detta' answered on server B:
    B must know what A asked (from PostgreSQL) and give the honest no, not the
    reply to a stray 'no'."""
    servers, _ = region
    unsure = find_unsure(servers[0])
    sender = f"region-ladder-{uuid.uuid4().hex[:8]}"
    assert "Menade du" in joined(servers[0].chat(sender, unsure))
    assert joined(servers[1].chat(sender, "/deny")) == rendered("utter_cannot_answer")


def test_simultaneous_messages_of_one_conversation_on_both_servers_are_serialised(region):
    """Two messages of the same conversation arrive at the same moment, one on
    each server: the Redis lock store makes one wait for the other, so both
    turns are stored whole, one after the other, never interleaved."""
    servers, pg = region
    sender = f"region-race-{uuid.uuid4().hex[:8]}"
    pairs = [(QUESTIONS[2 * i][0], QUESTIONS[2 * i + 1][0]) for i in range(5)]

    async def run() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            for a, b in pairs:
                replies = await asyncio.gather(
                    client.post(f"{servers[0].url}/webhooks/rest/webhook",
                                json={"sender": sender, "message": a}),
                    client.post(f"{servers[1].url}/webhooks/rest/webhook",
                                json={"sender": sender, "message": b}),
                )
                for r in replies:
                    r.raise_for_status()
                    assert r.json(), "a turn got no reply"

    asyncio.run(run())
    events = pg_events(pg, sender)
    stored = user_texts(events)
    assert sorted(stored) == sorted(q for pair in pairs for q in pair)
    assert turn_problems(events) == []


def test_the_stores_are_really_shared(region):
    """Guard against a silent fallback to per-server SQLite or in-memory stores."""
    servers, pg = region
    assert pg.query("SELECT count(DISTINCT sender_id) FROM events")[0][0] >= CONVERSATIONS
    for server in servers:
        assert not Path(server.tracker_db).exists()
