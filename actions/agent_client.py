"""The one client every card action uses to talk to the local card agent.

Where the agent is and its bearer token come from the agent's own settings
(``cardagent.config`` / ``cardagent.tokenfile``: ``CARDAGENT_HOST``,
``CARDAGENT_PORT``, ``CARDAGENT_TOKEN`` or the token file), so both sides agree
without extra configuration. ``CARDAGENT_URL`` overrides the address.

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
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

import httpx

from cardagent.config import load_settings
from cardagent.tokenfile import read_token

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)

# Codes for failures that happen before the agent could answer.
AGENT_UNREACHABLE = "agent_unreachable"
AGENT_TIMEOUT = "agent_timeout"
AGENT_BAD_ANSWER = "agent_bad_answer"
AGENT_UNAUTHORIZED = "unauthorized"
# What answers on the agent's address could not prove it is the agent (or we hold no token):
# the token was not sent, nothing it said is used.
AGENT_NOT_VERIFIED = "agent_not_verified"

PROOF_CONTEXT = "siths-cardagent-proof|v1"  # the contract with cardagent/proof.py


@dataclass
class CardAgentError(Exception):
    code: str
    status: int = 0
    message: str = ""
    detail: Any = None

    def __str__(self) -> str:
        return f"{self.code} ({self.status})"


def agent_base_url(environ: Optional[Mapping[str, str]] = None) -> str:
    env = os.environ if environ is None else environ
    if env.get("CARDAGENT_URL"):
        return env["CARDAGENT_URL"].rstrip("/")
    settings = load_settings(env)
    host = settings.host if settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.port}"


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
