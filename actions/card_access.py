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

Either way the handling of the agent's answer is the same code: each card step
is a :class:`AgentCall` plus a handler of its answer (see actions/card_result.py).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import (
    AGENT_BAD_ANSWER,
    AGENT_UNREACHABLE,
    CardAgentClient,
    CardAgentError,
)

ACCESS_ENV = "CARD_AGENT_ACCESS"
RELAY_CHANNELS = {"socketio"}
RELAY_REQUEST = "cardagent_request"
RELAY_RESULT = "cardagent_result"

AgentAnswer = Union[Dict[str, Any], CardAgentError]


@dataclass(frozen=True)
class AgentCall:
    purpose: str  # which handler continues with the answer
    method: str
    path: str
    body: Optional[Dict[str, Any]] = None
    label: str = ""  # shown in the widget while it asks the agent ("" = nothing)
    extra: Dict[str, Any] = field(default_factory=dict)


def relay_mode() -> bool:
    return os.environ.get(ACCESS_ENV, "direct").strip().lower() == "relay"


def relay_request(call: AgentCall) -> Dict[str, Any]:
    return {
        "type": RELAY_REQUEST,
        "request_id": uuid.uuid4().hex,
        "purpose": call.purpose,
        "method": call.method,
        "path": call.path,
        "body": call.body,
        "label": call.label,
    }


async def ask_agent(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    call: AgentCall,
    client: Optional[CardAgentClient] = None,
) -> Optional[AgentAnswer]:
    """The agent's answer (or error) now, or None when the widget will bring it
    (relay) or the card cannot be reached from this channel (the user is told)."""
    if not relay_mode():
        try:
            return await (client or CardAgentClient()).request(
                call.method, call.path, json=call.body
            )
        except CardAgentError as error:
            return error
    if tracker.get_latest_input_channel() in RELAY_CHANNELS:
        dispatcher.utter_message(json_message={"data": relay_request(call)})
    else:
        dispatcher.utter_message(response="utter_card_not_reachable_here")
    return None


Handler = Callable[[CollectingDispatcher, Tracker, AgentAnswer], List[Dict[str, Any]]]


async def run_step(
    dispatcher: CollectingDispatcher, tracker: Tracker, call: AgentCall, handler: Handler
) -> List[Dict[str, Any]]:
    """One card step: the call, then its handler - now (direct), or later in
    action_card_agent_result when the widget brings the answer (relay)."""
    answer = await ask_agent(dispatcher, tracker, call)
    return [] if answer is None else handler(dispatcher, tracker, answer)


def relayed_answer(tracker: Tracker) -> Optional[Tuple[str, AgentAnswer]]:
    """(purpose, answer) from a ``/cardagent_result`` message's metadata."""
    result = (tracker.latest_message.get("metadata") or {}).get(RELAY_RESULT)
    if not isinstance(result, dict) or not isinstance(result.get("purpose"), str):
        return None
    status = result.get("status")
    body = result.get("body") if isinstance(result.get("body"), dict) else {}
    if not isinstance(status, int) or status == 0:
        return result["purpose"], CardAgentError(AGENT_UNREACHABLE)
    if status >= 400:
        return result["purpose"], CardAgentError(
            str(body.get("error") or AGENT_BAD_ANSWER), status, str(body.get("message") or "")
        )
    return result["purpose"], body
