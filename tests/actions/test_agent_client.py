"""The action server's client for the card agent, on its own: where the agent is and its
token come from CARDAGENT_URL and CARDAGENT_TOKEN / CARDAGENT_TOKEN_FILE; the token is sent
only to what proves it is the agent (/v1/proof). A fake agent on httpx.MockTransport: no
servers, no card."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import socket
from pathlib import Path
from typing import Callable, List

import httpx
import pytest

from actions import agent_client
from actions.agent_client import (
    AGENT_BAD_ANSWER,
    AGENT_NOT_VERIFIED,
    AGENT_TIMEOUT,
    AGENT_UNREACHABLE,
    CardAgentClient,
    CardAgentError,
    agent_base_url,
    read_token,
)

TOKEN = "the-agent-token-" + "5" * 20
URL = "http://127.0.0.1:8765"
STATE = {"state": "upgraded", "details": {}}


def proof_for(token: str, nonce: str, hostport: str) -> str:
    msg = f"siths-cardagent-proof|v1|{nonce}|{hostport}".encode()
    return hmac.new(token.encode(), msg, hashlib.sha256).hexdigest()


class FakeAgent:
    """Answers /v1/proof for ``proof_token`` and ``signs`` (host:port), or with
    ``proof_answer`` if given; every other route with ``answer``. Records each request's
    path and Authorization header."""

    def __init__(self, proof_token: str = TOKEN, signs: str = "127.0.0.1:8765",
                 answer: Callable[[httpx.Request], httpx.Response] | None = None,
                 proof_answer: httpx.Response | None = None) -> None:
        self.proof_token, self.signs, self.proof_answer = proof_token, signs, proof_answer
        self.answer = answer or (lambda request: httpx.Response(200, json=STATE))
        self.seen: List[tuple[str, str | None]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, request.headers.get("authorization")))
        if request.url.path != "/v1/proof":
            return self.answer(request)
        if self.proof_answer is not None:
            return self.proof_answer
        proof = proof_for(self.proof_token, request.url.params["nonce"], self.signs)
        return httpx.Response(200, json={"agent": "siths-cardagent", "version": "1",
                                         "proof": proof})

    def client(self, token: str | None = TOKEN, url: str = URL) -> CardAgentClient:
        return CardAgentClient(base_url=url, token=token,
                               transport=httpx.MockTransport(self.handler))

    @property
    def token_sent(self) -> bool:
        return any(auth for _path, auth in self.seen)


def call(client: CardAgentClient, method: str = "GET", path: str = "/v1/card/state"):
    return asyncio.run(client.request(method, path))


def error_of(client: CardAgentClient) -> CardAgentError:
    with pytest.raises(CardAgentError) as err:
        call(client)
    return err.value


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CARDAGENT_URL", "CARDAGENT_TOKEN", "CARDAGENT_TOKEN_FILE", "CARDAGENT_PORT",
                 "CARDAGENT_HOST", "CARDAGENT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


# --- where the agent is ----------------------------------------------------------------------


def test_the_default_address_is_the_agents_default_port():
    assert agent_base_url({}) == "http://127.0.0.1:8765"


def test_cardagent_url_names_the_agent(monkeypatch):
    assert agent_base_url({"CARDAGENT_URL": "http://127.0.0.1:9999/"}) == "http://127.0.0.1:9999"
    monkeypatch.setenv("CARDAGENT_URL", "http://[::1]:8766")
    assert CardAgentClient().base_url == "http://[::1]:8766"


def test_the_agents_own_settings_do_not_move_the_client():
    # The agent's CARDAGENT_PORT/HOST are the agent's: the client reads CARDAGENT_URL only.
    assert agent_base_url({"CARDAGENT_PORT": "9000", "CARDAGENT_HOST": "0.0.0.0"}) == URL


# --- the token -------------------------------------------------------------------------------


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_the_token_from_the_environment_wins(tmp_path):
    file = private_file(tmp_path / "token", "from-file\n")
    env = {"CARDAGENT_TOKEN": "from-env", "CARDAGENT_TOKEN_FILE": str(file)}
    assert read_token(env) == "from-env"
    assert read_token({"CARDAGENT_TOKEN_FILE": str(file)}) == "from-file"


def test_without_a_token_setting_there_is_no_token(tmp_path):
    assert read_token({}) is None
    assert read_token({"CARDAGENT_TOKEN_FILE": str(tmp_path / "missing")}) is None
    assert read_token({"CARDAGENT_TOKEN_FILE": str(private_file(tmp_path / "t", "\n"))}) is None


@pytest.mark.skipif(os.name != "posix", reason="POSIX owner and mode bits")
def test_a_token_file_others_can_read_or_plant_is_not_used(tmp_path):
    open_file = private_file(tmp_path / "open", "leaked", 0o644)
    assert read_token({"CARDAGENT_TOKEN_FILE": str(open_file)}) is None
    writable = private_file(tmp_path / "writable", "planted", 0o620)
    assert read_token({"CARDAGENT_TOKEN_FILE": str(writable)}) is None
    link = tmp_path / "link"
    link.symlink_to(private_file(tmp_path / "real", "secret"))
    assert read_token({"CARDAGENT_TOKEN_FILE": str(link)}) is None
    assert read_token({"CARDAGENT_TOKEN_FILE": str(tmp_path)}) is None  # a folder


def test_the_token_file_is_read_when_the_agent_is_called(tmp_path, monkeypatch):
    # The agent creates its token at its first start, possibly after the action server.
    file = tmp_path / "token"
    monkeypatch.setenv("CARDAGENT_TOKEN_FILE", str(file))
    agent = FakeAgent()
    client = agent.client(token=None)
    assert error_of(client).code == AGENT_NOT_VERIFIED
    private_file(file, TOKEN + "\n")
    assert call(client) == STATE
    assert agent.seen[-1] == ("/v1/card/state", f"Bearer {TOKEN}")


# --- the proof before the token -------------------------------------------------------------


def test_the_real_agent_gets_the_token_after_its_proof():
    agent = FakeAgent()
    assert call(agent.client()) == STATE
    assert agent.seen == [("/v1/proof", None), ("/v1/card/state", f"Bearer {TOKEN}")]


@pytest.mark.parametrize(
    "squatter",
    [
        FakeAgent(proof_token="guessed"),  # does not know the token
        FakeAgent(signs="127.0.0.1:8766"),  # relays the real agent's proof from another port
        FakeAgent(proof_answer=httpx.Response(404, json={"error": "not_found"})),
        FakeAgent(proof_answer=httpx.Response(200, content=b"<html>")),
        FakeAgent(proof_answer=httpx.Response(200, json={"proof": 42})),
        FakeAgent(proof_answer=httpx.Response(200, json=["proof"])),
    ],
    ids=["wrong-token", "relayed", "no-route", "not-json", "not-a-string", "not-an-object"],
)
def test_whatever_cannot_prove_it_is_the_agent_never_gets_the_token(squatter):
    assert error_of(squatter.client()).code == AGENT_NOT_VERIFIED
    assert not squatter.token_sent
    assert {path for path, _ in squatter.seen} == {"/v1/proof"}


def test_without_a_token_only_the_proof_is_asked():
    agent = FakeAgent()
    err = error_of(agent.client(token=None))
    assert err.code == AGENT_NOT_VERIFIED
    assert agent.seen == [("/v1/proof", None)]


# --- the agent's answers ---------------------------------------------------------------------


def test_an_error_answer_keeps_the_agents_code_and_message():
    agent = FakeAgent(answer=lambda r: httpx.Response(
        409, json={"error": "no_card", "message": "Inget kort", "detail": "x"}))
    err = error_of(agent.client())
    assert (err.code, err.status, err.message, err.detail) == (
        "no_card", 409, "Inget kort", "x")


@pytest.mark.parametrize(
    "response",
    [httpx.Response(200, content=b"not json"), httpx.Response(200, json=["a", "list"]),
     httpx.Response(500, content=b"oops"), httpx.Response(502, json=["x"])],
)
def test_an_answer_that_is_not_the_agents_is_a_bad_answer(response):
    err = error_of(FakeAgent(answer=lambda r: response).client())
    assert err.code == AGENT_BAD_ANSWER


@pytest.mark.parametrize(
    ("exc", "code"),
    [(httpx.ConnectError("refused"), AGENT_UNREACHABLE),
     (httpx.ReadTimeout("slow"), AGENT_TIMEOUT)],
)
def test_an_agent_that_does_not_answer(exc, code):
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    client = CardAgentClient(base_url=URL, token=TOKEN, transport=httpx.MockTransport(fail))
    assert error_of(client).code == code


def test_the_calls_the_actions_make():
    agent = FakeAgent(answer=lambda r: httpx.Response(200, json={"path": r.url.path,
                                                                 "body": r.content.decode()}))
    client = agent.client()
    assert asyncio.run(client.card_state())["path"] == "/v1/card/state"
    assert asyncio.run(client.start_upgrade()) == {"path": "/v1/upgrade", "body": "{}"}
    assert asyncio.run(client.job("j1"))["path"] == "/v1/jobs/j1"
    # The PUK request only proposes: an empty body, no cost consent.
    assert asyncio.run(client.order_puk()) == {"path": "/v1/puk-orders", "body": "{}"}
    assert asyncio.run(client.puk_order("o1"))["path"] == "/v1/puk-orders/o1"


def test_the_client_reads_the_token_through_read_token(monkeypatch):
    # The one place the token comes from (the agent's hardening tests replace it).
    monkeypatch.setattr(agent_client, "read_token", lambda *a, **k: None)
    monkeypatch.setenv("CARDAGENT_TOKEN", TOKEN)
    agent = FakeAgent()
    assert error_of(agent.client(token=None)).code == AGENT_NOT_VERIFIED


def test_the_tls_context_is_built_once_not_on_every_call(monkeypatch):
    # httpx builds a TLS context (reading the whole CA bundle, ~25 ms) for each client it
    # creates unless given one; every card action creates a client, so it is built once.
    import ssl

    built: List[str] = []
    create = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context",
                        lambda *a, **k: built.append("context") or create(*a, **k))
    agent_client._tls_context.cache_clear()
    with socket.socket() as closed:  # a free port that nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = CardAgentClient(base_url=f"http://127.0.0.1:{port}", token=TOKEN)
    for _ in range(3):
        assert error_of(client).code == AGENT_UNREACHABLE
    assert len(built) == 1
