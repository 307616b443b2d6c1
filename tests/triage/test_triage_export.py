"""`make triage-export`: every FAQ answer, every card state, the escalation rules."""

from __future__ import annotations

import html
import re

import pytest
from rasa.core.nlg.interpolator import interpolate_text

from actions.card_states import CARD_STATES, FINAL_TRY_RESPONSE, STATE_VARIANTS
from bot import triage_export
from bot.faq_catalog import faq_catalog
from bot.site_config import load_site_config
from tests.bot.responses import domain, rendered


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    assert triage_export.main(["--out", str(out)]) == 0
    md = (out / "triage.md").read_text(encoding="utf-8")
    page = (out / "triage.html").read_text(encoding="utf-8")
    # The HTML as a reader sees it: tags removed (link URLs are kept in print), entities decoded.
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    return md, page, text


def visible(answer: str) -> list[str]:
    """An answer's lines as the printed HTML shows them: links as 'text (url)', no list
    markers."""
    plain = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", answer)
    return [re.sub(r"^(- |\d+\. )", "", ln).strip() for ln in plain.splitlines() if ln.strip()]


@pytest.mark.parametrize("intent", list(faq_catalog()))
def test_every_faq_answer_is_in_both_exports(exported, intent):
    md, _, text = exported
    entry = faq_catalog()[intent]
    answer = rendered(entry.response)
    assert answer in md
    for line in visible(answer):
        assert line in text, line
    for question in entry.questions:
        assert question in md and question in text


def as_the_chat_says(response: str) -> str:
    """``response`` rendered the way Rasa renders it in the chat, with the values the card
    actions pass (the triage script's examples)."""
    values = {**load_site_config().template_values(), **triage_export.EXAMPLE_VALUES}
    return interpolate_text(domain().responses[response][0]["text"], values)


def test_every_card_state_and_variant_is_in_the_script():
    cases = triage_export.card_cases()
    assert [c.state for c in cases] == [v.state for v in STATE_VARIANTS]
    assert {c.state for c in cases} == set(CARD_STATES)
    assert set(triage_export.STATE_TITLES) == set(CARD_STATES)
    assert [c.answer.response for c in cases] == [v.response for v in STATE_VARIANTS]


@pytest.mark.parametrize("variant", STATE_VARIANTS, ids=lambda v: v.response)
def test_each_card_state_reads_out_what_the_chat_says(exported, variant):
    md, _, text = exported
    said = as_the_chat_says(variant.response)
    assert "{" not in said, said
    assert said in md
    for line in visible(said):
        assert line in text, line
    title = triage_export.STATE_TITLES[variant.state]
    heading = f"{title} ({variant.label})" if variant.label else title
    assert f"### {heading}" in md and heading in text
    if "{servicecenter_contact}" in domain().responses[variant.response][0]["text"]:
        assert f"### {heading} ⚑" in md


def test_the_final_try_warning_is_in_the_script(exported):
    md, _, text = exported
    said = as_the_chat_says(FINAL_TRY_RESPONSE)
    assert said in md and said in text


def test_escalation_rules_and_contact(exported):
    md, _, text = exported
    assert "När du ska eskalera" in md and "När du ska eskalera" in text
    assert "50%" in md  # FallbackClassifier threshold from config.yml
    phone = load_site_config().servicecenter.phone
    assert phone in md and phone in text
    assert "utter_" not in text and "{" not in md.replace("{servicecenter", "")


def test_html_is_escaped_and_printable(exported):
    _, page, _ = exported
    assert page.startswith("<!doctype html>") and 'lang="sv"' in page
    assert "@media print" in page
    assert "<script" not in page
    for href in re.findall(r'href="([^"]+)"', page):
        assert href.startswith(("https://", "http://", "mailto:"))
