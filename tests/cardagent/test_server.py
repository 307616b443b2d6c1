"""`python -m cardagent` as a real process: loopback only, token file, pcscd missing, logs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cardagent.conftest import assert_no_personnummer

pytestmark = pytest.mark.stack
REPO = Path(__file__).resolve().parents[2]


def _start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cardagent"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_up(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"agent exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("agent did not start")


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=5)
    return out or ""


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, _remote, st = line.split()[1:4]
            addr, p = local.split(":")
            if int(p, 16) == port and st == "0A":
                if len(addr) == 8:
                    found.add(".".join(str(b) for b in reversed(bytes.fromhex(addr))))
                else:
                    found.add(addr)
    return found


def test_agent_process_end_to_end(agent_env, card_slot, pcscd_service) -> None:
    env = agent_env()
    port = int(env["CARDAGENT_PORT"])
    data = Path(env["CARDAGENT_DATA_DIR"])
    card_slot.insert("upgraded")
    proc = _start(env)
    try:
        _wait_up(proc, port)
        assert _listening_addresses(port) == {"127.0.0.1"}
        token_file = data / "token"
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        token = token_file.read_text().strip()
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/v1/card/state").status_code == 401
        r = httpx.get(f"{url}/v1/card/state", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert r.json()["state"] == "upgraded"
        assert_no_personnummer(r.text)
        evil = httpx.get(
            f"{url}/v1/card/state",
            headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example"},
        )
        assert evil.status_code == 403
        spec = httpx.get(f"{url}/openapi.json").json()
        assert all(p.startswith("/v1/") for p in spec["paths"])
    finally:
        logs = _stop(proc)
    assert "card state upgraded" in logs
    assert_no_personnummer(logs)


def test_token_from_env(agent_env, pcscd_service) -> None:
    env = agent_env(CARDAGENT_TOKEN="env-token-abc")
    port = int(env["CARDAGENT_PORT"])
    proc = _start(env)
    try:
        _wait_up(proc, port)
        r = httpx.get(
            f"http://127.0.0.1:{port}/v1/agent", headers={"Authorization": "Bearer env-token-abc"}
        )
        assert r.status_code == 200
        assert not (Path(env["CARDAGENT_DATA_DIR"]) / "token").exists()
    finally:
        _stop(proc)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_non_loopback_bind_refused(agent_env, host: str) -> None:
    env = agent_env(CARDAGENT_HOST=host)
    out = subprocess.run(
        [sys.executable, "-m", "cardagent"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "CARDAGENT_ALLOW_NON_LOOPBACK" in out.stderr


def test_pcscd_not_running_is_clear_error(agent_env) -> None:
    """libpcsclite honours PCSCLITE_CSOCK_NAME: pointing it nowhere = pcscd not running."""
    env = agent_env(PCSCLITE_CSOCK_NAME="/nonexistent/pcscd.comm", CARDAGENT_TOKEN="t")
    port = int(env["CARDAGENT_PORT"])
    proc = _start(env)
    try:
        _wait_up(proc, port)
        r = httpx.get(
            f"http://127.0.0.1:{port}/v1/card/state",
            headers={"Authorization": "Bearer t"},
            timeout=30,
        )
        assert r.status_code == 503
        assert r.json()["error"] == "pcsc_unavailable"
        assert r.json()["message"].isascii() and "PC/SC" in r.json()["message"]
    finally:
        _stop(proc)
