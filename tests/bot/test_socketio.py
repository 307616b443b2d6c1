"""The socket.io channel (what the intranet widget uses) on the real server."""

import asyncio
import re
import uuid

import pytest
import socketio

from bot.domain_texts import code_notice
from tests.bot.responses import rendered

pytestmark = pytest.mark.stack


async def converse(url: str, session_id, messages, expect_per_message,
                   transports=("polling",)):
    """Ask for ``session_id`` (None: a new one), then talk in the session the
    server confirms (it issues its own signed id for one it did not sign)."""
    client = socketio.AsyncClient()
    replies: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("bot_uttered", lambda data: replies.put_nowait(data))
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(url, socketio_path="/socket.io", transports=list(transports))
    await client.emit("session_request", {"session_id": session_id})
    session_id = await asyncio.wait_for(confirmed, 10)
    assert client.transport() == transports[-1]
    out = []
    for message, expected in zip(messages, expect_per_message, strict=True):
        await client.emit("user_uttered", {"message": message, "session_id": session_id})
        got = [await asyncio.wait_for(replies.get(), 30) for _ in range(expected)]
        out.append(got)
    await client.disconnect()
    return out


@pytest.mark.parametrize("transports", [("websocket",), ("polling", "websocket")])
def test_a_standard_client_over_a_websocket_gets_the_answer(bot, transports):
    """python-socketio's own client, websocket only and with socket.io's usual upgrade
    (bot/websocket_compat.py makes the transport work on Sanic 21.12/Python 3.11)."""
    [replies] = asyncio.run(
        converse(bot.url, None, ["Vad kostar en ny PUK-kod?"], [2], transports=transports))
    # The channel sends each paragraph as its own message.
    assert "\n\n".join(r["text"] for r in replies) == rendered("utter_faq_puk_kostnad")
    assert "Invalid response type" not in bot.log_file.read_text()


def test_socketio_conversation_with_session_persistence(bot):
    [[reply]] = asyncio.run(converse(bot.url, None, ["Hur fungerar det med företagskort?"], [1]))
    assert reply["text"] == rendered("utter_faq_foretagskort")
    assert reply["quick_replies"][0]["payload"] == "/faq_vad_ska_jag_gora"


async def confirmed_id(url: str, requested) -> str:
    client = socketio.AsyncClient()
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    await client.emit("session_request", {"session_id": requested})
    try:
        return await asyncio.wait_for(confirmed, 10)
    finally:
        await client.disconnect()


def test_session_ids_are_issued_by_the_server_and_kept_on_reconnect(bot):
    """A client's own id is replaced by a signed one; the signed one is kept
    when the client comes back with it (the widget's reload)."""
    for requested in (None, uuid.uuid4().hex, "anna", f"{uuid.uuid4().hex}.{'0' * 32}"):
        issued = asyncio.run(confirmed_id(bot.url, requested))
        assert issued != requested
        assert re.fullmatch(r"[0-9a-f]{32}\.[0-9a-f]{32}", issued)
        assert asyncio.run(confirmed_id(bot.url, issued)) == issued


def test_a_session_survives_a_new_connection(bot):
    first = asyncio.run(confirmed_id(bot.url, None))
    [[reply]] = asyncio.run(converse(bot.url, first, ["Hur fungerar det med företagskort?"], [1]))
    assert reply["text"] == rendered("utter_faq_foretagskort")
    texts = [e.get("text") for e in bot.tracker(first)["events"] if e["event"] == "user"]
    assert texts == ["Hur fungerar det med företagskort?"]


def test_socketio_masks_codes_too(bot):
    [replies] = asyncio.run(converse(bot.url, None, ["min puk är 12345678"], [2]))
    assert replies[0]["text"] == code_notice()
    assert "12345678" not in bot.log_file.read_text()
