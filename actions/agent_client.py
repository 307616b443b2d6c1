"""The one client every card action uses to talk to the local card agent.

It needs only two things, both from the environment:

* ``CARDAGENT_URL``: where the agent listens (default ``http://127.0.0.1:8765``);
* the agent's bearer token: ``CARDAGENT_TOKEN``, or ``CARDAGENT_TOKEN_FILE`` naming a file
  that holds it (``python -m cardagent --print-token-file`` prints the agent's own).

It imports nothing of the agent: the action server and the agent are separate programs
with separate installations.

Every failure becomes a :class:`CardAgentError` with a machine-readable
``code``; the actions turn codes into Swedish answers. Nothing here ever sends
or receives a PIN.

Before the bearer token goes anywhere, the agent proves it is the agent
(``GET /v1/proof``, no token): a fresh nonce, answered with
``hex(HMAC-SHA256(token, "siths-cardagent-proof|v1|{nonce}|{host}:{port}"))`` for
the host:port this client connects to. A program squatting on the port cannot
answer it, so it never gets the token (``agent_not_verified``), and nothing it
answers is ever shown.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import ssl
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import httpx

DEFAULT_URL = "http://127.0.0.1:8765"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)

# Codes for failures that happen before the agent could answer.
AGENT_UNREACHABLE = "agent_unreachable"
AGENT_TIMEOUT = "agent_timeout"
AGENT_BAD_ANSWER = "agent_bad_answer"
AGENT_UNAUTHORIZED = "unauthorized"
# What answers on the agent's address could not prove it is the agent (or we hold no token):
# the token was not sent, nothing it said is used.
AGENT_NOT_VERIFIED = "agent_not_verified"

PROOF_CONTEXT = "siths-cardagent-proof|v1"  # the contract with the agent's /v1/proof

_POSIX = os.name == "posix" and hasattr(os, "getuid")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@dataclass
class CardAgentError(Exception):
    code: str
    status: int = 0
    message: str = ""
    detail: Any = None

    def __str__(self) -> str:
        return f"{self.code} ({self.status})"


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process: httpx builds a
    new one (reading the whole CA bundle, ~25 ms) for every client it creates, and
    each card action creates one."""
    return httpx.create_ssl_context()


def _env(environ: Optional[Mapping[str, str]]) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def agent_base_url(environ: Optional[Mapping[str, str]] = None) -> str:
    """``CARDAGENT_URL`` without a trailing slash (default http://127.0.0.1:8765)."""
    return (_env(environ).get("CARDAGENT_URL") or DEFAULT_URL).strip().rstrip("/")


def _private_file(st: os.stat_result) -> bool:
    """A regular file (not a symlink); on POSIX also ours and closed to group and others."""
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        return False
    if not _POSIX:
        return True
    return st.st_uid == os.getuid() and not stat.S_IMODE(st.st_mode) & 0o077


def read_token_file(path: Path) -> Optional[str]:
    """The token in ``path``, or None when it is missing, empty or unsafe: a symlink, not
    a regular file, another user's, or readable or writable by others (whoever could plant
    it could pose as the agent; whoever could read it could act on the card)."""
    try:
        if not _private_file(os.lstat(path)):
            return None
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
        with os.fdopen(fd, "r", encoding="utf-8") as fh:
            if not _private_file(os.fstat(fh.fileno())):
                return None
            return fh.read(4096).strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def read_token(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """``CARDAGENT_TOKEN``, else the token in the file ``CARDAGENT_TOKEN_FILE`` names
    (see :func:`read_token_file`), else None (then nothing is sent to the agent)."""
    env = _env(environ)
    if env.get("CARDAGENT_TOKEN"):
        return env["CARDAGENT_TOKEN"]
    if env.get("CARDAGENT_TOKEN_FILE"):
        return read_token_file(Path(env["CARDAGENT_TOKEN_FILE"]).expanduser())
    return None


class CardAgentClient:
    """Async client for the card agent's ``/v1`` API."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: Optional[httpx.AsyncBaseTransport] = None,
    ) -> None:
        self.base_url = base_url or agent_base_url()
        self._token = token
        self._timeout = timeout
        self._transport = transport

    def _expected_proof(self, token: str, nonce: str) -> str:
        url = httpx.URL(self.base_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        msg = f"{PROOF_CONTEXT}|{nonce}|{url.host}:{port}".encode()
        return hmac.new(token.encode("utf-8"), msg, hashlib.sha256).hexdigest()

    async def _verify_agent(self, client: httpx.AsyncClient, token: Optional[str]) -> str:
        """Ask for the proof WITHOUT the token; return the token only if the proof matches
        (constant time). Without a token nothing can be verified (but an agent that is not
        running still shows as unreachable)."""
        nonce = secrets.token_hex(16)
        response = await client.get("/v1/proof", params={"nonce": nonce})
        if not token:
            raise CardAgentError(AGENT_NOT_VERIFIED, response.status_code, "no token")
        try:
            body = response.json()
        except ValueError:
            body = None
        proof = body.get("proof") if isinstance(body, dict) else None
        if (
            response.status_code != 200
            or not isinstance(proof, str)
            or not hmac.compare_digest(
                proof.encode("utf-8", "replace"), self._expected_proof(token, nonce).encode()
            )
        ):
            raise CardAgentError(AGENT_NOT_VERIFIED, response.status_code)
        return token

    async def request(self, method: str, path: str, **kwargs: Any) -> Dict[str, Any]:
        """One call to the agent: its JSON answer, or :class:`CardAgentError`.

        The agent's proof of identity is checked first; the token is sent only after it.
        """
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self._timeout,
                transport=self._transport,
                verify=_tls_context(),
                follow_redirects=False,
            ) as client:
                token = await self._verify_agent(client, self._token or read_token())
                response = await client.request(
                    method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
                )
        except httpx.TimeoutException as exc:
            raise CardAgentError(AGENT_TIMEOUT) from exc
        except httpx.TransportError as exc:
            raise CardAgentError(AGENT_UNREACHABLE) from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise CardAgentError(AGENT_BAD_ANSWER, response.status_code) from exc
        if response.status_code >= 400:
            body = body if isinstance(body, dict) else {}
            raise CardAgentError(
                str(body.get("error") or AGENT_BAD_ANSWER),
                response.status_code,
                str(body.get("message") or ""),
                body.get("detail"),
            )
        if not isinstance(body, dict):
            raise CardAgentError(AGENT_BAD_ANSWER, response.status_code)
        return body

    async def card_state(self) -> Dict[str, Any]:
        return await self.request("GET", "/v1/card/state")

    async def start_upgrade(self) -> Dict[str, Any]:
        return await self.request("POST", "/v1/upgrade", json={})

    async def job(self, job_id: str) -> Dict[str, Any]:
        return await self.request("GET", f"/v1/jobs/{job_id}")

    async def order_puk(self) -> Dict[str, Any]:
        # Only proposes the order: the person places it by clicking "Beställ" on the agent's page.
        return await self.request("POST", "/v1/puk-orders", json={})

    async def puk_order(self, order_id: str) -> Dict[str, Any]:
        return await self.request("GET", f"/v1/puk-orders/{order_id}")
