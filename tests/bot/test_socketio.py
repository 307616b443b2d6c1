"""The socket.io channel (what the intranet widget uses) on the real server."""

import asyncio
import uuid

import socketio

from bot.channels import CODE_NOTICE
from tests.bot.responses import rendered


async def converse(url: str, session_id: str, messages, expect_per_message):
    client = socketio.AsyncClient()
    replies: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("bot_uttered", lambda data: replies.put_nowait(data))
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    await client.emit("session_request", {"session_id": session_id})
    assert await asyncio.wait_for(confirmed, 10) == session_id
    out = []
    for message, expected in zip(messages, expect_per_message, strict=True):
        await client.emit("user_uttered", {"message": message, "session_id": session_id})
        got = [await asyncio.wait_for(replies.get(), 30) for _ in range(expected)]
        out.append(got)
    await client.disconnect()
    return out


def test_socketio_conversation_with_session_persistence(bot):
    session = uuid.uuid4().hex
    [[reply]] = asyncio.run(converse(bot.url, session, ["Hur fungerar det med företagskort?"], [1]))
    assert reply["text"] == rendered("utter_faq_foretagskort")
    assert reply["quick_replies"][0]["payload"] == "/faq_vad_ska_jag_gora"


def test_socketio_masks_codes_too(bot):
    session = uuid.uuid4().hex
    [replies] = asyncio.run(converse(bot.url, session, ["min puk är 12345678"], [2]))
    assert replies[0]["text"] == CODE_NOTICE
    assert "12345678" not in bot.log_file.read_text()
