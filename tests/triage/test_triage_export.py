"""`make triage-export`: every FAQ answer, every card state, the escalation rules."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml

from actions.card_states import card_cases
from bot import triage_export
from bot.faq_catalog import faq_catalog
from bot.site_config import load_site_config
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


def test_every_card_case_is_in_the_script(exported):
    """Each way the chat can tell a card is read out under its own heading, with the
    card's facts as placeholders and the site's dates filled in."""
    md, _, text = exported
    told = triage_export.card_told()
    assert [t.key for t in told] == [c.key for c in card_cases(load_site_config().dates)]
    assert set(triage_export.CASE_TITLES) == {t.key for t in told}
    for case in told:
        assert "{" not in case.text, case.text
        assert case.text in md
        for line in visible(case.text):
            assert line in text, line
        heading = f"### {case.title}" + (" ⚑" if case.escalate else "")
        assert heading + "\n" in md


def test_the_script_shows_the_sites_dates_and_no_card_fact_as_if_known(exported):
    md, _, _ = exported
    dates = load_site_config().template_values()
    assert f"sista dagen för att uppgradera var den {dates['upgrade_last_day']}" in md
    assert "går ut den [datum från kortet]" in md


def test_escalation_rules_and_contact(exported):
    md, _, text = exported
    assert "När du ska eskalera" in md and "När du ska eskalera" in text
    threshold = next(c for c in yaml.safe_load(Path("config.yml").read_text())["pipeline"]
                     if c["name"] == "FallbackClassifier")["threshold"]
    assert f"{threshold:.0%}" in md  # FallbackClassifier threshold from config.yml
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


def test_what_the_chat_says_when_the_card_cannot_be_read_is_in_the_script(exported):
    md, _, _ = exported
    for name, title in triage_export.CARD_OUT_OF_REACH:
        assert f"### {title}" in md
        assert rendered(name) in md, name
