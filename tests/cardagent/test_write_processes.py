"""The agent (and the order receiver) as real processes, killed with SIGKILL at bad moments.

* an upgrade paused at a chosen checkpoint (the agent started through
  tests/cardagent/paused_agent.py, whose step hook stops the job there), the agent killed
  -9 there and restarted: the job waits for the PINs again and then finishes correctly;
* ten concurrent PUK requests for one card: one order, one delivery;
* the receiver dies after storing an order but before answering, the agent is killed while
  retrying; both come back: the receiver has exactly one order (received twice, deduplicated).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from devtools.cards import DEMO_PIN_LEGITIMERING, DEMO_PIN_UNDERSKRIFT
from tests.cardagent.conftest import assert_no_personnummer, free_port
from tests.cardagent.test_upgrade import assert_upgraded

REPO = Path(__file__).resolve().parents[2]
TOKEN = "proc-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.stack


class Agent:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = int(env["CARDAGENT_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(env["CARDAGENT_DATA_DIR"]).parent / f"agent-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.pause_marker = Path(env["CARDAGENT_DATA_DIR"]).parent / f"paused-{self.port}"

    def start(self, pause_at: str | None = None, **extra: str) -> Agent:
        """``python -m cardagent``; with ``pause_at`` the test launcher, whose upgrade jobs
        stop for good at that checkpoint after writing :attr:`pause_marker`."""
        env = {**self.env, **extra}
        Path(env["CARDAGENT_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "cardagent"]
        if pause_at is not None:
            cmd = [sys.executable, "-m", "tests.cardagent.paused_agent", "--pause-at", pause_at]
            cmd += ["--marker", str(self.pause_marker)]
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=out)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                httpx.get(f"{self.url}/openapi.json", timeout=0.5)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("agent did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, headers=AUTH, timeout=30)

    def post(self, path: str, body: dict) -> httpx.Response:
        return httpx.post(self.url + path, headers=AUTH, json=body, timeout=30)


@pytest.fixture()
def agent(agent_env, est_server, tls_files, trust_anchors, pcscd_service):
    env = agent_env(
        CARDAGENT_TOKEN=TOKEN,
        CARDAGENT_EST_URL=est_server[1],
        CARDAGENT_EST_TLS_CA=str(tls_files.ca),
        CARDAGENT_EST_TRUST_ANCHORS=str(trust_anchors),
        CARDAGENT_ORDER_RETRY_INITIAL="0.2",
        CARDAGENT_ORDER_RETRY_MAX="0.5",
    )
    a = Agent(env)
    yield a
    a.stop()


class Browser:
    """The person's browser for the agent's pages: keeps the page session cookie and sends
    what Chromium sends with a form POST from the page (Origin + Sec-Fetch-Site). The real
    browser is driven in tests/security/test_agent_pages.py."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.http = httpx.Client(timeout=30, follow_redirects=True)

    def open(self, url: str) -> httpx.Response:
        page = self.http.get(url)
        assert page.status_code == 200, page.text
        return page

    def post(self, page: httpx.Response, data: dict) -> httpx.Response:
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
        return self.http.post(
            self.agent.url + action,
            data={"csrf": csrf, **data},
            headers={"Origin": self.agent.url, "Sec-Fetch-Site": "same-origin"},
        )

    def close(self) -> None:
        self.http.close()


def submit_pins(browser: Browser, page_url: str) -> None:
    page = browser.open(page_url)
    r = browser.post(
        page,
        {
            "action": "start",
            "pin_legitimering": DEMO_PIN_LEGITIMERING,
            "pin_underskrift": DEMO_PIN_UNDERSKRIFT,
        },
    )
    assert r.status_code == 200, r.text


def place_order(browser: Browser, order: dict) -> httpx.Response:
    """The person opens the order page and clicks "Beställ"."""
    page = browser.open(order["confirm_page_url"])
    assert "ca 200 kr" in page.text and "Beställ" in page.text
    r = browser.post(page, {"action": "order"})
    assert r.status_code == 200, r.text
    return r


def wait_job(agent: Agent, job_id: str, until: tuple[str, ...], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = agent.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in until:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job stuck: {job}")


@pytest.mark.parametrize(
    ("at", "old_left"),
    [("generate_keys:3", True), ("write_certificates:3", True), ("remove_old:2", False)],
)
def test_agent_killed_mid_upgrade_and_restarted(
    agent, fresh_card, test_pki, est_ca, at: str, old_left: bool
) -> None:
    card = fresh_card("old")
    agent.start(pause_at=at)
    r = agent.post("/v1/upgrade", {})
    assert r.status_code == 201, r.text
    job = r.json()
    browser = Browser(agent)
    submit_pins(browser, job["pin_page_url"])
    marker = agent.pause_marker
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, agent.log.read_text()
        time.sleep(0.1)
    assert at in marker.read_text()
    agent.kill9()  # SIGKILL in the middle of the upgrade
    marker.unlink()
    if old_left:
        assert_old_intact_plus_partial(card)
    agent.start()  # no hook now
    after = agent.get(f"/v1/jobs/{job['job_id']}").json()
    assert after["status"] == "waiting_for_pin" and after["error_code"] == "agent_restarted"
    # the page was opened before the kill: the same browser continues (cookie), no new token
    assert after["page_opened"] is True and "?t=" not in after["pin_page_url"]
    assert agent.get("/v1/card/state").json()["state"] in (
        "not_upgraded",
        "upgraded_with_old_restored",
        "upgraded",
    )
    # the same card cannot get a second job meanwhile
    again = agent.post("/v1/upgrade", {})
    assert again.status_code == 200 and again.json()["job_id"] == job["job_id"]
    submit_pins(browser, after["pin_page_url"])
    browser.close()
    done = wait_job(agent, job["job_id"], ("succeeded", "failed", "rolled_back"))
    assert done["status"] == "succeeded", done
    assert_upgraded(None, card, test_pki)
    logs = agent.log.read_text()
    assert DEMO_PIN_LEGITIMERING not in logs.replace("SE1234567890", "")
    assert_no_personnummer(logs)


def assert_old_intact_plus_partial(card) -> None:
    """Mid-upgrade the old pair is complete on the card (new objects may be there too)."""
    from tests.cardagent.test_upgrade import card_objects

    objs = card_objects(None, card)
    for lst in objs.values():
        certs = [o for o in lst if o.kind == "cert" and b"TEST SITHS Type 1" in o.der]
        assert len(certs) == 1
        assert any(o.kind == "private" and o.mod_hash == certs[0].mod_hash for o in lst)


# --- PUK orders ----------------------------------------------------------------------------------


class Receiver:
    def __init__(self, folder: Path, tls_dir: Path) -> None:
        self.port = free_port()
        self.db = folder / "received.db"
        self.tls_dir = tls_dir
        self.url = f"https://127.0.0.1:{self.port}/orders"
        self.proc: subprocess.Popen | None = None
        self.log = folder / "receiver.log"

    def start(self, *args: str) -> Receiver:
        out = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.order_receiver",
                "--port",
                str(self.port),
                "--db",
                str(self.db),
                "--tls",
                str(self.tls_dir),
                *args,
            ],
            cwd=REPO,
            stdout=out,
            stderr=out,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                httpx.get(self.url, verify=False, timeout=0.5)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("receiver did not start")

    def orders(self) -> list[dict]:
        import sqlite3

        db = sqlite3.connect(self.db)
        rows = db.execute("SELECT idempotency_key, received, body FROM orders").fetchall()
        db.close()
        return [{"key": k, "received": n, "body": b} for k, n, b in rows]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture()
def receiver(tmp_path, tls_files):
    r = Receiver(tmp_path, tls_files.ca.parent)
    yield r
    r.stop()


def test_ten_concurrent_puk_requests_make_one_order(agent, receiver, fresh_card) -> None:
    fresh_card("old")
    receiver.start()
    agent.env.update(
        CARDAGENT_ORDER_WEBHOOK_URL=receiver.url,
        CARDAGENT_ORDER_WEBHOOK_TLS_CA=agent.env["CARDAGENT_EST_TLS_CA"],
    )
    agent.start()
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: agent.post("/v1/puk-orders", {}), range(10)))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    bodies = [a.json() for a in answers]
    assert len({b["order_id"] for b in bodies}) == 1
    assert sum(1 for a in answers if a.status_code == 201) == 1
    assert sum(1 for b in bodies if b["created"]) == 1
    first = next(b for b in bodies if b["created"])
    assert first["reference"].startswith("PUK-") and first["cost_sek"] == 200
    assert "cost_note" not in first and "message" not in first
    # only proposed: nothing placed, nothing sent, whatever the callers said
    assert first["status"] == "awaiting_confirmation" and first["page_opened"] is False
    assert "?t=" in first["confirm_page_url"]
    r = agent.post("/v1/puk-orders", {"confirm_cost": True})
    assert r.status_code == 200 and r.json()["status"] == "awaiting_confirmation"
    assert r.json()["confirm_page_url"] == first["confirm_page_url"]  # unspent link: the same
    time.sleep(1.0)
    assert receiver.orders() == []
    # the person clicks "Beställ" on the agent's page
    browser = Browser(agent)
    place_order(browser, first)
    browser.close()
    deadline = time.monotonic() + 20
    while agent.get(f"/v1/puk-orders/{first['order_id']}").json()["status"] != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    got = receiver.orders()
    assert len(got) == 1 and got[0]["received"] == 1
    assert_no_personnummer(got[0]["body"])
    assert "SE1234567890-TEST0000001" in got[0]["body"]
    # asking again later still returns the same open order, no second charge
    r = agent.post("/v1/puk-orders", {})
    assert r.status_code == 200 and r.json()["order_id"] == first["order_id"]
    assert r.json()["status"] == "delivered"
    assert len(receiver.orders()) == 1


def test_agent_and_receiver_killed_during_delivery(agent, receiver, fresh_card) -> None:
    fresh_card("old")
    receiver.start("--die-after-store")  # stores the order, dies before answering
    agent.env.update(
        CARDAGENT_ORDER_WEBHOOK_URL=receiver.url,
        CARDAGENT_ORDER_WEBHOOK_TLS_CA=agent.env["CARDAGENT_EST_TLS_CA"],
    )
    agent.start()
    r = agent.post("/v1/puk-orders", {})
    assert r.status_code == 201
    order = r.json()
    assert order["status"] == "awaiting_confirmation"
    browser = Browser(agent)
    place_order(browser, order)
    browser.close()
    assert agent.get(f"/v1/puk-orders/{order['order_id']}").json()["status"] in (
        "queued",
        "delivered",
    )
    receiver.proc.wait(timeout=20)  # the receiver died mid-delivery
    assert len(receiver.orders()) == 1
    deadline = time.monotonic() + 20
    while True:  # the agent keeps retrying against a dead receiver
        view = agent.get(f"/v1/puk-orders/{order['order_id']}").json()
        if view["delivery"]["attempts"] >= 2:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert view["status"] == "queued" and view["error_code"] == "order_endpoint_down"
    agent.kill9()
    receiver.start()  # both come back
    agent.start()
    deadline = time.monotonic() + 30
    while True:
        view = agent.get(f"/v1/puk-orders/{order['order_id']}").json()
        if view["status"] == "delivered":
            break
        assert time.monotonic() < deadline, view
        time.sleep(0.2)
    got = receiver.orders()
    assert len(got) == 1, got  # exactly one order at the receiver
    assert got[0]["received"] >= 2  # it saw the retry and deduplicated it
    assert view["delivery"]["receiver_reference"].startswith("ÄRENDE-")
    # and asking again does not create a second one
    r = agent.post("/v1/puk-orders", {})
    assert r.json()["order_id"] == order["order_id"]
    assert len(receiver.orders()) == 1
