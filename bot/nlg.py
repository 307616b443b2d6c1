"""Response generator that fills site links, contacts and dates into responses.

Configured in ``endpoints.yml`` as ``nlg: type: bot.nlg.SiteResponseGenerator``.
It is Rasa's own templated generator with two differences: the values from
``site.yml`` are available to every response next to the slot values (so
``{link_puk_order}`` in ``domain.yml`` becomes the region's real link and
``{upgrade_last_day}`` the configured date), and a response that shows one of
site.yml's example values gets the example note (:mod:`bot.site_examples`).

A production start (``SITHS_ENV=production``) with example values left in
site.yml refuses here, before the bot takes a message.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.site_config import check_production, load_site_config
from bot.site_examples import site_values, with_example_note


class SiteResponseGenerator(TemplatedNaturalLanguageGenerator):
    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
    ) -> None:
        load_site_config()  # a bad site.yml stops the start, not the first answer
        check_production()
        domain = domain or Domain.empty()
        super().__init__(domain.responses)

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        config = load_site_config()
        values = {**site_values(self.responses, config), **tracker.current_slot_values()}
        message = self.generate_from_slots(utter_action, values, output_channel, **kwargs)
        if message and message.get("text"):
            message["text"] = with_example_note(message["text"], self.responses, config)
        return message
