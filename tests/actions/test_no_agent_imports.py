"""The bot and the action server are their own deployable: nothing in bot/ or actions/
imports the card agent, the developer tools or the tests (not even inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("cardagent", "devtools", "tests")
SOURCES = sorted(p for folder in ("bot", "actions") for p in (REPO / folder).rglob("*.py"))


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            names.append(str(node.args[0].value))
    return names


def test_the_sources_are_found():
    assert len(SOURCES) > 10
    assert any(p.name == "triage_export.py" for p in SOURCES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_import_of_the_agent_the_devtools_or_the_tests(path):
    bad = [m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN]
    assert bad == [], f"{path.relative_to(REPO)} imports {bad}"


# The card agent, its own product: nothing of the bot, the developer tools or the tests.
AGENT_SOURCES = sorted((REPO / "agent" / "src" / "cardagent").rglob("*.py"))
AGENT_FORBIDDEN = ("devtools", "tests", "bot", "actions", "rasa", "rasa_sdk")


@pytest.mark.parametrize("path", AGENT_SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_agent_imports_no_devtools_tests_or_bot(path):
    bad = [m for m in imported_modules(path) if m.split(".")[0] in AGENT_FORBIDDEN]
    assert bad == [], f"{path.relative_to(REPO)} imports {bad}"


def test_the_agent_sources_are_found():
    assert any(p.name == "settings.py" for p in AGENT_SOURCES) and len(AGENT_SOURCES) > 30
