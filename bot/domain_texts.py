"""Responses the channels say themselves (outside a policy's turn), in domain.yml's words.

The code notice and the no-answer notice are said by the channel wrappers (bot/channels.py,
bot/teams.py) before or after Rasa's turn, where no response generator runs. They are
responses in ``domain.yml`` like every other text, rendered here the way the chat renders
them: site.yml's values filled in, and the example note when an example value shows.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from rasa.core.nlg.interpolator import interpolate_text

from bot.site_config import load_site_config
from bot.site_examples import site_values, with_example_note

DOMAIN = Path(__file__).resolve().parent.parent / "domain.yml"


@lru_cache(maxsize=1)
def responses() -> Dict[str, List[Dict[str, Any]]]:
    raw = yaml.safe_load(DOMAIN.read_text(encoding="utf-8")) or {}
    return raw.get("responses") or {}


def _filled(response: str) -> str:
    return interpolate_text(responses()[response][0]["text"], site_values(responses()))


def say(*names: str) -> str:
    """The responses ``names`` as the chat shows them, one paragraph each (the example note
    once, at the end)."""
    return with_example_note("\n\n".join(_filled(n) for n in names), responses())


def code_notice() -> str:
    """Said when a code or personnummer was masked out of a message (REST, socket.io)."""
    return say("utter_notice_code_removed")


def teams_code_notice() -> str:
    """The same for Teams, which has already stored the message in Microsoft 365."""
    return say("utter_notice_code_removed_teams")


def silence_notice(today: Optional[date] = None) -> str:
    """Said when a turn produced no answer at all (e.g. the action server is down), with
    the upgrade instruction while an upgrade can still be done."""
    if load_site_config().dates.upgrade_open(today or date.today()):
        return say("utter_notice_no_answer", "utter_upgrade_yourself")
    return say("utter_notice_no_answer")
