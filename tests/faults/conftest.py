"""Fixtures for the fault tests: bot stacks of their own (they stop and
restart processes, so they never share the session-wide stack of tests/bot)."""

from __future__ import annotations

import pytest

from tests.scale.stacks import UNSURE_CANDIDATES
from tests.support.local_stack import BotServer


def find_unsure(bot: BotServer) -> str:
    """A message the trained NLU is unsure about ("Menade du ...?")."""
    for text in UNSURE_CANDIDATES:
        if bot.parse(text)["intent"]["name"] == "nlu_fallback":
            return text
    pytest.fail(f"none of {UNSURE_CANDIDATES} leaves the NLU unsure; extend the list")
