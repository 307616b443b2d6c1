"""Bad input over REST and socket.io: no crash, a sane reply or a clear 4xx,
and nothing stored that should not be. (tests/bot/test_conversations.py
already covers non-JSON, a JSON list, a missing/empty sender, a numeric
message and plain odd messages over REST; this adds the rest.)"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import Dict, Iterator, List, Optional

import httpx
import pytest
import socketio

from bot.sign_in import conversation_id
from tests.scale.stacks import sqlite_events, user_texts
from tests.support.local_stack import BotServer, bot_stack

pytestmark = pytest.mark.stack  # starts real processes (Rasa, action server, servers)

SECRET = "48291375"  # a code-like number hidden in bad input: must be masked


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Iterator[BotServer]:
    with bot_stack(tmp_path_factory.mktemp("bad-input")) as server:
        yield server


def stored_senders(bot: BotServer) -> set:
    with sqlite3.connect(bot.tracker_db) as db:
        return {r[0] for r in db.execute("SELECT DISTINCT sender_id FROM events")}


def all_stored_text(bot: BotServer) -> str:
    with sqlite3.connect(bot.tracker_db) as db:
        return "\n".join(r[0] for r in db.execute("SELECT data FROM events"))


def assert_sane(reply: list) -> None:
    assert isinstance(reply, list) and reply, "no reply"
    for m in reply:
        text = m.get("text", "")
        assert "Traceback" not in text and "Exception" not in text
        assert "<script" not in text and "onerror" not in text


def assert_alive(bot: BotServer) -> None:
    assert httpx.get(f"{bot.url}/", timeout=10).status_code == 200
    assert "200 kr" in " ".join(
        m.get("text", "") for m in bot.chat(f"alive-{uuid.uuid4().hex[:6]}",
                                            "Vad kostar en ny PUK-kod?"))


ODD_MESSAGES = {
    "control-chars": f"\x00\x01\x07hej\x1b[31m\x7f pin {SECRET}\r\n\t",
    "rtl-override-and-zero-width": "\u202eedok KUP\u200b\u200d\ufeff ny PUK-kod?",
    "html": f"<b>Vad kostar</b> en <i>PUK-kod</i>? <img src=x onerror=alert(1)> {SECRET}",
    "script": f"<script>fetch('/x?c={SECRET}')</script>",
    "emoji-only-long": "🔑💳😡" * 300,
    "10000-chars-with-a-code": ("Vad kostar en ny PUK-kod? " * 400)[:5000] + f" puk {SECRET} "
    + ("certifikat " * 500)[: 10000 - 5000 - 15],
    "sql": "x'); DROP TABLE events; --",
    "template": "{servicecenter_contact} {{7*7}} ${ACTION_ENDPOINT_URL} %s %n",
    "newlines-only": "\n\n\n",
}


@pytest.mark.parametrize("message", ODD_MESSAGES.values(), ids=ODD_MESSAGES.keys())
def test_odd_rest_messages_get_a_sane_reply_and_codes_are_not_stored(bot, message):
    sender = f"odd-{uuid.uuid4().hex[:8]}"
    assert_sane(bot.chat(sender, message))
    stored = user_texts(sqlite_events(bot.tracker_db, sender))
    assert len(stored) == 1
    assert SECRET not in stored[0]
    assert SECRET not in bot.log_file.read_text()
    assert_alive(bot)


BAD_BODIES = {
    "truncated-json": b'{"sender": "a", "message": "hej"',
    "json-null": b"null",
    "json-string": b'"hej"',
    "empty-body": b"",
    "invalid-utf8": b'{"sender": "bad-utf8", "message": "\xff\xfe hej"}',
    "message-object": b'{"sender": "bad-obj", "message": {"text": "hej"}}',
    "message-list": b'{"sender": "bad-list", "message": ["hej"]}',
    "message-null": b'{"sender": "bad-null", "message": null}',
    "sender-int": b'{"sender": 42, "message": "hej"}',
    "sender-null": b'{"sender": null, "message": "hej"}',
    "sender-list": b'{"sender": ["a"], "message": "hej"}',
    "sender-object": b'{"sender": {"id": "a"}, "message": "hej"}',
    "sender-bool": b'{"sender": true, "message": "hej"}',
    "sender-whitespace": b'{"sender": "   ", "message": "hej"}',
    "sender-too-long": b'{"sender": "' + b"s" * 257 + b'", "message": "hej"}',
    "deeply-nested": b'{"sender": "bad-deep", "message": ' + b"[" * 5000 + b"]" * 5000 + b"}",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_rest_bodies_get_a_clear_4xx_and_store_nothing(bot, body):
    before = stored_senders(bot)
    reply = httpx.post(f"{bot.url}/webhooks/rest/webhook", content=body,
                       headers={"Content-Type": "application/json"}, timeout=30)
    assert 400 <= reply.status_code < 500, reply.text[:300]
    assert "Traceback" not in reply.text
    assert stored_senders(bot) == before
    assert_alive(bot)


def test_wrong_method_and_content_type(bot):
    url = f"{bot.url}/webhooks/rest/webhook"
    assert 400 <= httpx.get(url, timeout=10).status_code < 500
    before = stored_senders(bot)
    r = httpx.post(url, content=b"sender=a&message=hej",
                   headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert 400 <= r.status_code < 500
    assert stored_senders(bot) == before


UNUSUAL_SENDERS = {
    "emoji": "😀-user",
    "path-traversal": "../../etc/passwd",
    "sql": "x'; DROP TABLE events; --",
    "html": "<script>alert(1)</script>",
    "spaces-and-slashes": "anna / vårdcentral öst",
    "max-length": "s" * 256,
}


@pytest.mark.parametrize("sender", UNUSUAL_SENDERS.values(), ids=UNUSUAL_SENDERS.keys())
def test_unusual_sender_ids_are_kept_apart_verbatim(bot, sender):
    sender = f"{sender}{uuid.uuid4().hex[:4]}"[-256:]
    assert_sane(bot.chat(sender, "Hur fungerar det med företagskort?"))
    assert sender in stored_senders(bot)
    assert user_texts(sqlite_events(bot.tracker_db, sender)) == [
        "Hur fungerar det med företagskort?"]
    assert_alive(bot)


# --- socket.io (polling transport, as the widget uses) ---

# The test's session name -> the conversation of the id the server issued.
ISSUED: Dict[str, str] = {}

async def sio_session(url: str, session_id, emits: List[dict],
                      waits: Optional[List[float]] = None) -> List[Optional[list]]:
    """Connect, ask for a session, emit each ``user_uttered`` payload and
    collect the bot's replies to each (None: none came within a few seconds).
    Every payload is followed by nothing else, so replies are per payload.
    The server issues its own (signed) session id: payloads that name
    ``session_id`` are sent with that one; ``ISSUED[session_id]`` names its
    conversation (the tracker's sender id)."""
    client = socketio.AsyncClient()
    replies: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("bot_uttered", lambda data: replies.put_nowait(data))
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    await client.emit("session_request", {})
    issued = await asyncio.wait_for(confirmed, 10)
    ISSUED[session_id] = conversation_id(issued)
    out: List[Optional[list]] = []
    try:
        for payload, wait in zip(emits, waits or [30.0] * len(emits), strict=True):
            if isinstance(payload, dict) and payload.get("session_id") == session_id:
                payload = {**payload, "session_id": issued}
            await client.emit("user_uttered", payload)
            got = []
            try:
                got.append(await asyncio.wait_for(replies.get(), wait))
                while True:
                    got.append(await asyncio.wait_for(replies.get(), 1.5))
            except TimeoutError:
                pass
            out.append(got or None)
    finally:
        await client.disconnect()
    return out


SIO_ODD = {
    "empty": "",
    "emoji-only": "😀😀😀",
    "control-chars": f"\x00\x1b[2Jhej {SECRET}\x7f",
    "html-script": f"<script>alert({SECRET})</script><b>PUK</b>",
    "10000-chars": ("Vad kostar en ny PUK-kod? " * 400)[:10000],
}


@pytest.mark.parametrize("message", SIO_ODD.values(), ids=SIO_ODD.keys())
def test_odd_socketio_messages_get_a_sane_reply(bot, message):
    session = uuid.uuid4().hex
    [reply] = asyncio.run(sio_session(bot.url, session,
                                      [{"message": message, "session_id": session}]))
    assert reply, "no reply over socket.io"
    for m in reply:
        assert "Traceback" not in m.get("text", "") and "<script" not in m.get("text", "")
    stored = user_texts(sqlite_events(bot.tracker_db, ISSUED[session]))
    assert len(stored) == 1 and SECRET not in stored[0]


SIO_BAD = {
    "no-message-key": {"session_id": "S"},
    "message-null": {"message": None, "session_id": "S"},
    "message-int": {"message": 42, "session_id": "S"},
    "message-list": {"message": ["hej"], "session_id": "S"},
    "metadata-not-json": {"message": "hej", "session_id": "S", "customData": "{not json"},
    "no-session-id": {"message": "hej"},
    "session-id-int": {"message": "hej", "session_id": 42},
    "payload-string": "hej",
    "payload-list": ["hej"],
}


@pytest.mark.parametrize("payload", [
    v if isinstance(v, type(pytest.param(0))) else pytest.param(v, id=k)
    for k, v in SIO_BAD.items()])
def test_bad_socketio_payloads_do_not_break_the_session(bot, payload):
    """A broken payload may get no reply, but the server and this very
    connection keep working, and nothing is stored for a payload that was
    rejected (only whole messages with a session are stored)."""
    session = uuid.uuid4().hex
    if isinstance(payload, dict) and payload.get("session_id") == "S":
        payload = {**payload, "session_id": session}
    before = stored_senders(bot)
    bad_reply, good_reply = asyncio.run(sio_session(bot.url, session, [
        payload, {"message": "Vad kostar en ny PUK-kod?", "session_id": session}],
        waits=[4.0, 30.0]))
    assert good_reply and "200 kr" in " ".join(m.get("text", "") for m in good_reply)
    for m in bad_reply or []:
        assert "Traceback" not in m.get("text", "")
    new = stored_senders(bot) - before
    session = ISSUED[session]
    assert new <= {session}
    texts = user_texts(sqlite_events(bot.tracker_db, session))
    assert texts[-1] == "Vad kostar en ny PUK-kod?"
    assert all(isinstance(t, str) for t in texts)
    assert "42" not in new
    assert_alive(bot)


def test_nothing_secret_anywhere_after_all_that(bot):
    assert SECRET not in all_stored_text(bot)
    assert SECRET not in bot.log_file.read_text()
