"""Fixtures for the triage page: the real bot, the widget's demo page and the triage page
(``python -m bot.triage_web``) reading the bot's conversation store, all on loopback."""

from __future__ import annotations

import secrets
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest

from tests.support.browser import CHROMIUM, browser, page  # noqa: F401 - shared fixtures
from tests.support.local_stack import BotServer, Managed, free_port, site_env
from tests.support.recorded import recorded_set, save_with_rasa
from tests.widget.conftest import build_widget, serve_demo
from tests.widget.stack import start_bot


@dataclass
class TriageServer:
    url: str
    token: str
    audit_log: Path
    bot: Optional[BotServer] = None
    widget_url: str = ""


@contextmanager
def start_triage(tmp: Path, bot: Optional[BotServer] = None,
                 tracker_db: Optional[Path] = None) -> Iterator[TriageServer]:
    """The triage page for ``bot`` (its store, its /model/parse), or on ``tracker_db``
    alone (no bot: searching then says the bot does not answer)."""
    port, token = free_port(), secrets.token_urlsafe(24)
    env = {
        **site_env(),
        "TRIAGE_TOKEN": token,
        "TRIAGE_PORT": str(port),
        "TRIAGE_BOT_URL": bot.url if bot else f"http://127.0.0.1:{free_port()}",
        "TRIAGE_TRACKER_DB_URL": f"sqlite:///{bot.tracker_db if bot else tracker_db}",
        "TRIAGE_AUDIT_LOG": str(tmp / "audit.log"),
        "RASA_API_TOKEN": bot.api_token if bot else "no-bot",
        "BOT_SESSION_SECRET": bot.session_secret if bot else secrets.token_hex(32),
    }
    for name in ("TRIAGE_TOKEN_FILE", "RASA_API_TOKEN_FILE", "BOT_SESSION_SECRET_FILE"):
        env.pop(name, None)
    log = tmp / "triage.log"
    log.write_text("")
    server = Managed([sys.executable, "-m", "bot.triage_web"], env, log,
                     f"http://127.0.0.1:{port}/login", 120)
    server.start()
    try:
        yield TriageServer(f"http://127.0.0.1:{port}", token, tmp / "audit.log", bot)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def triage_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TriageServer]:
    build_widget()
    tmp = tmp_path_factory.mktemp("triage-web")
    widget_port = free_port()
    origin = f"http://127.0.0.1:{widget_port}"
    with start_bot(tmp, cors=[origin]) as bot:
        with serve_demo(widget_port, bot.url) as widget_url, start_triage(tmp, bot) as triage:
            triage.widget_url = widget_url
            yield triage


@pytest.fixture(scope="session")
def recorded_triage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TriageServer]:
    """The triage page alone on the recorded conversations (tests/support/recorded.py)."""
    tmp = tmp_path_factory.mktemp("triage-recorded")
    save_with_rasa(str(tmp / "tracker.db"), recorded_set())
    with start_triage(tmp, tracker_db=tmp / "tracker.db") as triage:
        yield triage


__all__ = ["CHROMIUM", "browser", "page"]
