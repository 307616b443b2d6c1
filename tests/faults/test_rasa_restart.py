"""Rasa killed mid-conversation (SIGKILL, no chance to flush anything) and
started again, on the single-machine SQLite store and on the region's
PostgreSQL store: every stored turn is still there and the conversation
continues where it was, including state that only the store remembers
(the "Menade du ...?" question that "Inget av detta" answers)."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from typing import Callable, Iterator, List, Tuple

import pytest

from tests.bot.responses import joined, rendered
from tests.scale.stacks import pg_events, sqlite_events, turn_problems, user_texts
from tests.support.local_stack import BotServer, bot_stack, postgres_server, write_endpoints
from tests.support.unsure import find_unsure

pytestmark = pytest.mark.stack  # starts real processes (Rasa, action server, servers)

Events = Callable[[str], List[dict]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request, tmp_path_factory) -> Iterator[Tuple[BotServer, Events]]:
    tmp = tmp_path_factory.mktemp(f"restart-{request.param}")
    with ExitStack() as es:
        if request.param == "sqlite":
            bot = es.enter_context(bot_stack(tmp, debug=False))
            yield bot, lambda sender: sqlite_events(bot.tracker_db, sender)
        else:
            pg = es.enter_context(postgres_server())
            endpoints = write_endpoints(tmp / "endpoints.yml", tracker_store=pg.tracker_store())
            bot = es.enter_context(bot_stack(tmp, debug=False, endpoints=endpoints))
            yield bot, lambda sender: pg_events(pg, sender)


def test_killed_rasa_loses_nothing_and_the_conversation_continues(stack):
    bot, events = stack
    sender = f"restart-{uuid.uuid4().hex[:8]}"
    unsure = find_unsure(bot)
    assert joined(bot.chat(sender, "Vad kostar en ny PUK-kod?")) == rendered(
        "utter_faq_puk_kostnad")
    assert "Menade du" in joined(bot.chat(sender, unsure))
    before = events(sender)
    old_pid = bot.pid

    bot.restart_rasa(kill=True)

    assert bot.pid != old_pid
    assert events(sender) == before  # nothing lost, nothing added by the restart
    # "Inget av detta" is answered as a reply to the question asked before the
    # crash: only possible if the conversation came back from the store.
    assert joined(bot.chat(sender, "/deny")) == rendered("utter_cannot_answer")
    assert joined(bot.chat(sender, "Hur fungerar det med företagskort?")) == rendered(
        "utter_faq_foretagskort")
    after = events(sender)
    assert after[: len(before)] == before
    assert user_texts(after) == ["Vad kostar en ny PUK-kod?", unsure, "/deny",
                                 "Hur fungerar det med företagskort?"]
    assert turn_problems(after) == []
    assert bot.tracker(sender)["events"] == after
