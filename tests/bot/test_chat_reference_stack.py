"""The real bot ends every answer that points to Servicecenter with the conversation's
chat reference (the one the triage page finds it by), and no other answer."""

from __future__ import annotations

import pytest

from bot.chat_reference import ChatReferences, reference_line
from tests.bot.responses import domain, joined

pytestmark = pytest.mark.stack


def test_a_servicecenter_answer_carries_this_conversations_reference(bot):
    reference = ChatReferences(bot.session_secret.encode()).reference("ref-test")
    told = joined(bot.chat("ref-test", "Jag vill prata med en människa"), keep_reference=True)
    assert reference_line(domain().responses, reference) in told
    assert joined(bot.chat("ref-test", "Jag vill prata med en människa")) != told


def test_other_answers_do_not(bot):
    told = joined(bot.chat("ref-test-2", "Vad kostar en ny PUK-kod?"), keep_reference=True)
    assert "chattreferens" not in told
