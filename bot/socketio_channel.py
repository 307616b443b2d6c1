"""Rasa's socket.io channel (the intranet widget) with masking and the bot's doors.

The same path (``/socket.io``) and events as Rasa's ``socketio`` channel. On top:

* every message passes :func:`bot.channels.masking_handler` (length cap, masking, the code
  notice, never a silent turn);
* every engine.io request (poll, websocket handshake, upgrade) passes the door (``Host``,
  ``Origin``, ``Sec-Fetch-Site``, :mod:`bot.doors`) before engine.io opens anything, and a
  refused connection also loses its engine.io session;
* session ids are issued and signed by the server (:class:`bot.sign_in.SessionSigner`); a
  message is taken only for the session its connection holds; with a JWT key every
  connection needs the intranet's token and sessions are bound to its ``sub``;
* the websocket transport works on Sanic 21.12 / Python 3.11 (:mod:`bot.websocket_compat`).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Text

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request

from bot import websocket_compat
from bot.channels import OnNewMessage, masking_handler
from bot.chat_reference import references
from bot.doors import DoorPolicy
from bot.sign_in import JwtCheck, SessionSigner, conversation_id, subject_tag

logger = logging.getLogger(__name__)

#: The largest socket.io (engine.io) packet taken from a client.
SOCKETIO_MAX_BYTES = 1_000_000


class MaskingSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (same path and events) with masking."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        socketio_blueprint = super().blueprint(masking_handler(on_new_message))
        sio = self.sio
        # The websocket transport on Sanic 21.12 / Python 3.11 (bot/websocket_compat.py);
        # the route is marked before Rasa's SocketBlueprint attaches the server.
        websocket_compat.install()
        websocket_compat.mark_websocket_route(sio.eio)
        # engine.io's own cap on one message (its default, pinned here so that
        # a library update cannot raise it): a bigger packet closes the connection.
        sio.eio.max_http_buffer_size = SOCKETIO_MAX_BYTES
        namespace = self.namespace or "/"
        handlers = sio.handlers[namespace]
        handle = handlers[self.user_message_evt]
        policy = DoorPolicy.from_env()
        jwt_check = JwtCheck.from_settings(self.jwt_key, self.jwt_algorithm)
        signer = SessionSigner.from_env()
        engineio_request = sio.eio.handle_request

        async def guarded_request(request: Request, *args: Any, **kwargs: Any) -> Any:
            """Every engine.io request (poll, websocket handshake, upgrade) passes the door
            before engine.io opens anything: a page elsewhere cannot hold sessions."""
            reason = policy.refusal(
                host=request.headers.get("host"),
                origin=request.headers.get("origin"),
                fetch_site=request.headers.get("sec-fetch-site"),
            )
            if reason:
                logger.warning("socket.io: refused a request (%s)", reason)
                return response.json({"error": "forbidden"}, status=403)
            return await engineio_request(request, *args, **kwargs)

        # Before Rasa's SocketBlueprint attaches the server (the route calls this).
        sio.eio.handle_request = guarded_request

        def close_soon(sid: Text) -> None:
            """A refused socket.io connection also loses its engine.io session (after a
            moment, so that the refusal reaches the client first)."""
            eio_sid = sio.manager.eio_sid_from_sid(sid, namespace)

            async def close() -> None:
                await sio.sleep(1)
                if eio_sid:
                    await sio.eio.disconnect(eio_sid)

            sio.start_background_task(close)
        owners: Dict[Text, Text] = {}  # connection -> signed-in user's tag ("" without sign-in)
        sessions: Dict[Text, Text] = {}  # connection -> the session id it holds

        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            reason = policy.refusal(
                host=environ.get("HTTP_HOST"),
                origin=environ.get("HTTP_ORIGIN"),
                fetch_site=environ.get("HTTP_SEC_FETCH_SITE"),
            )
            if reason:
                logger.warning("socket.io: refused a connection (%s)", reason)
                close_soon(sid)
                return False
            owner = ""
            if jwt_check:
                subject = jwt_check.subject(auth.get("token") if isinstance(auth, dict) else None)
                if not subject:
                    logger.warning("socket.io: refused a connection (sign_in_required)")
                    close_soon(sid)
                    return False
                owner = subject_tag(subject)
            owners[sid] = owner
            return True

        async def disconnect(sid: Text) -> None:
            owners.pop(sid, None)
            sessions.pop(sid, None)

        async def session_request(sid: Text, data: Any) -> None:
            """The client's id is kept only when this server signed it (for
            this user); otherwise a new conversation starts under a new id."""
            if sid not in owners:
                return
            requested = data.get("session_id") if isinstance(data, dict) else None
            owner = owners[sid]
            session = requested if signer.valid(requested, owner) else signer.issue(owner)
            previous = sessions.get(sid)
            if self.session_persistence:
                if previous and previous != session:
                    sio.leave_room(sid, conversation_id(previous), namespace=namespace)
                sio.enter_room(sid, conversation_id(session), namespace=namespace)
            sessions[sid] = session
            await sio.emit("session_confirm", session, room=sid, namespace=namespace)
            # The widget shows the conversation's chat reference in its header; clients
            # that do not know the event ignore it.
            reference = references().reference(conversation_id(session))
            await sio.emit("chat_reference", {"reference": reference}, room=sid,
                           namespace=namespace)

        async def user_uttered(sid: Text, data: Any) -> Any:
            # Drop malformed payloads before Rasa's handler sees them (e.g. a
            # numeric session_id would become a conversation id "42").
            if not _well_formed(data, self.session_persistence):
                logger.warning("socket.io: dropped a malformed %s payload", self.user_message_evt)
                return None
            # Only into the conversation this connection holds.
            if self.session_persistence:
                if data.get("session_id") != sessions.get(sid):
                    logger.warning("socket.io: dropped a message for a session it does not hold")
                    return None
                data = {**data, "session_id": conversation_id(data["session_id"])}
            return await handle(sid, data)

        handlers["connect"] = connect
        handlers["disconnect"] = disconnect
        handlers["session_request"] = session_request
        handlers[self.user_message_evt] = user_uttered
        return socketio_blueprint


def _well_formed(data: Any, session_persistence: bool) -> bool:
    """A user_uttered payload Rasa can safely store: a text message and, with
    session persistence, a string session id (as REST requires a string sender)."""
    if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
        return False
    if not session_persistence:
        return True
    session_id = data.get("session_id")
    return isinstance(session_id, str) and bool(session_id.strip()) and len(session_id) <= 256
