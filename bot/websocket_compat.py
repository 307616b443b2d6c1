"""Makes socket.io's websocket transport work on Rasa 3.6's Sanic 21.12 and Python 3.11.

Two faults stand in the way, both outside this repo; each is fixed here at its
narrowest point, and ``tests/bot/test_websocket_compat.py`` fails without either.

1. **Sanic 21.12 on Python 3.11.** ``WebsocketImplProtocol.recv`` (and
   ``recv_burst``) pass a bare coroutine to ``asyncio.wait``, which Python 3.11
   refuses (``TypeError: Passing coroutines is forbidden``). So the first
   ``recv`` of every websocket fails and engine.io closes the connection. Sanic
   fixed it upstream (sanic-org/sanic#2377, in Sanic 22.x) by wrapping the
   coroutine in a task; Rasa 3.6 pins ``sanic<21.13``, so :func:`install` applies
   the same change to 21.12. It is applied only to Sanic 21.12.x: a Sanic
   without the fault is left alone.

2. **python-engineio's Sanic driver on Sanic 21.12.** engine.io answers the
   websocket inside an ordinary HTTP route and returns ``None`` when the socket
   ends. Sanic accepts ``None`` only from handlers marked ``is_websocket``; for
   any other it raises "Invalid response type None (need HTTPResponse)" and
   writes an HTTP 500 page into the upgraded connection, which clients read as
   a broken frame ("Received fragmented control frame", "RSV1 must be clear").
   :func:`mark_websocket_route` gives one engine.io server a route handler that
   carries the mark. Long-polling requests still return their responses.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, Sequence

import sanic
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.connection import CLOSED

try:  # Sanic 21.12 has both names; keep the import narrow.
    from sanic.exceptions import ServerError, WebsocketClosed
except ImportError:  # pragma: no cover - only on a Sanic without the fault
    ServerError = WebsocketClosed = None  # type: ignore[assignment,misc]

_PATCHED_FLAG = "_siths_py311_recv"


def needs_recv_fix() -> bool:
    """True on the Sanic release line with the bare-coroutine ``asyncio.wait``."""
    return sanic.__version__.startswith("21.12.")


async def _next_message(self: WebsocketImplProtocol, timeout: float | None) -> Any:
    """The assembler's next message, or CancelledError when recv is cancelled: Sanic
    21.12's wait, with the assembler's coroutine wrapped in a task (and that task
    cancelled with it: engine.io's ping timeout cancels recv, and the getter must not
    outlive it, "Task was destroyed but it is pending!" for every silent client)."""
    getter = asyncio.ensure_future(self.assembler.get(timeout))
    try:
        done, _ = await asyncio.wait(
            (self.recv_cancel, getter), return_when=asyncio.FIRST_COMPLETED
        )
        if self.recv_cancel in done:
            raise asyncio.CancelledError()
        return getter.result()
    finally:
        if not getter.done():
            getter.cancel()


def _refuse_a_second_receiver(self: WebsocketImplProtocol, method: str) -> None:
    if self.recv_lock.locked():
        raise ServerError(
            f"cannot call {method} while another task is already waiting for the next message"
        )


async def _recv(self: WebsocketImplProtocol, timeout: float | None = None) -> Any:
    # Sanic 21.12's recv, receiving through _next_message.
    _refuse_a_second_receiver(self, "recv")
    await self.recv_lock.acquire()
    if self.connection.state is CLOSED:
        self.recv_lock.release()
        raise WebsocketClosed("Cannot receive from websocket interface after it is closed.")
    try:
        self.recv_cancel = asyncio.Future()
        message = await _next_message(self, timeout)
        self.recv_cancel.cancel()
        return message
    finally:
        self.recv_cancel = None
        self.recv_lock.release()


async def _recv_burst(self: WebsocketImplProtocol, max_recv: int = 256) -> Sequence[Any]:
    # Sanic 21.12's recv_burst, receiving through _next_message.
    _refuse_a_second_receiver(self, "recv_burst")
    await self.recv_lock.acquire()
    if self.connection.state is CLOSED:
        self.recv_lock.release()
        raise WebsocketClosed("Cannot receive from websocket interface after it is closed.")
    messages = []
    try:
        self.can_pause = False
        self.recv_cancel = asyncio.Future()
        while len(messages) < max_recv:
            message = await _next_message(self, 0)
            if message is None:
                break
            messages.append(message)
            await asyncio.sleep(0)
        self.recv_cancel.cancel()
    finally:
        self.recv_cancel = None
        self.can_pause = True
        self.recv_lock.release()
    return messages


def install() -> bool:
    """Applies fix 1 once per process; returns whether Sanic needed it."""
    if not needs_recv_fix():
        return False
    if not getattr(WebsocketImplProtocol, _PATCHED_FLAG, False):
        WebsocketImplProtocol.recv = _recv  # type: ignore[method-assign]
        WebsocketImplProtocol.recv_burst = _recv_burst  # type: ignore[method-assign]
        setattr(WebsocketImplProtocol, _PATCHED_FLAG, True)
    return True


def mark_websocket_route(engineio_server: Any) -> None:
    """Fix 2 for one engine.io server: call before it is attached to the app
    (Rasa's ``SocketBlueprint`` attaches it when the blueprint is registered)."""
    driver: Dict[str, Any] = dict(engineio_server._async)
    register: Callable[..., None] = driver["create_route"]

    def create_route(app: Any, server: Any, endpoint: str) -> None:
        async def handle_request(request: Any, *args: Any, **kwargs: Any) -> Any:
            return await server.handle_request(request, *args, **kwargs)

        handle_request.is_websocket = True  # type: ignore[attr-defined]
        handle_request.__name__ = "engineio_handle_request"
        register(app, _HandlerOverride(server, handle_request), endpoint)

    driver["create_route"] = create_route
    engineio_server._async = driver


class _HandlerOverride:
    """What the driver's ``create_route`` sees as the server: only its
    ``handle_request`` is read there."""

    def __init__(self, server: Any, handle_request: Callable[..., Any]) -> None:
        self._server = server
        self.handle_request = handle_request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)
