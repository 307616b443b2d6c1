"""A second socket.io client tries to read or write another's conversation
(issue 10, point 3), on the real stack.

* Workstation (no sign-in): session ids are issued and signed by the server.
  Client B knows A's conversation id (what the tracker store and the logs
  show) and asks for it, and sends messages naming A's session: B gets none
  of A's replies and nothing of B's lands in A's conversation.
* Central server (the intranet's JWT): B is signed in as another user and
  even holds A's full session id: B still gets a session of its own. Without
  a valid token there is no connection and no REST call.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, List, Optional

import httpx
import jwt
import pytest
import socketio
import websockets

from tests.support.local_stack import BotServer, bot_stack, free_port

pytestmark = pytest.mark.stack

JWT_KEY = "intranet-test-signing-key-" + uuid.uuid4().hex
QUESTION = "Hur fungerar det med företagskort?"
OTHER_QUESTION = "Vad kostar en ny PUK-kod?"


def run_async(coro):  # noqa: ANN001, ANN201 - any coroutine
    """asyncio.run in a thread of its own (safe next to Playwright's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _stack(tmp: Path, env: Optional[dict] = None) -> Any:
    no_agent = {"CARDAGENT_URL": f"http://127.0.0.1:{free_port()}", "CARDAGENT_TOKEN": "x",
                **(env or {})}
    return bot_stack(tmp, extra_env=no_agent, debug=False)


@pytest.fixture(scope="module")
def workstation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    with _stack(tmp_path_factory.mktemp("sio-ws")) as bot:
        yield bot


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    with _stack(tmp_path_factory.mktemp("sio-jwt"), {"BOT_JWT_KEY": JWT_KEY}) as bot:
        yield bot


def tag() -> str:
    """A random word without digits (digits could be masked as a code)."""
    return uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))


def sign_in(user: str, key: str = JWT_KEY, minutes: int = 10) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + minutes * 60}, key,
                      algorithm="HS256")


class Client:
    """One socket.io client as the widget uses it (polling)."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient()
        self.replies: List[dict] = []
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.sio.on("bot_uttered", self.replies.append)
        self.sio.on("session_confirm", self.confirmed.put_nowait)

    async def connect(self, url: str, token: Optional[str] = None) -> None:
        await self.sio.connect(url, socketio_path="/socket.io", transports=["polling"],
                               auth={"token": token} if token else None, wait_timeout=10)

    async def session(self, requested: Any) -> str:
        await self.sio.emit("session_request", {"session_id": requested})
        return await asyncio.wait_for(self.confirmed.get(), 10)

    async def say(self, session: str, message: str) -> None:
        await self.sio.emit("user_uttered", {"message": message, "session_id": session})

    async def wait_replies(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.replies) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert len(self.replies) >= count, f"only {len(self.replies)} replies"


def senders_with_text(bot: BotServer, text: str) -> List[str]:
    """The conversations (tracker sender ids) that hold a user message ``text``:
    what anyone who can read the store or the logs learns."""
    with sqlite3.connect(bot.tracker_db) as conn:
        rows = conn.execute(
            "SELECT sender_id, data FROM events WHERE type_name = 'user'").fetchall()
    return sorted({s for s, data in rows if json.loads(data).get("text") == text})


def user_texts(bot: BotServer, sender: str) -> List[str]:
    with sqlite3.connect(bot.tracker_db) as conn:
        rows = conn.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'",
                            (sender,)).fetchall()
    return [json.loads(d).get("text") for (d,) in rows]


def test_a_second_client_cannot_join_or_write_another_conversation(workstation):
    bot = workstation
    marker = f"{QUESTION} {tag()}"

    async def scenario() -> None:
        a, b = Client(), Client()
        await a.connect(bot.url)
        a_session = await a.session(None)
        await a.say(a_session, marker)
        await a.wait_replies(1)
        [a_conversation] = senders_with_text(bot, marker)

        await b.connect(bot.url)
        # B asks for A's conversation by every name it could know or guess.
        for guess in (a_conversation, a_conversation.removeprefix("sio-"),
                      f"{a_conversation.removeprefix('sio-')}.{'0' * 32}"):
            got = await b.session(guess)
            assert got != a_session and got != guess
        # ... and writes naming A's session and A's conversation.
        for name in (a_session, a_conversation):
            await b.say(name, "/order_puk")
        b.replies.clear()

        a_before = len(a.replies)
        await a.say(a_session, OTHER_QUESTION)
        await a.wait_replies(a_before + 1)
        await asyncio.sleep(3)
        assert b.replies == [], "B received A's replies"
        assert user_texts(bot, a_conversation) == [marker, OTHER_QUESTION]
        await a.sio.disconnect()
        await b.sio.disconnect()

    run_async(scenario())


def test_a_signed_in_user_cannot_take_another_users_session(central):
    bot = central
    marker = f"{QUESTION} {tag()}"

    async def scenario() -> None:
        a, b = Client(), Client()
        await a.connect(bot.url, sign_in("alice@region.example"))
        a_session = await a.session(None)
        await a.say(a_session, marker)
        await a.wait_replies(1)
        [a_conversation] = senders_with_text(bot, marker)

        # B is signed in (as bob) and even holds A's full session id.
        await b.connect(bot.url, sign_in("bob@region.example"))
        b_session = await b.session(a_session)
        assert b_session != a_session
        await b.say(a_session, "/order_puk")
        b.replies.clear()

        a_before = len(a.replies)
        await a.say(a_session, OTHER_QUESTION)
        await a.wait_replies(a_before + 1)
        await asyncio.sleep(3)
        assert b.replies == [], "B received A's replies"
        assert user_texts(bot, a_conversation) == [marker, OTHER_QUESTION]

        # Alice herself comes back with her id (a reload) and keeps it.
        again = Client()
        await again.connect(bot.url, sign_in("alice@region.example"))
        assert await again.session(a_session) == a_session
        for client in (a, b, again):
            await client.sio.disconnect()

    run_async(scenario())


@pytest.mark.parametrize("token", [
    None,
    "not-a-jwt",
    sign_in("mallory", key="another-key-" + uuid.uuid4().hex),
    sign_in("alice@region.example", minutes=-5),
    jwt.encode({"sub": "alice@region.example"}, JWT_KEY, algorithm="HS256"),  # no exp
], ids=["none", "garbage", "wrong-key", "expired", "no-expiry"])
def test_no_connection_without_a_valid_sign_in(central, token):
    async def connect() -> bool:
        client = Client()
        try:
            await client.connect(central.url, token)
        except socketio.exceptions.ConnectionError:
            return False
        await client.sio.disconnect()
        return True

    assert run_async(connect()) is False


def test_a_refused_sign_in_also_loses_its_engineio_session(central):
    """Refused at socket.io's CONNECT, the engine.io session under it is closed too (its
    CLOSE packet follows the refusal): it is not kept alive by answering pings."""
    address = central.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"

    async def after_refusal() -> list:
        async with websockets.connect(address) as ws:
            await ws.recv()  # engine.io's open packet
            await ws.send("40")  # socket.io CONNECT without a token
            assert "Connection rejected" in await asyncio.wait_for(ws.recv(), 10)
            return [await asyncio.wait_for(ws.recv(), 10)]

    assert run_async(after_refusal()) == ["1"]  # engine.io CLOSE


def test_rest_behind_the_same_sign_in(central):
    url = f"{central.url}/webhooks/rest/webhook"
    sender = "rest-" + uuid.uuid4().hex[:8]
    body = {"sender": sender, "message": OTHER_QUESTION}
    assert httpx.post(url, json=body, timeout=30).status_code == 401
    wrong = sign_in("mallory", key="another-key-" + uuid.uuid4().hex)
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {wrong}"},
                      timeout=30).status_code == 401
    assert senders_with_text(central, OTHER_QUESTION + " rest") == []
    ok = httpx.post(url, json={**body, "message": OTHER_QUESTION + " rest"},
                    headers={"Authorization": f"Bearer {sign_in('bob@region.example')}"},
                    timeout=30)
    assert ok.status_code == 200 and ok.json()
    # Bob's REST conversation is his, whatever sender he names.
    [stored] = senders_with_text(central, OTHER_QUESTION + " rest")
    assert stored != sender and stored.endswith(f":{sender}")
