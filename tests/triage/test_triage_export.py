"""`make triage-export`: every FAQ answer, every card state, the escalation rules."""

from __future__ import annotations

import html
import re

import pytest

from bot import triage_export
from bot.faq_catalog import faq_catalog
from bot.site_config import load_site_config
from cardagent.classify import STATES
from tests.bot.responses import rendered


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


def test_every_card_state_with_the_agents_own_texts(exported):
    md, _, text = exported
    cases = triage_export.card_cases()
    assert {c.state for c in cases} == set(STATES)
    for case in cases:
        for part in (case.explanation, case.next_step):
            assert part in md and part in text


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
