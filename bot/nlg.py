"""Response generator that fills site links and contacts into responses.

Configured in ``endpoints.yml`` as ``nlg: type: bot.nlg.SiteResponseGenerator``.
It is Rasa's own templated generator; the only difference is that the values
from ``site.yml`` are available to every response next to the slot values, so
``{link_puk_order}`` in ``domain.yml`` becomes the region's real link.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.site_config import load_site_config


class SiteResponseGenerator(TemplatedNaturalLanguageGenerator):
    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
    ) -> None:
        domain = domain or Domain.empty()
        super().__init__(domain.responses)
        self.site_values = load_site_config().template_values()

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        values = {**self.site_values, **tracker.current_slot_values()}
        return self.generate_from_slots(utter_action, values, output_channel, **kwargs)
