"""How the card actions reach the card agent: directly, or through the widget.

* ``direct`` (default, ``CARD_AGENT_ACCESS`` unset): the action server runs on
  the user's workstation and calls the agent itself (:class:`CardAgentClient`).
* ``relay`` (``CARD_AGENT_ACCESS=relay``): the action server runs centrally and
  cannot reach anybody's workstation. For a user in the intranet widget
  (socket.io) the action sends the widget a custom payload
  ``{"type": "cardagent_request", ...}``; the widget calls the local agent (its
  origin is on the agent's allowlist, browser relay on) and sends the answer
  back as the message ``/cardagent_result`` with the answer in the message's
  metadata. ``action_card_agent_result`` then continues where the action left
  off. Users on other channels get the manual route.
* Teams (``CLOUD_CHANNELS``), in either mode: the message came through Microsoft's
  cloud, so the card is out of reach; the Teams answer (domain.yml's ``channel: teams``
  variant) opens the app's tab, where the widget reads the card.

  Each relayed request carries a one-time ``request_id`` (``secrets``) that the
  action keeps in the slot ``card_relay_request_id`` with the request's purpose.
  A ``/cardagent_result`` is accepted only for an id that is open there (and the
  id is then spent); anything else - a forged, replayed or stale answer - is
  ignored. The purpose that continues is the one the bot stored, never the one
  the message names.

Every URL of an agent page (PIN page, order page) that the chat shows must be on
the agent's own loopback origin (:func:`agent_page_url`), whichever way the
answer came.

Either way the handling of the agent's answer is the same code: each card step
is a :class:`AgentCall` plus a handler of its answer (see actions/card_result.py).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import urlsplit

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import (
    AGENT_BAD_ANSWER,
    AGENT_UNREACHABLE,
    CardAgentClient,
    CardAgentError,
    agent_base_url,
)
from actions.card_texts import offer_upgrade_yourself
from actions.responses import response_text
from bot.doors import is_loopback

ACCESS_ENV = "CARD_AGENT_ACCESS"
RELAY_CHANNELS = {"socketio"}
# Messages on these channels come from a cloud service (Microsoft posts Teams messages),
# never from the user's workstation: the card is out of reach in either mode. Teams users
# read the card in the app's tab, which hosts the widget (bot/teams_tab.py).
CLOUD_CHANNELS = {"teams"}
RELAY_REQUEST = "cardagent_request"
RELAY_RESULT = "cardagent_result"
RELAY_SLOT = "card_relay_request_id"
# Open relay requests kept at once (e.g. the upgrade check-back while the user
# asks for a PUK order); the oldest is dropped beyond that.
MAX_OPEN_REQUESTS = 4

AgentAnswer = Union[Dict[str, Any], CardAgentError]
Events = List[Dict[str, Any]]

# How the actions reach the agent directly; tests replace it with a fake.
make_client: Callable[[], CardAgentClient] = CardAgentClient


@dataclass(frozen=True)
class AgentCall:
    purpose: str  # which handler continues with the answer
    method: str
    path: str
    body: Optional[Dict[str, Any]] = None
    # The response (domain.yml) whose text the widget shows while it asks the agent.
    label: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)


def relay_mode() -> bool:
    return os.environ.get(ACCESS_ENV, "direct").strip().lower() == "relay"


def open_requests(tracker: Tracker, prior: Events = ()) -> Dict[str, str]:
    """The relay requests this conversation issued and has no answer for yet:
    request_id -> purpose (``prior``: events this action already returns)."""
    value = tracker.get_slot(RELAY_SLOT)
    for event in prior:
        if event.get("event") == "slot" and event.get("name") == RELAY_SLOT:
            value = event.get("value")
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def relay_request(
    call: AgentCall, request_id: Optional[str] = None, domain: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    return {
        "type": RELAY_REQUEST,
        "request_id": request_id or secrets.token_urlsafe(24),
        "purpose": call.purpose,
        "method": call.method,
        "path": call.path,
        "body": call.body,
        "label": response_text((domain or {}).get("responses") or {}, call.label)
        if call.label else "",
    }


async def ask_agent(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    call: AgentCall,
    client: Optional[CardAgentClient] = None,
    prior: Events = (),
    domain: Optional[Dict[str, Any]] = None,
) -> Tuple[Optional[AgentAnswer], Events]:
    """(the agent's answer or error now, no events), or (None, events) when the
    widget will bring it (relay: the events open the one-time request id) or the
    card cannot be reached from this channel (the user is told)."""
    channel = tracker.get_latest_input_channel()
    if channel in CLOUD_CHANNELS or (relay_mode() and channel not in RELAY_CHANNELS):
        dispatcher.utter_message(response="utter_card_not_reachable_here")
        offer_upgrade_yourself(dispatcher)
        return None, []
    if not relay_mode():
        try:
            answer = await (client or make_client()).request(
                call.method, call.path, json=call.body
            )
        except CardAgentError as error:
            return error, []
        return answer, []
    request = relay_request(call, domain=domain)
    pending = open_requests(tracker, prior)
    pending[request["request_id"]] = call.purpose
    pending = dict(list(pending.items())[-MAX_OPEN_REQUESTS:])
    dispatcher.utter_message(json_message={"data": request})
    return None, [SlotSet(RELAY_SLOT, pending)]


Handler = Callable[[CollectingDispatcher, Tracker, AgentAnswer], List[Dict[str, Any]]]


async def run_step(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    call: AgentCall,
    handler: Handler,
    prior: Events = (),
    domain: Optional[Dict[str, Any]] = None,
) -> List[Dict[str, Any]]:
    """One card step: the call, then its handler - now (direct), or later in
    action_card_agent_result when the widget brings the answer (relay).
    ``prior``: events the action already returns (a second step in one action);
    ``domain``: the domain rasa-sdk passes to the action (the wait label's text)."""
    answer, events = await ask_agent(dispatcher, tracker, call, prior=prior, domain=domain)
    return events if answer is None else events + handler(dispatcher, tracker, answer)


def relayed_answer(tracker: Tracker) -> Optional[Tuple[str, AgentAnswer, Events]]:
    """(purpose, answer, events) from a ``/cardagent_result`` message's metadata,
    only for a request id this conversation issued and has not used yet; the
    events spend the id. None for anything else (forged, replayed, stale)."""
    metadata = tracker.latest_message.get("metadata")
    result = metadata.get(RELAY_RESULT) if isinstance(metadata, dict) else None
    if not isinstance(result, dict):
        return None
    request_id = result.get("request_id")
    pending = open_requests(tracker)
    if not isinstance(request_id, str) or request_id not in pending:
        return None
    purpose = pending.pop(request_id)
    events: Events = [SlotSet(RELAY_SLOT, pending or None)]
    status = result.get("status")
    body = result.get("body") if isinstance(result.get("body"), dict) else {}
    if not isinstance(status, int) or isinstance(status, bool) or status == 0:
        return purpose, CardAgentError(AGENT_UNREACHABLE), events
    if status >= 400:
        return purpose, CardAgentError(
            str(body.get("error") or AGENT_BAD_ANSWER), status, str(body.get("message") or "")
        ), events
    return purpose, body, events


# --- the agent's own pages -------------------------------------------------------------


def agent_origin() -> str:
    """scheme://host:port of the card agent (the same setting the client uses)."""
    parts = urlsplit(agent_base_url())
    return f"{parts.scheme}://{parts.netloc}".lower()




def agent_page_url(url: Any) -> Optional[str]:
    """``url`` if it is a page of the card agent on this computer (http on the
    configured loopback origin), else None: such a link is never shown."""
    if not isinstance(url, str) or not url or any(c in url for c in " \t\r\n()[]<>\"'\\"):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or not parts.hostname or port is None or parts.username:
        return None
    if not is_loopback(parts.hostname):
        return None
    if f"{parts.scheme}://{parts.netloc}".lower() != agent_origin():
        return None
    return url
