"""A local stand-in for Microsoft's side of a Teams bot, speaking the real protocol:

* the tenant's token endpoint (``POST /{tenant}/oauth2/v2.0/token``, client
  credentials) that issues the bot's access token;
* the Bot Framework OpenID metadata (``/v1/.well-known/openidconfiguration``) and
  its JWKS (``/v1/.well-known/keys``) with this mock's own RSA key, endorsed
  for ``msteams`` (``endorsements``), and a second key with no endorsements at
  all (``bare_key``); ``openid_status`` / ``openid_delay`` make the metadata
  fail or answer slowly (Microsoft unreachable or struggling);
* the Bot Connector (``POST /v3/conversations/{id}/activities[/{replyTo}]``),
  which records every activity the bot sends (only with a token it issued);
* :meth:`MockMicrosoft.signed` makes the RS256 JWT the Bot Connector puts on
  the activities it posts to the bot.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"
SCOPE = "https://api.botframework.com/.default"


@dataclass
class MockMicrosoft:
    app_id: str
    app_password: str
    tenant_id: str
    key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    kid: str = field(default_factory=lambda: secrets.token_hex(8))
    endorsements: Optional[List[str]] = field(default_factory=lambda: ["msteams"])
    bare_key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    bare_kid: str = field(default_factory=lambda: secrets.token_hex(8))
    openid_status: int = 200
    openid_delay: float = 0.0
    activities: List[Dict[str, Any]] = field(default_factory=list)
    token_requests: List[Dict[str, str]] = field(default_factory=list)
    openid_requests: int = 0
    issued: set = field(default_factory=set)
    url: str = ""

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                if path == "/v1/.well-known/openidconfiguration":
                    mock.openid_requests += 1
                    if mock.openid_delay:
                        time.sleep(mock.openid_delay)
                    if mock.openid_status != 200:
                        self.reply(mock.openid_status, {"error": "unavailable"})
                        return
                    self.reply(200, {
                        "issuer": ISSUER,
                        "authorization_endpoint": f"{mock.url}/v1/.well-known/authorize",
                        "jwks_uri": f"{mock.url}/v1/.well-known/keys",
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    })
                elif path == "/v1/.well-known/keys":
                    jwk = json.loads(RSAAlgorithm.to_jwk(mock.key.public_key()))
                    jwk.update(kid=mock.kid, use="sig")
                    if mock.endorsements is not None:
                        jwk["endorsements"] = list(mock.endorsements)
                    bare = json.loads(RSAAlgorithm.to_jwk(mock.bare_key.public_key()))
                    bare.update(kid=mock.bare_kid, use="sig")
                    self.reply(200, {"keys": [jwk, bare]})
                else:
                    self.reply(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                if path == f"/{mock.tenant_id}/oauth2/v2.0/token":
                    form = {k: v[0] for k, v in parse_qs(self.body().decode()).items()}
                    mock.token_requests.append(form)
                    if (form.get("grant_type") != "client_credentials"
                            or form.get("client_id") != mock.app_id
                            or form.get("client_secret") != mock.app_password
                            or form.get("scope") != SCOPE):
                        self.reply(400, {"error": "invalid_client"})
                        return
                    token = secrets.token_urlsafe(24)
                    mock.issued.add(token)
                    self.reply(200, {"token_type": "Bearer", "expires_in": 3599,
                                     "ext_expires_in": 3599, "access_token": token})
                elif path.startswith("/v3/conversations/") and "/activities" in path:
                    auth = self.headers.get("Authorization") or ""
                    if auth.removeprefix("Bearer ") not in mock.issued:
                        self.reply(401, {"error": {"code": "Unauthorized"}})
                        return
                    activity = json.loads(self.body())
                    activity["_path"] = path
                    with mock._cond:
                        mock.activities.append(activity)
                        mock._cond.notify_all()
                    self.reply(HTTPStatus.OK, {"id": uuid.uuid4().hex})
                else:
                    self.reply(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def env(self) -> Dict[str, str]:
        """The bot's Teams settings pointing at this mock."""
        return {
            "TEAMS_APP_ID": self.app_id,
            "TEAMS_APP_PASSWORD": self.app_password,
            "TEAMS_TENANT_ID": self.tenant_id,
            "TEAMS_LOGIN_URL": self.url,
            "TEAMS_OPENID_URL": f"{self.url}/v1/.well-known/openidconfiguration",
        }

    def signed(self, *, key: Any = None, kid: Optional[str] = None, **overrides: Any) -> str:
        """The Bot Connector's JWT for an activity sent to the bot."""
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": self.app_id, "serviceurl": self.url,
                  "nbf": now - 5, "iat": now - 5, "exp": now + 3600}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256",
                          headers={"kid": kid or self.kid})

    def activity(self, text: str, *, user: str = "29:user-1", conversation: str = "a:conv-1",
                 **extra: Any) -> Dict[str, Any]:
        return {
            "type": "message", "id": uuid.uuid4().hex[:12], "channelId": "msteams",
            "serviceUrl": self.url, "text": text,
            "from": {"id": user, "name": "Tessa Testsson", "aadObjectId": str(uuid.uuid4())},
            "recipient": {"id": f"28:{self.app_id}", "name": "SITHS-hjälpen"},
            "conversation": {"id": conversation, "conversationType": "personal",
                             "tenantId": self.tenant_id},
            "channelData": {"tenant": {"id": self.tenant_id}},
            "timestamp": "2026-01-01T10:00:00.000Z", **extra,
        }

    def wait_for(self, count: int, timeout: float = 30) -> List[Dict[str, Any]]:
        """Block until at least ``count`` activities arrived; returns all of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.activities) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.activities)
