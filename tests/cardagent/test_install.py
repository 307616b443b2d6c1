"""The card agent is its own product: it installs from its own lock into an empty virtual
environment, with nothing of the bot (no Rasa, TensorFlow or spaCy), and that install serves
a demo card. Downloads from PyPI (as a workstation's installer would)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.cards import PROFILES
from devtools.emulator import VPCD_PORTS
from tests.cardagent.conftest import free_port

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
CARD = "old"
TOKEN = "install-test-token-3c9d1e"
NOT_IN_THE_AGENT = {"rasa", "rasa-sdk", "tensorflow", "tensorflow-cpu", "spacy", "sanic"}


def _run(*argv: str | int | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=REPO, capture_output=True, text=True, timeout=900,
        env=env or {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert done.returncode == 0, f"{argv}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def agent_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty venv, then the agent's runtime lock (hashes checked) and the agent itself."""
    venv = tmp_path_factory.mktemp("agent-install") / "venv"
    _run(getattr(sys, "_base_executable", sys.executable), "-m", "venv", venv)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", "--require-hashes",
         "-r", REPO / "agent" / "requirements.lock")
    _run(python, "-m", "pip", "install", "-q", "--no-deps", REPO / "agent")
    _run(python, "-m", "pip", "check")  # the lock holds everything the agent asks for
    return venv


@pytest.fixture
def demo_folder(tmp_path: Path) -> Iterator[Path]:
    """The demo card as `make demo-card` makes it, in its own process: provisioning in this
    process would point this session's SoftHSM2 at the demo's tokens."""
    folder = tmp_path / "data"
    demo = [sys.executable, "-m", "devtools.demo_card"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDAGENT_")}
    _run(*demo, CARD, "--data-dir", folder, "--vpcd-port", VPCD_PORTS[1], "--json", env=env)
    try:
        yield folder
    finally:
        # stops pcscd only if the demo started it
        _run(*demo, "--stop", "--data-dir", folder, env=env)


def test_installed_packages_hold_nothing_of_the_bot(agent_venv: Path) -> None:
    listed = _run(agent_venv / "bin" / "python", "-m", "pip", "list", "--format=freeze")
    names = {line.split("==")[0].lower() for line in listed.splitlines() if "==" in line}
    assert "siths-cardagent" in names
    assert {"fastapi", "uvicorn", "pydantic", "pydantic-settings", "pyscard"} <= names
    assert names & NOT_IN_THE_AGENT == set()
    size_mb = sum(f.stat().st_size for f in agent_venv.rglob("*") if f.is_file()) / 1e6
    print(f"\nagent install: {len(names)} distributions, {size_mb:.0f} MB on disk")


def test_installed_agent_serves_the_demo_card(
    agent_venv: Path, demo_folder: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CARDAGENT_DATA_DIR": str(demo_folder),
        "CARDAGENT_PORT": str(port),
        "CARDAGENT_TOKEN": TOKEN,
    }
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(agent_venv / "bin" / "python"), "-m", "cardagent"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1/card/state"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                reply = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        assert reply.status_code == 200, reply.text
        assert reply.json()["state"] == PROFILES[CARD].expected_state
    finally:
        proc.terminate()
        proc.wait(timeout=15)
