"""A bare Sanic + python-socketio server (as Rasa's socket.io channel builds it) for
tests/bot/test_websocket_compat.py: ``python -m tests.support.socketio_echo_server
PORT [--without-recv-fix] [--without-route-mark] [--ping SECONDS]``. It answers
``user_uttered`` with ``bot_uttered`` "echo <message>"."""

from __future__ import annotations

import argparse

import socketio
from sanic import Sanic

from bot import websocket_compat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--without-recv-fix", action="store_true")
    parser.add_argument("--without-route-mark", action="store_true")
    parser.add_argument("--ping", type=float, default=None,
                        help="engine.io ping interval and timeout (seconds)")
    args = parser.parse_args()
    if not args.without_recv_fix:
        websocket_compat.install()
    pings = {"ping_interval": args.ping, "ping_timeout": args.ping} if args.ping else {}
    sio = socketio.AsyncServer(async_mode="sanic", cors_allowed_origins=[], **pings)
    if not args.without_route_mark:
        websocket_compat.mark_websocket_route(sio.eio)
    app = Sanic("socketio_echo")
    sio.attach(app, "/socket.io")

    @app.get("/gc")
    async def collect(request: object) -> object:
        # Lets the test see tasks that were left pending ("Task was destroyed ...").
        import gc

        from sanic.response import json

        gc.collect()
        return json({"collected": True})

    @sio.on("user_uttered")
    async def user_uttered(sid: str, data: dict) -> None:
        await sio.emit("bot_uttered", {"text": f"echo {data['message']}"}, room=sid)

    app.run(host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()
