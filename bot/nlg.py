"""Response generator that fills site links, contacts and dates into responses.

Configured in ``endpoints.yml`` as ``nlg: type: bot.nlg.SiteResponseGenerator``.
It is Rasa's own templated generator with these differences:

* the values from ``site.yml`` are available to every response next to the slot values
  (so ``{link_puk_order}`` in ``domain.yml`` becomes the region's real link and
  ``{upgrade_last_day}`` the configured date);
* a response that points to Servicecenter ends with the conversation's chat reference
  (:mod:`bot.chat_reference`);
* a response that shows one of site.yml's example values gets the example note
  (:mod:`bot.site_examples`);
* ``{teams_card_tab_link}`` opens the Teams app's card tab (:mod:`bot.teams_tab`);
* an FAQ answer in the widget (socket.io) asks "Var svaret till hjälp?": the custom
  payload :data:`FEEDBACK_PAYLOAD`, rendered by the widget's ``feedback.js``.

A production start (``SITHS_ENV=production``) with example values left in
site.yml refuses here, before the bot takes a message.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Optional, Text

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.chat_reference import references, with_chat_reference
from bot.site_config import check_production, load_site_config
from bot.site_examples import site_values, with_example_note
from bot.teams_tab import card_tab_link

#: The custom payload that makes the widget ask for feedback on an FAQ answer. Rasa's
#: socket.io channel emits a response's ``custom`` as the arguments of ``bot_uttered``.
FEEDBACK_PAYLOAD = {"data": {"type": "answer_feedback"}}
FAQ_RESPONSE_PREFIX = "utter_faq_"
FEEDBACK_CHANNELS = ("socketio",)


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
        # Configuration read once at start, not on every response.
        self.teams_card_tab_link = card_tab_link()

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        config = load_site_config()
        reference = references().reference(tracker.sender_id)
        values = {**site_values(self.responses, config), **tracker.current_slot_values(),
                  "chat_reference": reference, "teams_card_tab_link": self.teams_card_tab_link}
        message = self.generate_from_slots(utter_action, values, output_channel, **kwargs)
        if message and message.get("text"):
            template = "".join(v.get("text") or "" for v in self.responses.get(utter_action, []))
            message["text"] = with_chat_reference(
                message["text"], template, self.responses, reference)
            message["text"] = with_example_note(message["text"], self.responses, config)
            if (utter_action.startswith(FAQ_RESPONSE_PREFIX)
                    and output_channel in FEEDBACK_CHANNELS and not message.get("custom")):
                # A fresh copy each time: Rasa's socket.io channel adds the recipient's
                # room to the dict it sends.
                message["custom"] = copy.deepcopy(FEEDBACK_PAYLOAD)
        return message
