"""The note an answer gets when it shows one of site.yml's example values.

A plain ``make run`` starts on the example contacts and links (tagged ``!example`` in
site.yml). Every answer that shows one then says so, in the words of the domain's
response ``utter_site_example_note``. One function for every renderer: the chat
(:mod:`bot.nlg`) and the triage tools (:func:`bot.triage.answer`) give the same words.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from rasa.core.nlg.interpolator import interpolate_text

from bot.site_config import SiteConfig, SiteConfigError, load_site_config

EXAMPLE_NOTE_RESPONSE = "utter_site_example_note"
CONTACT_RESPONSE = "utter_servicecenter_contact"

Responses = Mapping[str, Sequence[Mapping[str, Any]]]


def example_note(responses: Responses) -> str:
    """The note's text, from the domain's responses (it has no placeholders)."""
    variants = responses.get(EXAMPLE_NOTE_RESPONSE) or []
    text = (variants[0].get("text") or "").strip() if variants else ""
    if not text:
        raise SiteConfigError(
            f"the domain has no response {EXAMPLE_NOTE_RESPONSE} (the note for answers that "
            "show an example value of site.yml)"
        )
    return text


def site_values(responses: Responses, config: Optional[SiteConfig] = None) -> Dict[str, str]:
    """The site's values for response placeholders, with ``servicecenter_contact``: the
    contact line in the words of the domain's response ``utter_servicecenter_contact``."""
    config = config or load_site_config()
    values = config.template_values()
    variants = responses.get(CONTACT_RESPONSE) or []
    line = (variants[0].get("text") or "").strip() if variants else ""
    if not line:
        raise SiteConfigError(
            f"the domain has no response {CONTACT_RESPONSE} (how the contact is written)"
        )
    values["servicecenter_contact"] = interpolate_text(line, values)
    return values


def with_example_note(
    text: str, responses: Responses, config: Optional[SiteConfig] = None
) -> str:
    """``text`` (a rendered response) with the example note after it when it shows any
    example value (phone, e-mail, link); ``text`` unchanged otherwise."""
    config = config or load_site_config()
    if not text or not config.examples_in(text):
        return text
    note = example_note(responses)
    if note in text:
        return text
    return f"{text}\n\n{note}"
