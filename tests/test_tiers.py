"""The fast tier stays fast: a test module that starts real processes carries the ``stack``
marker, so ``make test-unit`` (``-m "not stack"``) never starts Rasa, the agent, pcscd,
Chromium or a database."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# Names whose use means the module starts processes or servers.
LAUNCHERS = re.compile(
    r"\b(BotServer|bot_stack|start_bot|card_world|card_stack|postgres_server|redis_server"
    r"|pcscd_service|sync_playwright|make_demo_card|subprocess\.Popen)\b"
)
MARKED = re.compile(r"pytest\.mark\.stack")
# Modules that name a launcher without starting anything, and why.
NO_PROCESS = {
    "cardagent/test_config.py": "make_demo_card refuses a foreign settings file before it starts",
}


def test_every_module_that_starts_processes_is_in_the_stack_tier() -> None:
    unmarked = []
    for path in sorted(TESTS.rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name == "test_tiers.py":
            continue
        name = str(path.relative_to(TESTS))
        if LAUNCHERS.search(text) and not MARKED.search(text) and name not in NO_PROCESS:
            unmarked.append(name)
    assert unmarked == [], f"start processes but are not marked stack: {unmarked}"


def test_the_guard_sees_a_launcher() -> None:
    assert LAUNCHERS.search("with bot_stack(tmp) as bot:")
    assert not LAUNCHERS.search("def test_mask(): assert mask('x') == 'x'")
