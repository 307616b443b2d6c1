"""Fixtures for the widget tests: the built widget, the real bot (Rasa + action
server, with CORS for the demo page's origin), the demo page server and
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.browser import CHROMIUM, browser, page  # noqa: F401 - shared fixtures
from tests.support.card_stack import AgentProcess, insert_demo_card, stop_demo_card
from tests.support.local_stack import REPO, free_port
from tests.widget.stack import BotProcess, start_bot

WIDGET = REPO / "widget"
# Screenshots are kept here after the run (var/ is not in git).
OUTPUT = Path(os.environ.get("WIDGET_TEST_OUTPUT") or REPO / "var" / "test-output" / "widget")


def serve_module():
    """widget/serve.py (not a package: loaded from its path)."""
    spec = importlib.util.spec_from_file_location("widget_serve", WIDGET / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_widget() -> Path:
    """The bundle, rebuilt when a source file is newer (npm ci first if needed)."""
    bundle = WIDGET / "dist" / "siths-chat.js"
    sources = [*WIDGET.glob("src/*.js"), WIDGET / "package-lock.json"]
    if not (WIDGET / "node_modules" / ".package-lock.json").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WIDGET, check=True)
    if not bundle.exists() or max(p.stat().st_mtime for p in sources) > bundle.stat().st_mtime:
        subprocess.run(["npm", "run", "build"], cwd=WIDGET, check=True, capture_output=True)
    return bundle


@dataclass
class Demo:
    page_url: str
    bot: BotProcess
    # A second intranet origin the bot allows, for a page with another chat client
    # (tests/widget/test_rasa_webchat.py); nothing listens there until a test does.
    other_page_port: int


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[str]:
    """``server`` answering in a thread of its own; yields its URL, shuts it down after."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_demo(port: int, bot_url: str) -> Iterator[str]:
    """The demo intranet page (widget/serve.py) on 127.0.0.1:``port``; yields its URL."""
    with serving(serve_module().make_server("127.0.0.1", port, bot_url=bot_url)) as url:
        yield url


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    build_widget()
    port, other_port = free_port(), free_port()
    origins = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{other_port}"]
    with start_bot(tmp_path_factory.mktemp("widget-bot"), cors=origins) as bot:
        with serve_demo(port, bot.url) as page_url:
            yield Demo(page_url=page_url, bot=bot, other_page_port=other_port)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


# The card from the widget when the bot runs centrally (CARD_AGENT_ACCESS=relay): a real
# agent on an emulated "old" card that lets the demo page's origin relay, a central bot,
# and the demo server (the intranet page and the Teams card tab).
@pytest.fixture(scope="module")
def relay_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    build_widget()
    data_dir = tmp_path_factory.mktemp("relay-card")
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    agent = AgentProcess(data_dir)
    agent_url, log = agent.url, agent.log
    try:
        insert_demo_card("old", data_dir)
        agent.start(CARDAGENT_ALLOWED_ORIGINS=origin, CARDAGENT_BROWSER_RELAY="1")
        # A central bot: in relay mode its action server never calls the agent, only the
        # widget does; CARDAGENT_URL names the agent origin whose page links it shows.
        central = {"CARD_AGENT_ACCESS": "relay", "CARDAGENT_URL": agent_url}
        with start_bot(tmp_path_factory.mktemp("relay-bot"), cors=[origin], env=central) as bot:
            server = serve_module().make_server("127.0.0.1", page_port, bot.url, agent_url)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                yield {"page_url": f"{origin}/", "bot": bot, "agent_log": log,
                       "agent_url": agent_url, "data_dir": data_dir}
            finally:
                server.shutdown()
                server.server_close()
    finally:
        agent.stop()
        stop_demo_card(data_dir)
