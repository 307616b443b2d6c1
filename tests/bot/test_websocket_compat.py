"""bot/websocket_compat.py: python-socketio's own client, websocket only, against a bare
Sanic 21.12 + python-socketio server on Python 3.11; it talks with both fixes and
fails without either."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import sanic
import socketio
import websockets
from sanic.server.websockets.impl import WebsocketImplProtocol

from bot import websocket_compat
from tests.support.local_stack import REPO, free_port

pytestmark = pytest.mark.stack


@contextmanager
def echo_server(tmp_path: Path, *flags: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.support.socketio_echo_server", str(port), *flags],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "Starting worker" not in log.read_text() and time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", log
    finally:
        server.terminate()
        server.wait(10)


async def converse(url: str) -> tuple[str, str]:
    """Two messages over a websocket-only connection; the transport and the second reply."""
    client = socketio.AsyncClient(reconnection=False)
    replies: asyncio.Queue = asyncio.Queue()
    client.on("bot_uttered", replies.put)
    await client.connect(url, transports=["websocket"], wait_timeout=5)
    try:
        for text in ("hej", "igen"):
            await client.emit("user_uttered", {"message": text})
            reply = await asyncio.wait_for(replies.get(), 5)
        return client.transport(), reply["text"]
    finally:
        await client.disconnect()
        await asyncio.sleep(0.5)  # let the server finish the closing handshake


def test_websocket_only_client_talks_with_both_fixes(tmp_path):
    with echo_server(tmp_path) as (url, log):
        assert asyncio.run(converse(url)) == ("websocket", "echo igen")
    assert "Invalid response type" not in log.read_text()
    assert "Traceback" not in log.read_text()


def test_without_the_recv_fix_the_websocket_fails(tmp_path):
    with echo_server(tmp_path, "--without-recv-fix") as (url, log):
        with pytest.raises((socketio.exceptions.ConnectionError, asyncio.TimeoutError)):
            asyncio.run(converse(url))
    assert "coroutine 'WebsocketFrameAssembler.get' was never awaited" in log.read_text()


def test_without_the_route_mark_sanic_answers_a_closed_websocket_with_a_500(tmp_path):
    with echo_server(tmp_path, "--without-route-mark") as (url, log):
        asyncio.run(converse(url))
    assert "Invalid response type None (need HTTPResponse)" in log.read_text()


async def go_silent(url: str, clients: int) -> None:
    """``clients`` websockets that connect and then never answer engine.io's pings."""
    address = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"

    async def silent() -> None:
        async with websockets.connect(address) as ws:
            await ws.recv()
            await ws.send("40")
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except (TimeoutError, websockets.ConnectionClosed):
                pass

    await asyncio.gather(*(silent() for _ in range(clients)))


def test_a_silent_client_dropped_at_the_ping_timeout_leaves_no_task_behind(tmp_path):
    with echo_server(tmp_path, "--ping", "1") as (url, log):
        asyncio.run(go_silent(url, 20))
        time.sleep(1)
        assert httpx.get(f"{url}/gc").status_code == 200
        time.sleep(0.5)
    assert "WebsocketFrameAssembler.get" not in log.read_text()


def test_the_recv_fix_is_applied_only_to_sanic_21_12(monkeypatch):
    original = WebsocketImplProtocol.recv
    monkeypatch.setattr(sanic, "__version__", "22.12.0")
    assert websocket_compat.install() is False
    assert WebsocketImplProtocol.recv is original
