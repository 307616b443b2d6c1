"""Start the real bot locally for tests and benchmarks: Rasa with the trained
model and the action server, on free loopback ports, with a private SQLite
tracker store and a debug log file that callers can inspect."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "current.tar.gz"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited early; see {log}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {timeout} s; see {log}")


@dataclass
class BotServer:
    url: str
    api_token: str
    tracker_db: Path
    log_file: Path
    stdout_file: Path
    pid: int = 0
    action_pid: int = 0

    def chat(self, sender: str, message: str) -> List[Dict[str, Any]]:
        reply = httpx.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=30,
        )
        reply.raise_for_status()
        return reply.json()

    def parse(self, text: str) -> Dict[str, Any]:
        reply = httpx.post(
            f"{self.url}/model/parse",
            params={"token": self.api_token},
            json={"text": text},
            timeout=30,
        )
        reply.raise_for_status()
        return reply.json()


@contextmanager
def bot_stack(tmp: Path, *, debug: bool = True) -> Iterator[BotServer]:
    """Rasa + action server running until the block ends."""
    if not MODEL.exists():
        raise RuntimeError("no trained model: run `make train`")
    rasa_port, action_port = free_port(), free_port()
    token = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "RASA_TRACKER_DB": str(tmp / "tracker.db"),
        "RASA_TELEMETRY_ENABLED": "false",
        "SANIC_HOST": "127.0.0.1",
    }
    actions_log = tmp / "actions.log"
    rasa_log, rasa_out = tmp / "rasa.log", tmp / "rasa.out"
    actions = subprocess.Popen(
        [str(VENV_BIN / "rasa"), "run", "actions", "--port", str(action_port),
         "--actions", "actions"],
        cwd=REPO, env=env, stdout=actions_log.open("w"), stderr=subprocess.STDOUT,
    )
    rasa = subprocess.Popen(  # noqa: S603
        [str(VENV_BIN / "rasa"), "run", "--interface", "127.0.0.1", "--port", str(rasa_port),
         "--model", str(MODEL), "--credentials", "credentials.yml",
         "--endpoints", "endpoints.yml", "--enable-api", "--auth-token", token,
         *(["--debug"] if debug else []), "--log-file", str(rasa_log)],
        cwd=REPO, env=env, stdout=rasa_out.open("w"), stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{action_port}/health", actions, 60, actions_log)
        wait_for(f"http://127.0.0.1:{rasa_port}/", rasa, 180, rasa_out)
        yield BotServer(
            url=f"http://127.0.0.1:{rasa_port}", api_token=token,
            tracker_db=tmp / "tracker.db", log_file=rasa_log, stdout_file=rasa_out,
            pid=rasa.pid, action_pid=actions.pid,
        )
    finally:
        for proc in (rasa, actions):
            proc.terminate()
        for proc in (rasa, actions):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
