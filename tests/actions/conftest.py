"""Fast tests of the card actions: rasa-sdk trackers built with Tracker.from_dict
(as in the RasaHQ demo bots), a CollectingDispatcher, and a fake card agent in
place of actions.agent_client.CardAgentClient. No servers, no Rasa."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import card_access
from actions.agent_client import CardAgentError

AGENT = "http://127.0.0.1:8765"
# The upgrade form filled in: the person's ordinary card, and both codes at hand.
READY = {"upgrade_card_is_ordinary": True, "upgrade_has_codes": True}

Reply = Callable[[str, str, Optional[dict]], Dict[str, Any]]


class FakeAgent:
    """Answers card-agent calls from a route table; records every call."""

    def __init__(self) -> None:
        self.routes: Dict[Tuple[str, str], Any] = {}
        self.calls: List[Tuple[str, str, Any]] = []

    def on(self, method: str, path: str, answer: Any) -> None:
        self.routes[(method, path)] = answer

    async def request(self, method: str, path: str, **kwargs: Any) -> Dict[str, Any]:
        self.calls.append((method, path, kwargs.get("json")))
        answer = self.routes.get((method, path))
        if answer is None:
            raise CardAgentError("not_found", 404)
        if isinstance(answer, CardAgentError):
            raise answer
        return dict(answer)


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    fake = FakeAgent()
    monkeypatch.setattr(card_access, "make_client", lambda: fake)
    monkeypatch.setenv("CARDAGENT_URL", AGENT)
    monkeypatch.delenv("CARD_AGENT_ACCESS", raising=False)
    return fake


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> None:
    """A central bot: the widget relays; the agent origin is the default one."""
    monkeypatch.setenv("CARD_AGENT_ACCESS", "relay")
    monkeypatch.setenv("CARDAGENT_URL", AGENT)


def tracker(
    slots: Optional[Dict[str, Any]] = None,
    intent: str = "affirm",
    text: str = "",
    metadata: Optional[Dict[str, Any]] = None,
    channel: str = "socketio",
) -> Tracker:
    latest = {"intent": {"name": intent, "confidence": 1.0}, "entities": [], "text": text,
              "metadata": metadata or {}}
    return Tracker.from_dict({
        "sender_id": "unit",
        "slots": slots or {},
        "latest_message": latest,
        "events": [{"event": "user", "text": text, "parse_data": latest,
                    "input_channel": channel, "metadata": metadata or {}}],
        "latest_action_name": "action_listen",
    })


def run(action: Any, t: Tracker) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, events


def slot(events: List[Dict[str, Any]], name: str, default: Any = "absent") -> Any:
    value = default
    for e in events:
        if e.get("event") == "slot" and e.get("name") == name:
            value = e.get("value")
    return value


def shown_text(messages: List[Dict[str, Any]]) -> str:
    """Everything a message carries that a user could see or click (kwargs too)."""
    return repr(messages)
