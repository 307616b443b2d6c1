"""``GET /v1/proof``: the agent proves it is the agent before a client hands over its token.

Whatever program binds 127.0.0.1:8765 first receives every client's bearer token and can
serve a PIN-phishing page. So a client first sends a fresh random nonce to ``/v1/proof``
(without the token) and the agent answers

    proof = hex(HMAC-SHA256(key=token, msg="siths-cardagent-proof|v1|{nonce}|{host}:{port}"))

with ``host:port`` the agent's *configured* listening address (``settings.host``,
``settings.port``). The client checks it (constant time) with the token it holds and the
``host:port`` it connected to, and sends the token only if it matches. A squatter does not
know the token, and relaying the nonce to the real agent on another port does not help:
that agent signs its own address, not the squatter's.

The route needs no bearer token (it reveals nothing but HMACs of fresh nonces) and is
registered outside the token-guarded ``/v1`` router (see ``cardagent.api.create_app``); the
Host and Origin checks of ``OriginGuardMiddleware`` still apply.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from cardagent import __version__

PROOF_CONTEXT = "siths-cardagent-proof|v1"
AGENT_NAME = "siths-cardagent"
NONCE_PATTERN = r"^[0-9a-f]{32,128}$"  # pydantic 2 (Rust regex): $ admits no trailing newline


def proof_message(nonce: str, host: str, port: int) -> bytes:
    return f"{PROOF_CONTEXT}|{nonce}|{host}:{port}".encode()


def compute_proof(token: str, nonce: str, host: str, port: int) -> str:
    """hex(HMAC-SHA256(token, "siths-cardagent-proof|v1|{nonce}|{host}:{port}"))."""
    return hmac.new(
        token.encode("utf-8"), proof_message(nonce, host, port), hashlib.sha256
    ).hexdigest()


class ProofOut(BaseModel):
    agent: str
    version: str
    proof: str


def build_router() -> APIRouter:
    router = APIRouter(tags=["agent"])

    @router.get(
        "/v1/proof",
        response_model=ProofOut,
        summary="Proof of identity (no token needed): HMAC of the nonce under the token",
    )
    def get_proof(
        request: Request,
        nonce: Annotated[
            str,
            Query(
                min_length=32,
                max_length=128,
                pattern=NONCE_PATTERN,
                description="32-128 lowercase hex characters, fresh for every check",
            ),
        ],
    ) -> ProofOut:
        settings = request.app.state.settings
        return ProofOut(
            agent=AGENT_NAME,
            version=__version__,
            proof=compute_proof(request.app.state.token, nonce, settings.host, settings.port),
        )

    return router
