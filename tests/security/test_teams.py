"""Issue 10, Teams, as an attacker does it, on the real Rasa with the local
Microsoft mock (tests/teams/mock_microsoft.py):

* a correctly signed activity from another tenant is refused and leaves no trace
  (no reply, nothing stored, its text not logged);
* an activity signed with a key that has no channel endorsements is refused,
  whatever channel it claims;
* a code hidden in Teams HTML (``12<b>34</b>56``) is masked before anything
  stores it, and the user is told truthfully that Teams keeps the message;
* a flood of activities while Microsoft's key endpoint is down and slow makes
  one key fetch, not one per request under a lock, and gets 503 quickly.

Run with the stack lock: ``flock /tmp/siths-stack.lock .venv/bin/python -m pytest
tests/security/test_teams.py``."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, List

import httpx
import pytest

from bot.domain_texts import teams_code_notice
from tests.support.local_stack import BotServer
from tests.teams.mock_microsoft import MockMicrosoft
from tests.widget.stack import start_bot

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def mock() -> Iterator[MockMicrosoft]:
    server = MockMicrosoft(app_id=str(uuid.uuid4()), app_password="hemligt-test",
                           tenant_id=str(uuid.uuid4()))
    yield server
    server.close()


@pytest.fixture(scope="module")
def bot(mock, tmp_path_factory) -> Iterator[BotServer]:
    with start_bot(tmp_path_factory.mktemp("teams-security"), env=mock.env()) as server:
        yield server


def post(bot: BotServer, activity: dict, token: str) -> httpx.Response:
    return httpx.post(f"{bot.url}/webhooks/teams/webhook", json=activity,
                      headers={"Authorization": f"Bearer {token}"}, timeout=60)


def stored(bot: BotServer) -> str:
    with sqlite3.connect(bot.tracker_db) as db:
        return "\n".join(r[0] for r in db.execute("SELECT data FROM events"))


def user_texts(bot: BotServer, sender: str) -> List[str]:
    with sqlite3.connect(bot.tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id",
                          (sender,)).fetchall()
    return [e["text"] for e in map(json.loads, (r[0] for r in rows)) if e["event"] == "user"]


def senders(bot: BotServer) -> set:
    with sqlite3.connect(bot.tracker_db) as db:
        return {r[0] for r in db.execute("SELECT DISTINCT sender_id FROM events")}


def replies_in(mock: MockMicrosoft, conversation: str) -> List[dict]:
    """The bot's messages in ``conversation`` (not its typing indicators)."""
    return [a for a in mock.activities
            if a["conversation"]["id"] == conversation and a["type"] == "message"]


def anything_in(mock: MockMicrosoft, conversation: str) -> List[dict]:
    """Every activity the bot sent in ``conversation``, typing indicators too."""
    return [a for a in mock.activities if a["conversation"]["id"] == conversation]


def wait_replies(mock: MockMicrosoft, conversation: str, count: int) -> List[dict]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = replies_in(mock, conversation)
        if len(got) >= count:
            return got
        time.sleep(0.2)
    raise AssertionError(f"expected {count} replies in {conversation}")


@pytest.mark.parametrize("where", ["conversation", "channelData", "both"])
def test_an_activity_from_another_tenant_is_refused_without_a_trace(bot, mock, where):
    user, conv = f"29:intruder-{uuid.uuid4().hex[:8]}", f"a:{uuid.uuid4().hex}"
    secret = f"hemlig-fråga-{uuid.uuid4().hex[:6]}"
    activity = mock.activity(f"Vad kostar en PUK-kod? {secret}", user=user, conversation=conv)
    if where in ("conversation", "both"):
        activity["conversation"]["tenantId"] = str(uuid.uuid4())
    if where in ("channelData", "both"):
        activity["channelData"]["tenant"]["id"] = str(uuid.uuid4())
    assert post(bot, activity, mock.signed()).status_code == 403
    time.sleep(1)
    assert anything_in(mock, conv) == []
    assert user not in senders(bot)
    assert secret not in bot.log_file.read_text() and secret not in stored(bot)


@pytest.mark.parametrize("channel", ["msteams", "webchat", "emulator"])
def test_a_key_without_endorsements_cannot_sign_for_any_channel(bot, mock, channel):
    user, conv = f"29:forger-{uuid.uuid4().hex[:8]}", f"a:{uuid.uuid4().hex}"
    activity = mock.activity("Vad kostar en PUK-kod?", user=user, conversation=conv,
                             channelId=channel)
    token = mock.signed(key=mock.bare_key, kid=mock.bare_kid)
    assert post(bot, activity, token).status_code == 401
    time.sleep(1)
    assert anything_in(mock, conv) == []
    assert user not in senders(bot)


def test_a_code_in_teams_html_is_masked_and_the_notice_is_true(bot, mock):
    user, conv = f"29:user-{uuid.uuid4().hex[:8]}", f"a:{uuid.uuid4().hex}"
    activity = mock.activity("<p>min pin är 73<b>91</b>46</p>", user=user, conversation=conv)
    assert post(bot, activity, mock.signed()).status_code == 200
    replies = wait_replies(mock, conv, 1)
    assert replies[0]["text"] == teams_code_notice()
    assert "Microsoft 365" in teams_code_notice()
    everything = stored(bot) + bot.log_file.read_text()
    for secret in ("739146", "73<b>91</b>46", "73&lt;b&gt;91"):
        assert secret not in everything, secret
    assert user_texts(bot, user) == ["min pin är [dold kod]"]


def test_a_flood_while_microsoft_is_down_makes_one_key_fetch(tmp_path):
    """Microsoft's key endpoint answers after 2 s with an error. Ten activities
    at once: one fetch between them, all answered 503 within the fetch's time
    (the old code fetched once per request under one lock: 10 x 2 s); the next
    ten, during the backoff, fetch nothing."""
    down = MockMicrosoft(app_id=str(uuid.uuid4()), app_password="x",
                         tenant_id=str(uuid.uuid4()), openid_status=503, openid_delay=2.0)
    try:
        with start_bot(tmp_path, env={**down.env(), "TEAMS_HTTP_TIMEOUT": "5"},
                       actions=False) as bot:
            def one(_: int) -> int:
                return post(bot, down.activity("hej"), down.signed()).status_code

            with ThreadPoolExecutor(10) as pool:
                started = time.monotonic()
                statuses = list(pool.map(one, range(10)))
                first = time.monotonic() - started
                assert statuses == [503] * 10
                assert down.openid_requests == 1
                statuses = list(pool.map(one, range(10)))
            assert statuses == [503] * 10
            assert down.openid_requests == 1
            assert first < 10, f"ten requests took {first:.1f} s"
            # The other channels keep answering.
            answer = httpx.post(f"{bot.url}/webhooks/rest/webhook",
                                json={"sender": "t", "message": "hej"}, timeout=30)
            assert answer.status_code == 200
    finally:
        down.close()
