"""The bot's responses as a user sees them: domain.yml texts with site.yml filled in."""

from __future__ import annotations

import re
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


def joined(messages: List[Dict[str, Any]], *, keep_reference: bool = False) -> str:
    """All texts of one bot turn, joined as the channel split them; without the chat
    reference line that answers pointing to Servicecenter end with (it differs per
    conversation; tests/bot/test_chat_reference_stack.py checks it), unless
    ``keep_reference``."""
    text = "\n\n".join(m.get("text", "") for m in messages if m.get("text"))
    if keep_reference:
        return text
    return reference_line_pattern().sub("", text)


@lru_cache(maxsize=1)
def reference_line_pattern() -> re.Pattern[str]:
    """The domain's chat reference line with any reference."""
    from bot.chat_reference import reference_line

    marker = "K-0000-0000"
    line = re.escape(reference_line(domain().responses, marker))
    line = line.replace(re.escape(marker), r"K-[0-9A-Z]{4}-[0-9A-Z]{4}")
    return re.compile(rf"(?:\n\n)?{line}(?=\n\n|$)")


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for m in messages for b in (m.get("buttons") or [])]


def without_chat_reference(text: str, sender_id: str, responses: Any = None) -> str:
    """``text`` as the chat renders it for ``sender_id``, without the chat reference line
    (bot.chat_reference): the triage tools leave it out, the agent being Servicecenter."""
    from bot.chat_reference import reference_line, references

    line = reference_line(responses or domain().responses, references().reference(sender_id))
    return text.replace(f"\n\n{line}", "")
