"""Responses the channels say themselves (outside a policy's turn), in domain.yml's words.

The code notice and the no-answer notice are said by the channel wrappers (bot/channels.py,
bot/teams.py) before or after Rasa's turn, where no response generator runs. They are
responses in ``domain.yml`` like every other text, rendered here the way the chat renders
them: site.yml's values filled in, and the example note when an example value shows.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List

import yaml
from rasa.core.nlg.interpolator import interpolate_text

from bot.site_examples import site_values, with_example_note

DOMAIN = Path(__file__).resolve().parent.parent / "domain.yml"


@lru_cache(maxsize=1)
def responses() -> Dict[str, List[Dict[str, Any]]]:
    raw = yaml.safe_load(DOMAIN.read_text(encoding="utf-8")) or {}
    return raw.get("responses") or {}


def say(response: str) -> str:
    """The first text of ``response`` as the chat shows it."""
    text = responses()[response][0]["text"]
    return with_example_note(interpolate_text(text, site_values(responses())), responses())


def code_notice() -> str:
    """Said when a code or personnummer was masked out of a message (REST, socket.io)."""
    return say("utter_notice_code_removed")


def teams_code_notice() -> str:
    """The same for Teams, which has already stored the message in Microsoft 365."""
    return say("utter_notice_code_removed_teams")


def silence_notice() -> str:
    """Said when a turn produced no answer at all (e.g. the action server is down)."""
    return say("utter_notice_no_answer")
