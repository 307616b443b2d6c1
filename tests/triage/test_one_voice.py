"""One voice: for every way a card can be told, the chat (the card check action, through
Rasa's own response generator with site.yml) and the printed triage script give the very
same words and the same follow-up buttons."""

from __future__ import annotations

import asyncio

import pytest
from rasa.shared.core.trackers import DialogueStateTracker

from actions import card_check
from actions.card_check import ActionCheckCard
from actions.card_states import card_cases
from bot import triage_export
from bot.nlg import SiteResponseGenerator
from bot.site_config import load_site_config
from tests.actions.conftest import run, tracker
from tests.bot.responses import domain, without_chat_reference

CASES = card_cases(load_site_config().dates)
CARD_VALUES = ("expiry_date", "retries_left")


def chat_says(messages: list[dict]) -> tuple[str, list[str]]:
    """What the user reads: each message rendered by the bot's NLG, joined as the widget
    shows consecutive messages, and the buttons' titles."""
    nlg = SiteResponseGenerator(domain=domain())
    state = DialogueStateTracker("voice", domain().slots)
    texts, buttons = [], []
    for message in messages:
        values = {k: v for k, v in message.items() if k in CARD_VALUES}
        out = asyncio.run(nlg.generate(message["response"], state, "rest", **values))
        texts.append(out["text"])
        buttons += [b["title"] for b in out.get("buttons") or []]
    # The chat adds the chat reference to answers that point to Servicecenter; the triage
    # script, read by Servicecenter itself, does not.
    return without_chat_reference("\n\n".join(texts), "voice"), buttons


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.key)
def test_chat_and_triage_give_the_same_words(agent, monkeypatch, case):
    monkeypatch.setattr(card_check, "today", lambda: case.today)
    agent.on("GET", "/v1/card/state", case.answer)
    messages, _ = run(ActionCheckCard(), tracker({}, "check_card"))
    text, buttons = chat_says(messages)
    card_values = {k: m[k] for m in messages for k in CARD_VALUES if k in m}
    told = triage_export.tell_case(case, card_values)
    assert told.text == text
    assert told.follow_ups == buttons
    assert "{" not in text


def test_the_comparison_can_fail(agent, monkeypatch):
    """Guard: two different cases do not read the same (the test above compares words)."""
    first, second = CASES[0], CASES[-1]
    monkeypatch.setattr(card_check, "today", lambda: first.today)
    agent.on("GET", "/v1/card/state", first.answer)
    text, _ = chat_says(run(ActionCheckCard(), tracker({}, "check_card"))[0])
    assert triage_export.tell_case(second, {}).text != text
