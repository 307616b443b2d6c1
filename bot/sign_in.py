"""Who a chat caller is and which conversation they may use.

* :class:`JwtCheck`: the intranet's sign-in token (central server, ``BOT_JWT_KEY[_FILE]``);
* :class:`SessionSigner`: socket.io session ids issued and signed by the server
  (``<random>.<hmac>``, key ``BOT_SESSION_SECRET[_FILE]``), so a client cannot pick one;
* :func:`conversation_id`: the conversation (tracker sender id, socket.io room) a session id
  stands for.

Used by the REST channel (:mod:`bot.channels`) and the socket.io channel
(:mod:`bot.socketio_channel`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from typing import Any, Mapping, Optional, Text

import jwt

from bot.doors import load_secret, session_secret

logger = logging.getLogger(__name__)

# A server-issued socket.io session id: 32 hex random, ".", 32 hex HMAC. The
# client holds it; the conversation (tracker sender id, socket.io room) is
# named by the random part only (``sio-<random>``), so what logs, stores and
# the HTTP API show does not let anyone join it.
SESSION_ID = re.compile(r"^[0-9a-f]{32}\.[0-9a-f]{32}$")
CONVERSATION_PREFIX = "sio-"


def conversation_id(session_id: Text) -> Text:
    """The conversation a socket.io session id stands for."""
    return CONVERSATION_PREFIX + session_id.split(".", 1)[0]


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
