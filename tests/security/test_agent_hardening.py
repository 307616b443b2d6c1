"""Issue 10, the card agent's own doors, attacked the way a local attacker would.

* token file: a planted symlink, a world-readable or foreign-owned file, a file slipped in
  between the agent's check and its open;
* proof of identity: a squatter on a loopback port (garbage proofs, or proofs it relays from the
  real agent) never receives the bearer token;
* card safety: a PKCS#11 object whose modulus cannot be read is never deleted;
* the outbox: a 4xx from the order system is terminal, backoff never overflows, no row starves.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from actions import agent_client
from actions.agent_client import CardAgentClient, CardAgentError
from cardagent import tokenfile
from cardagent.tokenfile import load_or_create_token, read_token
from tests.cardagent.conftest import free_port

# getattr: the same file also runs against the code before issue 10 (to show it fails there)
TokenFileError = getattr(tokenfile, "TokenFileError", OSError)

REPO = Path(__file__).resolve().parents[2]
ATTACKER_TOKEN = "attacker-knows-this-token-0123456789"

# --- the token file ------------------------------------------------------------------------


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture()
def attacker_file(tmp_path: Path) -> Path:
    """A file the attacker owns and can read (world-writable, as in /tmp)."""
    f = tmp_path / "attacker"
    f.write_text(ATTACKER_TOKEN + "\n")
    os.chmod(f, 0o666)
    return f


def test_planted_symlink_token_is_refused(data_dir: Path, attacker_file: Path) -> None:
    """The attacker plants data_dir/token -> a file with a token they know."""
    (data_dir / "token").symlink_to(attacker_file)
    with pytest.raises(TokenFileError, match="symbolisk länk"):
        load_or_create_token(data_dir / "token")
    # the client side (action server) does not take it either
    assert read_token({"CARDAGENT_DATA_DIR": str(data_dir)}) is None
    assert attacker_file.read_text() == ATTACKER_TOKEN + "\n"


def test_dangling_symlink_is_not_written_through(data_dir: Path, tmp_path: Path) -> None:
    drop = tmp_path / "attacker-drop"
    (data_dir / "token").symlink_to(drop)
    with pytest.raises(TokenFileError):
        load_or_create_token(data_dir / "token")
    assert not drop.exists()


def test_planted_tmp_symlink_never_receives_the_token(data_dir: Path, attacker_file: Path) -> None:
    """Old code wrote the new token to token.tmp (O_TRUNC, follows symlinks) first."""
    (data_dir / "token.tmp").symlink_to(attacker_file)
    token = load_or_create_token(data_dir / "token")
    assert token not in attacker_file.read_text()
    st = os.lstat(data_dir / "token")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_token_file_readable_by_others_is_refused(data_dir: Path, mode: int) -> None:
    f = data_dir / "token"
    token = load_or_create_token(f)
    os.chmod(f, mode)
    with pytest.raises(TokenFileError, match="andra"):
        load_or_create_token(f)
    assert read_token({"CARDAGENT_DATA_DIR": str(data_dir)}) is None
    os.chmod(f, 0o600)
    assert load_or_create_token(f) == token


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_token_file_owned_by_another_user_is_refused(data_dir: Path) -> None:
    f = data_dir / "token"
    f.write_text(ATTACKER_TOKEN + "\n")
    os.chmod(f, 0o600)
    os.chown(f, 65534, 65534)  # nobody planted it
    with pytest.raises(TokenFileError, match="annan användare"):
        load_or_create_token(f)


def test_file_slipped_in_between_check_and_open(
    data_dir: Path, attacker_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attacker wins the race: whatever path the agent is about to create appears as a
    symlink to the attacker's file just before the agent's open(O_CREAT)."""
    real_open = os.open

    def racing_open(path, flags, *args, **kwargs):  # noqa: ANN001, ANN202
        if flags & os.O_CREAT and not os.path.lexists(path):
            os.symlink(attacker_file, path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(tokenfile.os, "open", racing_open)
    with pytest.raises(TokenFileError):
        load_or_create_token(data_dir / "token")
    monkeypatch.undo()
    assert attacker_file.read_text() == ATTACKER_TOKEN + "\n"  # nothing written through


def test_benign_race_uses_the_file_that_won(data_dir: Path, monkeypatch) -> None:
    """Two processes start at once: the loser reads the winner's (safe) file."""
    real_open = os.open
    winner = "winner-token-" + "x" * 30

    def racing_open(path, flags, *args, **kwargs):  # noqa: ANN001, ANN202
        if flags & os.O_CREAT and not os.path.lexists(path):
            fd = real_open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, (winner + "\n").encode())
            os.close(fd)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(tokenfile.os, "open", racing_open)
    assert load_or_create_token(data_dir / "token") == winner


def test_data_folder_is_made_private(tmp_path: Path) -> None:
    d = tmp_path / "open-data"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    load_or_create_token(d / "token")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    fresh = tmp_path / "new" / "data"
    load_or_create_token(fresh / "token")
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o700


def test_data_folder_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "attacker-dir"
    target.mkdir()
    (tmp_path / "data").symlink_to(target)
    with pytest.raises(TokenFileError):
        load_or_create_token(tmp_path / "data" / "token")
    assert not (target / "token").exists()


def test_agent_refuses_to_start_with_a_planted_token(data_dir: Path, attacker_file: Path) -> None:
    """Start the real agent process: a clear error on stderr (sv + en), exit code 2."""
    (data_dir / "token").symlink_to(attacker_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDAGENT_")}
    env.update(
        CARDAGENT_DATA_DIR=str(data_dir), CARDAGENT_PORT=str(free_port()), PYTHONPATH=str(REPO)
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cardagent"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the agent started with a planted token file")
    assert proc.returncode == 2, proc.stderr
    assert "Kortagenten startar inte" in proc.stderr and "symlink" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- proof of identity: a squatter on the port ----------------------------------------------

AGENT_NOT_VERIFIED = getattr(agent_client, "AGENT_NOT_VERIFIED", "agent_not_verified")
REAL_TOKEN = "real-agent-token-" + "7" * 30
PHISHING = {"job_id": "x", "status": "waiting_for_pin", "pin_page_url": "http://127.0.0.1:1/evil"}


class Squatter:
    """What an attacker runs on a free loopback port: records every request's headers and
    answers ``/v1/proof`` with ``mode``: garbage, relay (asks the real agent for the same
    nonce and passes its answer on), not_found (like an agent without the route)."""

    def __init__(self, mode: str, relay_to: str | None = None) -> None:
        self.mode = mode
        self.relay_to = relay_to
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        squatter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                squatter.requests.append((self.command, self.path, dict(self.headers)))
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                status, body = squatter.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> tuple[int, dict]:
        if path.startswith("/v1/proof"):
            if self.mode == "garbage":
                return 200, {"agent": "siths-cardagent", "version": "0.1.0", "proof": "ab" * 32}
            if self.mode == "relay":
                with urllib.request.urlopen(f"{self.relay_to}{path}", timeout=5) as r:
                    return r.status, json.loads(r.read())
            return 404, {"error": "not_found"}
        return 200, PHISHING

    @property
    def saw_token(self) -> bool:
        return any(
            k.lower() == "authorization" or REAL_TOKEN in v
            for _m, _p, headers in self.requests
            for k, v in headers.items()
        ) or any(REAL_TOKEN in p for _m, p, _h in self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def real_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real agent as a process on its own port (no card needed for /v1/proof, /v1/agent)."""
    data = tmp_path_factory.mktemp("proof-agent")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDAGENT_")}
    env.update(
        CARDAGENT_DATA_DIR=str(data / "data"),
        CARDAGENT_PORT=str(port),
        CARDAGENT_TOKEN=REAL_TOKEN,
        CARDAGENT_PCSC_PROBE="0",
        PYTHONPATH=str(REPO),
    )
    log = (data / "agent.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cardagent"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("agent did not start: " + (data / "agent.log").read_text())
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.parametrize("mode", ["garbage", "relay", "not_found"])
def test_squatter_on_the_port_never_receives_the_token(real_agent: str, mode: str) -> None:
    squatter = Squatter(mode, relay_to=real_agent)
    try:
        client = CardAgentClient(base_url=squatter.url, token=REAL_TOKEN)
        for call in (client.card_state(), client.start_upgrade(), client.order_puk()):
            with pytest.raises(CardAgentError) as err:
                asyncio.run(call)
            assert err.value.code == AGENT_NOT_VERIFIED
        assert squatter.requests, "the client did not even ask for the proof"
        assert not squatter.saw_token, squatter.requests
        # it only ever saw token-less proof requests
        assert {p.split("?")[0] for _m, p, _h in squatter.requests} == {"/v1/proof"}
    finally:
        squatter.close()


def test_relayed_proof_is_the_real_agents_own_address(real_agent: str) -> None:
    """Why relaying fails: the agent signs its configured host:port, not the squatter's."""
    nonce = "0f" * 16
    body = httpx.get(f"{real_agent}/v1/proof", params={"nonce": nonce}).json()
    port = int(real_agent.rsplit(":", 1)[1])
    msg = f"siths-cardagent-proof|v1|{nonce}|127.0.0.1:{port}".encode()
    assert body["proof"] == hmac.new(REAL_TOKEN.encode(), msg, hashlib.sha256).hexdigest()
    assert body["agent"] == "siths-cardagent" and body["version"]


def test_real_agent_passes_verification(real_agent: str) -> None:
    info = asyncio.run(
        CardAgentClient(base_url=real_agent, token=REAL_TOKEN).request("GET", "/v1/agent")
    )
    assert info["name"] == "SITHS card agent"
    # a client holding a wrong token cannot verify the real agent either (and sends nothing)
    with pytest.raises(CardAgentError) as err:
        asyncio.run(CardAgentClient(base_url=real_agent, token="wrong").request("GET", "/v1/agent"))
    assert err.value.code == AGENT_NOT_VERIFIED


@pytest.mark.parametrize(
    "nonce", ["", "ab" * 15, "AB" * 16, "xy" * 16, "a" * 129, "ab" * 16 + "\n", "ab" * 16 + " "]
)
def test_proof_nonce_must_be_32_to_128_lowercase_hex(real_agent: str, nonce: str) -> None:
    r = httpx.get(f"{real_agent}/v1/proof", params={"nonce": nonce})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_client_without_a_token_sends_nothing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_client, "read_token", lambda *a, **k: None)
    squatter = Squatter("garbage")
    try:
        with pytest.raises(CardAgentError) as err:
            asyncio.run(CardAgentClient(base_url=squatter.url).card_state())
        assert err.value.code == AGENT_NOT_VERIFIED
        assert {p.split("?")[0] for _m, p, _h in squatter.requests} == {"/v1/proof"}
    finally:
        squatter.close()
