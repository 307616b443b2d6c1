"""The card agent and a demo card for the bot's tests, as processes of the agent's own
virtual environment.

The bot's virtual environment (``.venv``: Rasa, pydantic 1) has no ``cardagent`` and no
developer tools; the agent's (``.venv-agent``, overridable with ``CARDAGENT_PYTHON``) has
both. So the bot-side tests never import them: they run

* ``python -m devtools.demo_card CARD --data-dir DIR --vpcd-port N --json`` to put a demo
  card in an emulated reader (pcscd + vpcd + SoftHSM2, the EST test CA and the order
  receiver, on their usual ports or free ones if those are taken), which also writes the
  agent's configuration ``DIR/cardagent.toml``;
* ``python -m devtools.demo_card --stop --data-dir DIR [--keep-pcscd]`` to take it out;
* ``python -m cardagent`` with ``CARDAGENT_DATA_DIR=DIR`` (the demo card's configuration)
  and a test token, and talk to it over HTTP like any client.

Demo cards go in the emulator's second reader ("Virtual PCD 00 01"), so a developer's demo
card in the first one is left alone. :func:`card_world` is the whole stack: the bot
(tests.support.local_stack) in direct mode, the agent and the demo card ``old``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional

import httpx

from tests.support.local_stack import (
    REPO,
    TEST_SITE,
    BotServer,
    bot_stack,
    free_port,
    wait_for,
)

AGENT_VENV_PYTHON = REPO / ".venv-agent" / "bin" / "python"
DEFAULT_AGENT_PORT = 8765  # the agent's default port; the widget links only to its origin
TEST_VPCD_PORT = 35964  # the emulator's second reader, "Virtual PCD 00 01"
DEMO_PINS = {"pin_legitimering": "123456", "pin_underskrift": "654321"}


def agent_python() -> str:
    """The agent's virtual environment's python (``CARDAGENT_PYTHON`` overrides it)."""
    python = Path(os.environ.get("CARDAGENT_PYTHON") or AGENT_VENV_PYTHON)
    if not python.exists():
        raise RuntimeError(
            f"no card agent environment at {python}: `make setup` creates .venv-agent "
            "(or set CARDAGENT_PYTHON)"
        )
    return str(python)


def agent_env(data_dir: Path, **overrides: str) -> Dict[str, str]:
    """This environment without any CARDAGENT_* setting of the developer's, the data folder
    ``data_dir`` (where the demo card writes the agent's configuration) and ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDAGENT_")}
    env.pop("VIRTUAL_ENV", None)
    env["CARDAGENT_DATA_DIR"] = str(data_dir)
    env.update(overrides)
    return env


# --- the demo card ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoCard:
    """What ``devtools.demo_card --json`` reports."""

    card: str
    data_dir: Path
    config: Path
    reader: str
    vpcd_port: int
    est_port: int
    order_port: int

    @classmethod
    def from_json(cls, raw: Dict[str, Any]) -> DemoCard:
        return cls(card=raw["card"], data_dir=Path(raw["data_dir"]), config=Path(raw["config"]),
                   reader=raw["reader"], vpcd_port=int(raw["vpcd_port"]),
                   est_port=int(raw["est_port"]), order_port=int(raw["order_port"]))


def _devtool(data_dir: Path, *args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        [agent_python(), "-m", "devtools.demo_card", *args, "--data-dir", str(data_dir)],
        cwd=REPO, env=agent_env(data_dir), capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"devtools.demo_card {' '.join(args)} failed "
                           f"({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def insert_demo_card(card: str, data_dir: Path, vpcd_port: int = TEST_VPCD_PORT) -> DemoCard:
    """Put the demo card ``card`` in the emulated reader of ``vpcd_port`` (replacing the
    card there); returns once the card is in the reader."""
    out = _devtool(data_dir, card, "--vpcd-port", str(vpcd_port), "--json")
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("{")]
    if not lines:
        raise RuntimeError(f"devtools.demo_card --json printed no JSON:\n{out}")
    return DemoCard.from_json(json.loads(lines[-1]))


def stop_demo_card(data_dir: Path, *, keep_pcscd: bool = False) -> None:
    """Take the demo card out: stop its emulator and services (and pcscd if it started it)."""
    _devtool(data_dir, "--stop", *(["--keep-pcscd"] if keep_pcscd else []))


def orders_received(data_dir: Path) -> int:
    """Orders the demo order receiver has got (its database under ``DIR/demo``)."""
    db = data_dir / "demo" / "orders-received.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]


# --- the agent --------------------------------------------------------------------------------


@dataclass
class AgentProcess:
    """``python -m cardagent`` in the agent's environment, on ``port``, with ``token``."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: "bot-tests-" + uuid.uuid4().hex)
    proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / "agent.log"

    def start(self, **overrides: str) -> None:
        """(Re)start the agent; ``overrides``: more CARDAGENT_* settings for this run."""
        self.stop()
        env = agent_env(self.data_dir, CARDAGENT_PORT=str(self.port),
                        CARDAGENT_TOKEN=self.token, **overrides)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603
                [agent_python(), "-m", "cardagent"], cwd=REPO, env=env, stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(f"{self.url}/openapi.json", self.proc, 30, self.log)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def get(self, path: str) -> Dict[str, Any]:
        """The agent's JSON answer to ``GET path`` with the token (the test's own look)."""
        reply = httpx.get(f"{self.url}{path}", timeout=30,
                          headers={"Authorization": f"Bearer {self.token}"})
        reply.raise_for_status()
        return reply.json()

    def card_state(self) -> str:
        return self.get("/v1/card/state")["state"]

    def card_present(self, reader: str) -> Optional[bool]:
        """Whether the agent sees a card in ``reader`` (None: no such reader)."""
        for r in self.get("/v1/readers")["readers"]:
            if r["name"] == reader:
                return bool(r["card_present"])
        return None

    def wait_for_card(self, reader: str, present: bool, timeout: float = 10) -> None:
        """Wait until the agent sees the card in ``reader`` (``present``) or sees it gone
        (the reader without a card, or the reader gone with its emulator)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.card_present(reader)
            if bool(seen) == present:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the agent still sees {reader}: card_present={seen}")
            time.sleep(0.2)

    def wait_for_state(self, state: str, timeout: float = 15) -> None:
        """Wait until the agent reads ``state`` from the card (a person waits too: the
        emulator and pcscd take a moment to show a new card)."""
        deadline = time.monotonic() + timeout
        while (seen := self.card_state()) != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"the agent reads {seen!r}, not {state!r}")
            time.sleep(0.5)


def write_token_file(path: Path, token: str) -> Path:
    """``token`` in a 0600 file, for a client configured with CARDAGENT_TOKEN_FILE."""
    path.write_text(token + "\n", encoding="utf-8")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return path


# --- the whole stack: bot + agent + demo card -------------------------------------------------


@dataclass
class CardWorld:
    """The bot in direct mode, the card agent and a demo card in the test reader."""

    data_dir: Path
    agent: AgentProcess
    bot: BotServer
    reader: str = ""

    @property
    def agent_url(self) -> str:
        return self.agent.url

    @property
    def agent_token(self) -> str:
        return self.agent.token

    def start_agent(self, **overrides: str) -> None:
        self.agent.start(**overrides)

    def insert(self, card: str) -> DemoCard:
        demo = insert_demo_card(card, self.data_dir)
        self.reader = demo.reader
        return demo

    def remove(self) -> None:
        """Take the card out (its emulator goes) and wait until the agent sees it gone."""
        stop_demo_card(self.data_dir, keep_pcscd=True)
        self.agent.wait_for_card(self.reader, present=False)

    def chat(self, sender: str, message: str) -> List[Dict[str, Any]]:
        return self.bot.chat(sender, message)

    def orders_received(self) -> int:
        return orders_received(self.data_dir)


@contextmanager
def card_world(
    tmp: Path,
    *,
    agent_port: Optional[int] = None,
    cors: Optional[List[str]] = None,
    site: Mapping[str, str] = TEST_SITE,
) -> Iterator[CardWorld]:
    """The demo card `old` in the test reader, the demo services, the bot in direct mode
    (its action server finds the agent by CARDAGENT_URL and CARDAGENT_TOKEN_FILE) and the
    agent. ``agent_port``: the agent's port (default a free one); ``cors``: the widget's
    page; ``site``: the bot's site overrides (local_stack.TEST_SITE: the upgrade is still
    open; local_stack.NO_SITE_OVERRIDES: site.yml's own dates). ``tmp``: a fresh folder for
    the card's data and the bot's files."""
    data_dir, bot_dir = tmp / "card", tmp / "bot"
    data_dir.mkdir(mode=0o700)
    bot_dir.mkdir()
    agent = AgentProcess(data_dir, port=agent_port or free_port())
    try:
        demo = insert_demo_card("old", data_dir)
        token_file = write_token_file(bot_dir / "cardagent-token", agent.token)
        env = {"CARDAGENT_URL": agent.url, "CARDAGENT_TOKEN": "",
               "CARDAGENT_TOKEN_FILE": str(token_file)}
        with bot_stack(bot_dir, extra_env=env, cors=cors, site=site) as bot:
            world = CardWorld(data_dir, agent, bot, demo.reader)
            agent.start()
            try:
                yield world
            finally:
                agent.stop()
    finally:
        stop_demo_card(data_dir)
