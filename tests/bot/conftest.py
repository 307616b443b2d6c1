"""Fixtures for the bot tests: one real bot stack (Rasa + action server) per session."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.local_stack import REPO, BotServer, bot_stack, free_port

__all__ = ["REPO", "BotServer"]


@pytest.fixture(scope="session")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    """The bot with no card agent running (its address answers nothing)."""
    no_agent = {"CARDAGENT_URL": f"http://127.0.0.1:{free_port()}", "CARDAGENT_TOKEN": "x"}
    with bot_stack(tmp_path_factory.mktemp("bot"), extra_env=no_agent) as server:
        yield server
