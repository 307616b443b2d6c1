"""Every response renders with the site's links and contacts, none left unfilled."""

import asyncio
import re

import pytest
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlg import SiteResponseGenerator
from bot.site_config import SiteConfigError, load_site_config, parse_site_config
from tests.bot.responses import domain

# Values the card actions pass with the responses that need them.
ACTION_VALUES = {"pin_name": "legitimering", "days_left": 20, "reference": "PUK-1",
                 "pin_page_url": "http://127.0.0.1:8765/pin/x", "progress": 40,
                 "confirm_page_url": "http://127.0.0.1:8765/orders/x",
                 "agent_message": "Kortet togs ur."}


@pytest.mark.parametrize("response", sorted(domain().responses))
def test_every_response_renders_completely(response):
    nlg = SiteResponseGenerator(domain=domain())
    tracker = DialogueStateTracker("u", domain().slots)
    out = asyncio.run(nlg.generate(response, tracker, "rest", **ACTION_VALUES))
    assert out and out["text"].strip()
    assert not re.search(r"\{[^}]*\}", out["text"]), out["text"]


def test_links_come_from_the_site_config():
    nlg = SiteResponseGenerator(domain=domain())
    tracker = DialogueStateTracker("u", domain().slots)
    out = asyncio.run(nlg.generate("utter_faq_tappat_koder", tracker, "rest"))
    assert load_site_config().links["puk_order"] in out["text"]


def test_every_link_in_the_config_is_used_by_some_response():
    texts = "\n".join(v[0]["text"] for v in domain().responses.values())
    for name in load_site_config().links:
        assert f"{{link_{name}}}" in texts, name


def test_a_missing_link_is_a_clear_error():
    raw = {"region_name": "R", "servicecenter": {"name": "S", "phone": "1", "email": "e",
                                                 "url": "u"}, "links": {}}
    with pytest.raises(SiteConfigError, match="links.choose_certificate"):
        parse_site_config(raw)
