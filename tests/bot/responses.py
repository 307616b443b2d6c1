"""The bot's responses as a user sees them: domain.yml texts with site.yml filled in."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List

from rasa.core.nlg.interpolator import interpolate_text
from rasa.shared.core.domain import Domain

from bot.site_examples import site_values, with_example_note
from tests.support.local_stack import REPO


@lru_cache(maxsize=1)
def domain() -> Domain:
    return Domain.load(str(REPO / "domain.yml"))


def rendered(response: str, **values: Any) -> str:
    """The text of ``response`` as the chat shows it: links, contacts and site dates filled
    in (``values``: what an action passes, e.g. a date read from the card), with the
    example note when it shows an example value of site.yml."""
    variants = domain().responses[response]
    text = interpolate_text(variants[0]["text"], {**site_values(domain().responses), **values})
    return with_example_note(text, domain().responses)


def joined(messages: List[Dict[str, Any]]) -> str:
    """All texts of one bot turn, joined as the channel split them."""
    return "\n\n".join(m.get("text", "") for m in messages if m.get("text"))


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for m in messages for b in (m.get("buttons") or [])]
