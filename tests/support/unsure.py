"""Vague messages about the card that leave the trained NLU unsure, for the tests
that need a "Menade du ...?" turn. Each training round moves them; add candidates
rather than pick one by hand."""

from __future__ import annotations

import pytest

from actions.clarify import likely_questions
from tests.bot.responses import domain
from tests.support.local_stack import BotServer

UNSURE_CANDIDATES = ["kod", "certifikat kort", "puk", "hjälp med kortet", "kortet",
                     "koder kort", "uppgradering", "nytt kort", "certifikat", "SITHS",
                     "kort och koder", "certifikat kod", "kort hjälp koder",
                     "en fråga om koderna", "koder och certifikat",
                     # round 23: the sentence vector made the ones above surer
                     "kortet koder hjälp", "koder uppgradering"]


def find_unsure(bot: BotServer, min_questions: int = 0) -> str:
    """The first candidate the bot's NLU answers with nlu_fallback and at least
    ``min_questions`` likely FAQ questions to offer."""
    for text in UNSURE_CANDIDATES:
        parsed = bot.parse(text)
        if parsed["intent"]["name"] == "nlu_fallback" and len(
            likely_questions(parsed["intent_ranking"], domain().responses)
        ) >= min_questions:
            return text
    pytest.fail(f"none of {UNSURE_CANDIDATES} leaves the NLU unsure; extend the list")
