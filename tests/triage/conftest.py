from __future__ import annotations

from typing import Iterator

import pytest

from tests.actions.conftest import agent  # noqa: F401 (the fake card agent, for test_one_voice)
from tests.support.local_stack import BotServer, bot_stack


@pytest.fixture(scope="session")
def triage_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    """The real bot with its HTTP API on (as `make run` with RASA_API_TOKEN)."""
    with bot_stack(tmp_path_factory.mktemp("triage-bot"), debug=False) as server:
        yield server
