"""Reply latency over the socket.io channel, the intranet widget's path.

Each simulated user is one widget: its own python-socketio connection
(``/socket.io``, websocket or long-polling only), the widget's ``Origin``, a
server-issued session (``session_request`` -> ``session_confirm``) and messages
as ``user_uttered``. A reply comes as one or more ``bot_uttered`` events (one
per paragraph, FAQ answers also the feedback payload), so the number of events
differs from REST's number of messages and may depend on the conversation.

When is a turn complete? Each ``user_uttered`` is emitted with an
acknowledgement: python-socketio sends the ack when the server's handler
returns, i.e. after Rasa has emitted every ``bot_uttered`` of the turn, on the
same connection and so after them. The latency of a message is the time from
the emit to the arrival of the turn's *last* ``bot_uttered`` (the ack itself is
not counted). ``late_replies`` counts ``bot_uttered`` events that arrived
while no turn was open (and in a short quiet period after the last one): it
stays 0 when the rule holds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Dict, List, Optional, Sequence

import socketio

from benchmarks.common import percentiles

SOCKETIO_PATH = "/socket.io"
TRANSPORTS = ("websocket", "polling")


class TurnError(Exception):
    """A turn without any bot_uttered before its acknowledgement."""


class Widget:
    """One widget: one socket.io connection and its current conversation."""

    def __init__(self, url: str, transport: str, origin: Optional[str],
                 timeout: float) -> None:
        self.url, self.transport, self.origin, self.timeout = url, transport, origin, timeout
        self.client = socketio.AsyncClient(reconnection=False)
        self.session_id = ""
        self.turn_open = False
        self.arrivals: List[float] = []  # arrival times of this turn's bot_uttered
        self.late = 0
        self._confirmed: Optional[asyncio.Future] = None
        self.client.on("bot_uttered", self._on_bot_uttered)
        self.client.on("session_confirm", self._on_session_confirm)

    def _on_bot_uttered(self, *_data: object) -> None:
        if self.turn_open:
            self.arrivals.append(asyncio.get_running_loop().time())
        else:
            self.late += 1

    def _on_session_confirm(self, session_id: str) -> None:
        if self._confirmed and not self._confirmed.done():
            self._confirmed.set_result(session_id)

    async def open(self) -> None:
        await self.client.connect(
            self.url, socketio_path=SOCKETIO_PATH, transports=[self.transport],
            headers={"Origin": self.origin} if self.origin else {},
            wait_timeout=self.timeout)

    async def new_conversation(self) -> None:
        """A new server-issued session on this connection (the widget's
        "new conversation"): the connection leaves the old one's room."""
        self._confirmed = asyncio.get_running_loop().create_future()
        await self.client.emit("session_request", {"session_id": None})
        self.session_id = await asyncio.wait_for(self._confirmed, self.timeout)

    async def turn(self, text: str) -> tuple[float, int]:
        """Send ``text``; (ms until the turn's last bot_uttered, how many arrived)."""
        loop = asyncio.get_running_loop()
        self.arrivals, self.turn_open = [], True
        start = loop.time()
        try:
            await self.client.call("user_uttered",
                                   {"message": text, "session_id": self.session_id},
                                   timeout=self.timeout)
        finally:
            self.turn_open = False
        if not self.arrivals:
            raise TurnError("no bot_uttered before the acknowledgement")
        return (self.arrivals[-1] - start) * 1000, len(self.arrivals)

    async def close(self) -> None:
        try:
            await self.client.disconnect()
        except Exception:  # a broken connection is closed anyway
            pass
        # After a refused connection engine.io's polling loop may still be running and
        # open a new HTTP session: let it end, then close what it left.
        loop_task = getattr(self.client.eio, "read_loop_task", None)
        if loop_task is not None and not loop_task.done():
            await asyncio.wait([loop_task], timeout=5)
        http = self.client.eio.http
        if http is not None and not http.closed:
            await http.close()


async def socketio_closed_loop(url: str, texts: Sequence[str], concurrency: int,
                               seconds: float, transport: str, *,
                               origin: Optional[str] = None, timeout: float = 60,
                               turns_per_conversation: int = 8,
                               quiet_s: float = 1.0) -> Dict:
    """``concurrency`` widgets, each sending its next message as soon as the
    last reply is complete, for ``seconds`` (the REST ``closed_loop``'s texts
    and turn order, a new conversation every ``turns_per_conversation``
    turns). All connect first; connecting is timed apart (``connect``). A
    failed connection or turn counts as an error (a turn without reply within
    ``timeout`` as a timeout) and the widget starts again on a new connection."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}")
    loop = asyncio.get_running_loop()
    samples: List[float] = []
    connect_ms: List[float] = []
    per_turn: Counter = Counter()
    errors = timeouts = connections = late = 0
    last_reply = 0.0
    error_kinds: Counter = Counter()

    async def connect() -> Optional[Widget]:
        nonlocal errors, connections
        widget = Widget(url, transport, origin, timeout)
        start = loop.time()
        try:
            await widget.open()
            await widget.new_conversation()
        except Exception as e:  # counted and reported, the run goes on
            errors += 1
            error_kinds[f"connect: {type(e).__name__}: {e}"[:120]] += 1
            await widget.close()
            return None
        connections += 1
        connect_ms.append((loop.time() - start) * 1000)
        return widget

    async def user(n: int, widget: Optional[Widget]) -> None:
        nonlocal errors, timeouts, late, last_reply
        k = 0
        while loop.time() < stop:
            if widget is None:
                await asyncio.sleep(0.5)  # do not hammer a server that refuses
                widget, k = await connect(), 0
                continue
            try:
                if k and k % turns_per_conversation == 0:
                    await widget.new_conversation()
                text = texts[(n * 13 + k) % len(texts)]
                k += 1
                ms, events = await widget.turn(text)
                samples.append(ms)
                per_turn[events] += 1
                last_reply = max(last_reply, loop.time())
            except Exception as e:  # counted and reported, the widget starts again
                if isinstance(e, (socketio.exceptions.TimeoutError, asyncio.TimeoutError)):
                    timeouts += 1
                else:
                    errors += 1
                error_kinds[f"turn: {type(e).__name__}: {e}"[:120]] += 1
                late += widget.late
                await widget.close()
                widget = None
        if widget is not None:
            await asyncio.sleep(quiet_s)  # a reply after its ack would show up here
            late += widget.late
            await widget.close()

    widgets = await asyncio.gather(*(connect() for _ in range(concurrency)))
    begin = loop.time()
    stop = begin + seconds
    await asyncio.gather(*(user(n, w) for n, w in enumerate(widgets)))
    wall = max(stop, last_reply) - begin
    return {"transport": transport, "concurrency": concurrency, **percentiles(samples),
            "errors": errors, "timeouts": timeouts, "late_replies": late,
            "throughput_msg_s": round(len(samples) / wall, 1),
            "connections": connections, "connect": percentiles(connect_ms),
            "bot_uttered_per_turn": {str(k): v for k, v in sorted(per_turn.items())},
            **({"error_kinds": dict(error_kinds)} if error_kinds else {})}
