"""Rasa input channels that hide codes and personnummer before Rasa sees them.

``credentials.yml`` uses these instead of Rasa's ``rest`` and ``socketio``
channels. They keep the same URLs (``/webhooks/rest/webhook`` and
``/socket.io``); the only change is that every incoming message passes
:func:`bot.masking.mask_sensitive` first (its metadata :func:`bot.masking.mask_payload`),
so NLU, the tracker store, the logs and the action server only ever get the
masked text. A message over ``MAX_MESSAGE_CHARS`` is not processed at all: Rasa
gets ``/message_too_long`` instead (:func:`bot.masking.limit_length`); metadata
over ``MAX_METADATA_BYTES`` of JSON is dropped (``{}``,
:func:`bot.masking.metadata_too_large`). When
something was masked, the user is told, once per message, never to write codes
in the chat.

They are also the bot's front doors (docs/deployment.md, "Who may call the bot"):

* a request from a web page that is not the widget's is refused (``Origin`` /
  ``Sec-Fetch-Site``, :mod:`bot.doors`), so is any ``Host`` outside the
  allowlist (DNS rebinding), and REST takes ``application/json`` only (a
  ``text/plain`` no-cors POST from any page never reaches Rasa);
* socket.io session ids are issued and signed by the server
  (``<random>.<hmac>``, key ``BOT_SESSION_SECRET[_FILE]``): a client cannot pick
  an id, and a message is taken only for the session its connection holds;
* with a JWT key (``BOT_JWT_KEY[_FILE]`` or ``jwt_key`` in credentials.yml,
  central server) every socket.io connection and REST call needs the
  intranet's token; sessions are bound to its ``sub``, REST senders too.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Text

import jwt
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import websocket_compat
from bot.chat_reference import references
from bot.domain_texts import code_notice, silence_notice
from bot.doors import DoorPolicy, load_secret, session_secret
from bot.masking import (
    MAX_METADATA_BYTES,
    contains_placeholder,
    limit_length,
    mask_payload,
    mask_sensitive,
    metadata_too_large,
)

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

#: The largest socket.io (engine.io) packet taken from a client.
SOCKETIO_MAX_BYTES = 1_000_000


#: What the widget sends with a card answer it relayed (actions/card_result.py).
RELAY_RESULT_MESSAGE = "/cardagent_result"


def is_relay_result(text: Optional[str]) -> bool:
    return (text or "").strip() == RELAY_RESULT_MESSAGE


class _CountingOutput(OutputChannel):
    """Passes every bot message on to the real output channel and counts them."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.sent = 0

    def name(self) -> Text:  # type: ignore[override] - the channel it passes messages to
        return self.inner.name()

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.sent += 1
        await self.inner.send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        self.sent += 1
        await self.inner.send_text_message(recipient_id, text, **kwargs)


def masking_handler(
    on_new_message: OnNewMessage, notice: Callable[[], str] = code_notice
) -> OnNewMessage:
    """Wrap Rasa's message handler: it only ever gets capped, masked text and
    metadata, and a turn never ends in silence. ``notice``: what the user is
    told when something was masked (Teams says what Microsoft 365 keeps)."""

    async def handle(message: UserMessage) -> Any:
        result = mask_sensitive(limit_length(message.text or ""))
        message.text = result.text
        if message.metadata is not None and metadata_too_large(message.metadata):
            # Dropped, not masked: masking costs time in proportion to the size.
            logger.warning("dropped the metadata of a message on %s: over %d bytes of JSON "
                           "or nested too deeply", message.input_channel, MAX_METADATA_BYTES)
            message.metadata = {}
        message.metadata = mask_payload(message.metadata)
        output = message.output_channel
        if (result.found or contains_placeholder(result.text)) and output:
            await output.send_text_message(message.sender_id, notice())
        counting = _CountingOutput(output) if output else None
        if counting:
            message.output_channel = counting
        outcome = await on_new_message(message)
        # The widget's relay of a card answer is not the person speaking: a check-back that
        # finds the upgrade still running rightly says nothing.
        if counting and counting.sent == 0 and not is_relay_result(message.text):
            await output.send_text_message(message.sender_id, silence_notice())
        return outcome

    return handle


# --- the doors: who may call, which session a client may use ---

# A server-issued socket.io session id: 32 hex random, ".", 32 hex HMAC. The
# client holds it; the conversation (tracker sender id, socket.io room) is
# named by the random part only (``sio-<random>``), so what logs, stores and
# the HTTP API show does not let anyone join it.
SESSION_ID = re.compile(r"^[0-9a-f]{32}\.[0-9a-f]{32}$")
CONVERSATION_PREFIX = "sio-"


def conversation_id(session_id: Text) -> Text:
    """The conversation a socket.io session id stands for."""
    return CONVERSATION_PREFIX + session_id.split(".", 1)[0]


def _refuse(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


class JwtCheck:
    """The intranet's sign-in token (central server): signature, ``exp`` and
    ``sub`` required; ``aud`` checked when ``BOT_JWT_AUDIENCE`` is set."""

    def __init__(self, key: Text, method: Text, audience: Optional[Text] = None) -> None:
        if method.lower() == "none":
            raise ValueError("jwt_method 'none' is not allowed")
        self.key, self.method, self.audience = key, method, audience

    @classmethod
    def from_settings(cls, key: Optional[Text] = None,
                      method: Optional[Text] = None) -> Optional[JwtCheck]:
        """From credentials.yml's ``jwt_key``/``jwt_method`` or the environment
        (``BOT_JWT_KEY`` / ``BOT_JWT_KEY_FILE``, ``BOT_JWT_METHOD``); None: off."""
        key = key or load_secret("BOT_JWT_KEY")
        if not key:
            return None
        method = os.environ.get("BOT_JWT_METHOD") or method or "HS256"
        return cls(key, method, os.environ.get("BOT_JWT_AUDIENCE") or None)

    def subject(self, token: Any) -> Optional[Text]:
        """The token's ``sub`` when the token is valid, else None."""
        if not isinstance(token, str) or not token:
            return None
        try:
            claims = jwt.decode(token, self.key, algorithms=[self.method],
                                audience=self.audience,
                                options={"require": ["exp", "sub"]})
        except jwt.PyJWTError as e:
            logger.info("refused a sign-in token: %s", type(e).__name__)
            return None
        sub = claims.get("sub")
        return sub if isinstance(sub, str) and sub else None


def subject_tag(sub: Text) -> Text:
    """A short stable tag for a signed-in user (what sender ids carry)."""
    return "u" + hashlib.sha256(sub.encode()).hexdigest()[:24]


class SessionSigner:
    """Issues and checks socket.io session ids ``<random>.<hmac>``; with a
    signed-in user the HMAC covers the user too, so one user's id is not
    valid for another."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> SessionSigner:
        return cls(session_secret(env))

    def _mac(self, random_part: Text, owner: Text) -> Text:
        msg = f"siths-socketio-session|v1|{owner}|{random_part}".encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()[:32]

    def issue(self, owner: Text = "") -> Text:
        random_part = secrets.token_hex(16)
        return f"{random_part}.{self._mac(random_part, owner)}"

    def valid(self, session_id: Any, owner: Text = "") -> bool:
        if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            return False
        random_part, mac = session_id.split(".")
        return hmac.compare_digest(mac, self._mac(random_part, owner))


class MaskingRestInput(RestInput):
    """Rasa's REST channel (same path) with masking."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def _extract_sender(self, req: Request) -> Text:
        body = req.json
        if not isinstance(body, dict):
            raise InvalidUsage("Body must be a JSON object with 'sender' and 'message'.")
        sender = body.get("sender")
        if not isinstance(sender, str) or not sender.strip() or len(sender) > 256:
            raise InvalidUsage("'sender' must be a non-empty string (max 256 characters).")
        subject = getattr(req.ctx, "subject", None)
        if subject:
            # Signed in: the conversation belongs to this user, whatever id is sent.
            return f"{subject_tag(subject)}:{sender}"
        if sender.startswith(CONVERSATION_PREFIX) or SESSION_ID.match(sender):
            raise InvalidUsage("'sender' must not name a socket.io conversation.")
        return sender

    def _extract_message(self, req: Request) -> Text:
        # Masked already here, so that even Rasa's own error logging in the
        # REST handler never sees the raw text.
        message = req.json.get("message")
        if not isinstance(message, str):
            raise InvalidUsage("'message' must be a string.")
        return mask_sensitive(limit_length(message)).text

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        rest_blueprint = super().blueprint(masking_handler(on_new_message))
        policy = DoorPolicy.from_env()
        jwt_check = JwtCheck.from_settings()

        @rest_blueprint.middleware("request")
        async def doors(request: Request) -> Optional[HTTPResponse]:
            reason = policy.refusal(
                host=request.headers.get("host"),
                origin=request.headers.get("origin"),
                fetch_site=request.headers.get("sec-fetch-site"),
            )
            if reason:
                logger.warning("REST: refused %s %s (%s)", request.method, request.path, reason)
                return _refuse(403, reason)
            if request.method != "POST":
                return None
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                logger.warning("REST: refused a %r body", content_type[:60])
                return _refuse(415, "json_required")
            if jwt_check:
                auth = request.headers.get("authorization", "")
                bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
                subject = jwt_check.subject(bearer)
                if not subject:
                    return _refuse(401, "sign_in_required")
                request.ctx.subject = subject
            return None

        return rest_blueprint


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
