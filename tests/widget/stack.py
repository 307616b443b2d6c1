"""Start the real bot for the widget and Teams tests: like
:func:`bot.local_stack.bot_stack`, plus Rasa's ``--cors`` for the widget's page
and extra environment (e.g. the Teams settings)."""

from __future__ import annotations

import os
import secrets
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import httpx

from bot.local_stack import MODEL, REPO, VENV_BIN, free_port, wait_for


@dataclass
class BotProcess:
    url: str
    api_token: str
    log_file: Path
    stdout_file: Path

    def tracker(self, sender: str) -> dict:
        reply = httpx.get(
            f"{self.url}/conversations/{sender}/tracker",
            params={"token": self.api_token},
            timeout=10,
        )
        reply.raise_for_status()
        return reply.json()


@contextmanager
def start_bot(
    tmp: Path,
    *,
    cors: Optional[List[str]] = None,
    env: Optional[Dict[str, str]] = None,
    actions: bool = True,
    timeout: float = 180,
) -> Iterator[BotProcess]:
    if not MODEL.exists():
        raise RuntimeError("no trained model: run `make train`")
    rasa_port, action_port = free_port(), free_port()
    token = secrets.token_urlsafe(16)
    full_env = {
        **os.environ,
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "RASA_TRACKER_DB": str(tmp / "tracker.db"),
        "RASA_TELEMETRY_ENABLED": "false",
        "SANIC_HOST": "127.0.0.1",
        **(env or {}),
    }
    procs = []
    actions_log, rasa_log, rasa_out = tmp / "actions.log", tmp / "rasa.log", tmp / "rasa.out"
    try:
        if actions:
            procs.append(subprocess.Popen(
                [str(VENV_BIN / "rasa"), "run", "actions", "--port", str(action_port),
                 "--actions", "actions"],
                cwd=REPO, env=full_env, stdout=actions_log.open("w"), stderr=subprocess.STDOUT,
            ))
        cors_args = ["--cors", *cors] if cors else []
        rasa = subprocess.Popen(
            [str(VENV_BIN / "rasa"), "run", "--interface", "127.0.0.1", "--port", str(rasa_port),
             "--model", str(MODEL), "--credentials", "credentials.yml",
             "--endpoints", "endpoints.yml", "--enable-api", "--auth-token", token,
             *cors_args, "--debug", "--log-file", str(rasa_log)],
            cwd=REPO, env=full_env, stdout=rasa_out.open("w"), stderr=subprocess.STDOUT,
        )
        procs.append(rasa)
        if actions:
            wait_for(f"http://127.0.0.1:{action_port}/health", procs[0], 60, actions_log)
        wait_for(f"http://127.0.0.1:{rasa_port}/", rasa, timeout, rasa_out)
        yield BotProcess(f"http://127.0.0.1:{rasa_port}", token, rasa_log, rasa_out)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
