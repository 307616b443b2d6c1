"""The bot's replies to Teams, in-process against the local Microsoft mock (stack tier)."""

from __future__ import annotations

import asyncio
import ssl
from typing import List

import pytest

from bot import teams_output
from bot.teams_output import TeamsOutput
from bot.teams_settings import TeamsSettings
from tests.teams.mock_microsoft import MockMicrosoft

pytestmark = pytest.mark.stack


def test_replies_reach_the_conversation_and_build_one_tls_context(mock: MockMicrosoft,
                                                                   monkeypatch):
    # httpx builds a TLS context (reading the whole CA bundle, ~25 ms on the event loop)
    # for each client it creates unless given one; each reply creates a client.
    built: List[str] = []
    create = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context",
                        lambda *a, **k: built.append("context") or create(*a, **k))
    teams_output.tls_context.cache_clear()
    before = len(mock.activities)
    incoming = mock.activity("hej", conversation="a:tls-once")
    output = TeamsOutput(TeamsSettings.from_env(mock.env()), incoming)

    async def replies() -> None:
        for n in range(3):
            await output.send_text_message("29:user-1", f"svar {n}")

    asyncio.run(replies())
    sent = mock.activities[before:]
    assert [a["text"] for a in sent] == ["svar 0", "svar 1", "svar 2"]
    assert all(a["_path"].startswith("/v3/conversations/a:tls-once/activities") for a in sent)
    assert len(built) == 1
