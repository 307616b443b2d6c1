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
import logging
import os
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11e

from actions import agent_client
from actions.agent_client import CardAgentClient, CardAgentError
from cardagent import tokenfile
from cardagent.api import create_app
from cardagent.cardwriter import CardWriter, modulus_hash
from cardagent.settings import OrderSettings, Settings
from cardagent.tokenfile import load_or_create_token
from devtools.order_receiver import OrderReceiver
from devtools.servers import ThreadedServer
from tests.cardagent.conftest import BASE_URL, free_port
from tests.cardagent.test_upgrade import (
    assert_old_intact,
    card_objects,
    finish,
    start_job,
    submit_pins,
)

# getattr: the same file also runs against the code before issue 10 (to show it fails there)
TokenFileError = getattr(tokenfile, "TokenFileError", OSError)

REPO = Path(__file__).resolve().parents[3]
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
    # the client side (the action server) refuses it too: tests/actions/test_agent_client.py
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


@pytest.mark.stack
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
    assert "Kortprogrammet startar inte" in proc.stderr and "symlink" in proc.stderr
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


@pytest.mark.stack
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


@pytest.mark.stack
def test_relayed_proof_is_the_real_agents_own_address(real_agent: str) -> None:
    """Why relaying fails: the agent signs its configured host:port, not the squatter's."""
    nonce = "0f" * 16
    body = httpx.get(f"{real_agent}/v1/proof", params={"nonce": nonce}).json()
    port = int(real_agent.rsplit(":", 1)[1])
    msg = f"siths-cardagent-proof|v1|{nonce}|127.0.0.1:{port}".encode()
    assert body["proof"] == hmac.new(REAL_TOKEN.encode(), msg, hashlib.sha256).hexdigest()
    assert body["agent"] == "siths-cardagent" and body["version"]


@pytest.mark.stack
def test_real_agent_passes_verification(real_agent: str) -> None:
    info = asyncio.run(
        CardAgentClient(base_url=real_agent, token=REAL_TOKEN).request("GET", "/v1/agent")
    )
    assert info["name"] == "SITHS card agent"
    # a client holding a wrong token cannot verify the real agent either (and sends nothing)
    with pytest.raises(CardAgentError) as err:
        asyncio.run(CardAgentClient(base_url=real_agent, token="wrong").request("GET", "/v1/agent"))
    assert err.value.code == AGENT_NOT_VERIFIED


@pytest.mark.stack
@pytest.mark.parametrize(
    "nonce", ["", "ab" * 15, "AB" * 16, "xy" * 16, "a" * 129, "ab" * 16 + "\n", "ab" * 16 + " "]
)
def test_proof_nonce_must_be_32_to_128_lowercase_hex(real_agent: str, nonce: str) -> None:
    r = httpx.get(f"{real_agent}/v1/proof", params={"nonce": nonce})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


@pytest.mark.stack
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


# --- card safety: an object whose modulus cannot be read is never deleted ---------------------


class UnreadableModulus:
    """A fake token: a PKCS#11 session shim on which CKA_MODULUS of the chosen private keys
    cannot be read (as on a card that marks it sensitive), while ``active`` is set."""

    def __init__(self, session, targets: set[str]) -> None:  # noqa: ANN001
        self._session = session
        self.targets = targets
        self.active = threading.Event()

    def get_objects(self, template):  # noqa: ANN001, ANN201
        for obj in self._session.get_objects(template):
            yield _ShimObject(obj, self)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._session, name)


class _ShimObject:
    def __init__(self, obj, shim: UnreadableModulus) -> None:  # noqa: ANN001
        self._obj = obj
        self._shim = shim

    def __getitem__(self, attr):  # noqa: ANN001, ANN204
        if attr == Attribute.MODULUS and self._shim.active.is_set() and self._hidden():
            raise p11e.AttributeSensitive()
        return self._obj[attr]

    def _hidden(self) -> bool:
        if self._obj[Attribute.CLASS] != ObjectClass.PRIVATE_KEY:
            return False
        return modulus_hash(bytes(self._obj[Attribute.MODULUS])) in self._shim.targets

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._obj, name)


def fake_token(client, card) -> Callable[[], None]:  # noqa: ANN001
    """Make the old legitimering private key's modulus unreadable (once a shim is active) for
    the job's card writer; returns the shims (one per opened session) to switch on."""
    old = card_objects(client, card)["legitimering"]
    targets = {o.mod_hash for o in old if o.kind == "private"}
    assert len(targets) == 1 and None not in targets
    shims: list[UnreadableModulus] = []

    def wrap(session):  # noqa: ANN001, ANN202
        shim = UnreadableModulus(session, targets)
        if any(s.active.is_set() for s in shims) or getattr(wrap, "on", False):
            shim.active.set()
        shims.append(shim)
        return shim

    def switch_on() -> None:
        wrap.on = True  # type: ignore[attr-defined]
        for s in shims:
            s.active.set()

    client.app.state.upgrades.runner.writer_factory = lambda reader: CardWriter(
        reader, session_wrapper=wrap
    )
    return switch_on


def old_legit_key_present(client, card) -> bool:  # noqa: ANN001
    objs = card_objects(client, card)["legitimering"]
    cert_mods = {o.mod_hash for o in objs if o.kind == "cert"}
    return any(o.kind == "private" and o.mod_hash in cert_mods for o in objs) and bool(cert_mods)


@pytest.mark.stack
def test_unreadable_old_key_stops_the_job_before_anything_is_deleted(
    make_agent, fresh_card, est_ca
) -> None:
    card = fresh_card("old")
    client = make_agent()
    fake_token(client, card)()  # unreadable from the start
    job = start_job(client)
    submit_pins(client, job)
    done = finish(client, job["job_id"])
    assert done["status"] == "failed", done
    assert done["error_code"] == "card_object_unidentified"
    page = client.get(f"/pin/{job['job_id']}").text
    assert "Inget på kortet har ändrats" in page and "gamla certifikat finns kvar" in page
    assert_old_intact(client, card)  # old pair complete, nothing new left behind


@pytest.mark.stack
def test_rollback_never_deletes_an_old_key_it_cannot_identify(
    make_agent, fresh_card, est_ca
) -> None:
    """The modulus read fails only after the new keys exist; then the CA fails: roll back."""
    card = fresh_card("old")
    client = make_agent()
    switch_on = fake_token(client, card)

    def hook(job_id: str, label: str) -> None:
        if label == "enroll:1":
            switch_on()
            est_ca.fail_next = 100

    client.app.state.upgrades.runner.step_hook = hook
    job = start_job(client)
    submit_pins(client, job)
    done = finish(client, job["job_id"])
    assert done["error_code"] == "card_object_unidentified", done
    assert done["status"] == "failed"
    assert_old_intact(client, card)  # the old private key is still there, the new ones are gone


@pytest.mark.stack
def test_cleanup_never_deletes_an_old_key_it_cannot_identify(
    make_agent, fresh_card, est_ca
) -> None:
    """The new set is complete; while removing the old pair, its key cannot be identified:
    the job stops, the old pair stays whole (the card works with both sets)."""
    card = fresh_card("old")
    client = make_agent()
    switch_on = fake_token(client, card)
    client.app.state.upgrades.runner.step_hook = lambda job_id, label: (
        switch_on() if label == "remove_old" else None
    )
    job = start_job(client)
    submit_pins(client, job)
    done = finish(client, job["job_id"])
    assert done["status"] == "failed" and done["error_code"] == "card_object_unidentified", done
    objs = card_objects(client, card)
    assert old_legit_key_present(client, card)
    old_certs = [o for o in objs["legitimering"] if o.kind == "cert" and o.id == b"IdentificationC"]
    assert len(old_certs) == 2  # the old certificate was not removed either (new + old)


@pytest.mark.stack
def test_destroy_rereads_the_identity(make_agent, fresh_card) -> None:
    """Even a caller holding an identified object cannot delete it once its identity no
    longer reads back."""
    from cardagent.cardwriter import UnidentifiedObject
    from devtools.cards import DEMO_PIN_LEGITIMERING

    card = fresh_card("old")
    client = make_agent()
    target = {o.mod_hash for o in card_objects(client, card)["legitimering"] if o.kind == "private"}
    shim_box: list[UnreadableModulus] = []

    def wrap(session):  # noqa: ANN001, ANN202
        shim_box.append(UnreadableModulus(session, target))
        return shim_box[-1]

    writer = CardWriter(client.app.state.service.pkcs11, session_wrapper=wrap)
    try:
        writer.login("legitimering", card.token_serials["legitimering"], DEMO_PIN_LEGITIMERING)
        key = next(o for o in writer.objects("legitimering") if o.kind == "private")
        assert key.identified
        shim_box[0].active.set()
        with pytest.raises(UnidentifiedObject):
            writer.destroy(key)
    finally:
        writer.close()
    assert old_legit_key_present(client, card)


# --- the outbox: 4xx is terminal, no overflow, no starvation --------------------------------


@pytest.fixture()
def order_world(tmp_path: Path, tls_files):  # noqa: ANN001, ANN201
    """The real agent app and the local order receiver over HTTPS, short retry times."""
    receiver = OrderReceiver(tmp_path / "orders-received.db")
    server = ThreadedServer(receiver.app, free_port(), tls_files).start()
    settings = Settings(
        data_dir=tmp_path / "agent",
        token=REAL_TOKEN,
        orders=OrderSettings(
            webhook_url=f"{server.url}/orders",
            webhook_tls_ca=str(tls_files.ca),
            retry_initial_s=0.2,
            retry_max_s=1.0,
        ),
    )
    app = create_app(settings)
    yield receiver, app
    server.stop()


def placed_order(app, n: int, attempts: int = 0, due_in: float = 0.0) -> tuple[str, str]:  # noqa: ANN001
    """An order the person has placed ("Beställ" clicked): status queued + its outbox row,
    written the way the agent writes them (no card or browser needed for the outbox)."""
    order_id, now = f"order{n:04d}", time.time()
    with app.state.store.transaction() as db:
        db.execute(
            "INSERT INTO puk_orders (id, card_key, reference, status, open, open_until, card, "
            "created_at) VALUES (?, ?, ?, 'queued', 1, ?, ?, ?)",
            (order_id, f"card:test{n}", f"PUK-TEST-{n:04d}", now + 86400, "{}", now),
        )
        db.execute(
            "INSERT INTO outbox (order_id, idempotency_key, payload, attempts, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                order_id,
                f"puk-order-{order_id}",
                json.dumps({"order_id": order_id}),
                attempts,
                now + due_in,
            ),
        )
    return order_id, f"puk-order-{order_id}"


def wait_for(check, timeout: float = 10.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.mark.stack
@pytest.mark.parametrize("status", [400, 422])
def test_order_system_4xx_is_terminal_and_visible(order_world, caplog, status: int) -> None:
    receiver, app = order_world
    receiver.reject_with = status
    receiver.reject_error = "ogiltigt personnummer 191212121212"
    order_id, key = placed_order(app, 1)
    auth = {"Authorization": f"Bearer {REAL_TOKEN}"}
    with caplog.at_level(logging.INFO), TestClient(app, base_url=BASE_URL, headers=auth) as c:

        def view() -> dict:
            return c.get(f"/v1/puk-orders/{order_id}").json()

        assert wait_for(lambda: view()["status"] == "rejected"), view()
        got = view()
        assert got["error_code"] == "order_rejected" and "message" not in got
        time.sleep(2.5)  # more than twice the longest retry delay: nothing more is sent
        assert receiver.posts_by_key[key] == 1
        assert view()["status"] == "rejected"
    log = caplog.text
    assert f"PUK order {order_id} rejected" in log and f"HTTP {status}" in log
    assert "191212121212" not in log and "19121212-****" in log  # the reason, masked


@pytest.mark.stack
def test_a_row_that_always_fails_does_not_starve_the_others(order_world) -> None:
    """A row that has failed 1 100 times (the old backoff overflowed there) and still fails
    must neither block the rows behind it nor be re-sent ahead of them on every pass."""
    receiver, app = order_world
    poison, poison_key = placed_order(app, 1, attempts=1100, due_in=-100)
    receiver.fail_keys.add(poison_key)
    others = [placed_order(app, n, due_in=-50 + n)[0] for n in range(2, 27)]  # > one batch
    started = time.monotonic()
    with TestClient(app, base_url=BASE_URL, headers={"Authorization": f"Bearer {REAL_TOKEN}"}):
        delivered = wait_for(lambda: len(receiver.orders()) == len(others), timeout=15)
        assert delivered, f"{len(receiver.orders())} of {len(others)} delivered"
        time.sleep(2.0)
        with app.state.store.connect() as db:
            row = db.execute(
                "SELECT attempts, next_attempt_at, last_error FROM outbox WHERE order_id = ?",
                (poison,),
            ).fetchone()
    elapsed = time.monotonic() - started
    assert row["attempts"] > 1100 and row["last_error"] == "HTTP 503"
    assert row["next_attempt_at"] <= time.time() + 1.0 + 0.5  # capped, finite
    # backed off: at most one try per half of the shortest capped delay (0.5 s), not per pass
    assert receiver.posts_by_key[poison_key] <= elapsed / 0.5 + 2
    assert all(receiver.posts_by_key[f"puk-order-{o}"] == 1 for o in others)
