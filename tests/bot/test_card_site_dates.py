"""The site's dates decide what a card is offered, in the chat as in the FAQ answers.

With site.yml's own dates (the FAQ's: no upgrade after 2020) and no override, a demo card
with only the old certificates is told that a new card is needed, with the same date as the
FAQ answer about upgrading after the deadline, and no upgrade is offered or started. The real
bot, action server and card agent on an emulated card (tests/support/card_stack.py); the
stacks of the other card tests run with a later upgrade day (local_stack.TEST_SITE), where
the same card is offered the upgrade (tests/bot/test_card_conversations.py).
"""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from bot.site_config import load_site_config
from tests.bot.responses import buttons, joined, rendered
from tests.support.card_stack import CardWorld, card_world
from tests.support.local_stack import NO_SITE_OVERRIDES, TEST_SITE

pytestmark = pytest.mark.stack


@pytest.fixture(autouse=True)
def faq_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process renders the expected answers with site.yml's own dates too."""
    for name in TEST_SITE:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def faq_dates_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardWorld]:
    with card_world(tmp_path_factory.mktemp("faq-dates"), site=NO_SITE_OVERRIDES) as w:
        yield w


def sender() -> str:
    return f"dates-{uuid.uuid4().hex[:10]}"


def test_after_the_faqs_last_day_an_old_card_is_told_a_new_card_is_needed(faq_dates_world):
    world = faq_dates_world
    world.insert("old")
    last_day = load_site_config().template_values()["upgrade_last_day"]
    assert last_day.endswith("2020")  # the example site.yml keeps the FAQ page's dates
    reply = world.chat(sender(), "Kan du kontrollera mitt SITHS-kort?")
    text = joined(reply)
    assert text == rendered("utter_card_not_upgraded_too_late")
    assert f"var den {last_day}" in text
    assert "/start_upgrade" not in {b["payload"] for b in buttons(reply)}
    # The FAQ answer names the same day.
    faq = joined(world.chat(sender(), "Kan uppgradering av kort göras efter 2020?"))
    assert faq == rendered("utter_faq_uppgradera_efter_2020")
    assert f"efter den {last_day}" in faq


def test_asking_to_upgrade_after_the_last_day_starts_nothing(faq_dates_world):
    world = faq_dates_world
    world.insert("old")
    who = sender()
    text = joined(world.chat(who, "uppgradera mitt kort nu"))
    assert text == "\n\n".join([rendered("utter_upgrade_not_possible"),
                                rendered("utter_card_not_upgraded_too_late")])
    # No form question, no PIN page: nothing was started on the card.
    assert "Öppna sidan för koderna" not in joined(world.chat(who, "ja"))
    assert joined(world.chat(who, "är det klart?")) == rendered("utter_no_upgrade_job")
