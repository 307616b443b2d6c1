"""The action server down: FAQ answers (plain responses) keep working, and a
turn that needs a custom action gets an honest message with the manual route
and the Servicecenter contact instead of silence or an error; when the action
server is back, custom actions work again."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from bot.faq_catalog import faq_catalog
from bot.site_config import load_site_config
from tests.bot.responses import joined, rendered
from tests.support.local_stack import BotServer, bot_stack
from tests.support.unsure import find_unsure

pytestmark = pytest.mark.stack  # starts real processes (Rasa, action server, servers)

CARD_REQUEST = "Kan du kontrollera mitt SITHS-kort?"


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Iterator[BotServer]:
    with bot_stack(tmp_path_factory.mktemp("actions-down"), debug=False) as server:
        server.unsure = find_unsure(server)  # while the action server is up
        server.stop_actions(kill=True)
        yield server


def honest(reply: list) -> str:
    text = joined(reply)
    assert text, "no reply at all"
    assert "Traceback" not in text and "Error" not in text
    assert load_site_config().servicecenter.phone in text
    return text


@pytest.mark.parametrize("entry", list(faq_catalog().values())[:8], ids=lambda e: e.intent)
def test_faq_answers_keep_working(bot, entry):
    assert not bot.actions.running
    reply = bot.chat(f"down-{uuid.uuid4().hex[:8]}", entry.questions[0])
    assert joined(reply) == rendered(entry.response)


def test_a_card_request_gets_an_honest_message(bot):
    """check_card is a custom action: with the action server down the
    channel's "never a silent turn" net (bot/channels.py) must answer with the
    manual route and the Servicecenter phone, no stack trace."""
    honest(bot.chat(f"down-{uuid.uuid4().hex[:8]}", CARD_REQUEST))


def test_a_turn_whose_custom_action_fails_gets_an_honest_message(bot):
    """'Menade du ...?' is a custom action (action_clarify): with the action
    server down the turn must still get an honest answer, not silence."""
    honest(bot.chat(f"down-{uuid.uuid4().hex[:8]}", bot.unsure))


def test_custom_actions_work_again_when_the_action_server_is_back(bot):
    bot.start_actions()
    try:
        reply = joined(bot.chat(f"down-{uuid.uuid4().hex[:8]}", bot.unsure))
        assert "Menade du" in reply
    finally:
        bot.stop_actions()
