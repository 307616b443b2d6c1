"""Fixtures for the bot tests: one real bot stack (Rasa + action server) per session."""

from __future__ import annotations

from typing import Iterator

import pytest

from bot.local_stack import REPO, BotServer, bot_stack

__all__ = ["REPO", "BotServer"]


@pytest.fixture(scope="session")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    with bot_stack(tmp_path_factory.mktemp("bot")) as server:
        yield server
