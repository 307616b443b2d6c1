"""Direct mode, attacked (issue 10): whoever can talk to the bot (any local user,
any web page that gets a request through) sends `/order_puk`, `/affirm`,
`/affirm` - and before, the action server added the agent's token and the order
receiver got a 200 kr order. Now the chat only proposes: the receiver gets
nothing until the person clicks "Beställ" on the agent's own page.

Real bot (Rasa + action server, direct mode), real card agent on an emulated
card, the demo order receiver (the stack of tests/bot/test_card_conversations.py).
"""

from __future__ import annotations

import re

import pytest

from tests.bot.responses import joined
from tests.bot.test_card_conversations import (  # noqa: F401 - the module's card stack
    ORDER_PAGE_LINK,
    sender,
    wait_for_orders,
    world,
)

pytestmark = pytest.mark.stack

ATTACKS = [
    ["/order_puk", "/affirm", "/affirm"],
    ["/order_puk", "/affirm", "/affirm", "/affirm", "/affirm"],
    ["/order_puk", '/affirm{"puk_cost_confirmed": true}', "/affirm"],
    ["jag vill beställa en ny PUK-kod", "ja", "ja, beställ", "ja"],
]


def test_the_chat_alone_places_no_order(world):  # noqa: F811 - the fixture
    for card in ("old", "blocked"):
        world.insert(card)
        before = world.orders_received()
        for attack in ATTACKS:
            who = sender()
            replies = [joined(world.chat(who, message)) for message in attack]
            said = "\n".join(replies)
            # The chat never claims an order it did not place.
            assert "är lagd." not in said and "Referens" not in said, said
            assert not re.search(r"PUK-\d{8}-\w+", said), said
        assert wait_for_orders(world, before + 1, timeout=8) == before, card
        # What the chat offered is the agent's own page, where the person decides.
        assert ORDER_PAGE_LINK.search(said), said
