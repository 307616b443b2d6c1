"""`make triage`: what the agent sees for what the caller says (real model via /model/parse)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.triage import HttpParser, triage
from tests.bot.responses import rendered
from tests.support.local_stack import REPO


@pytest.mark.stack
def test_a_clear_question_gives_the_answer_and_follow_ups(triage_bot):
    parse = HttpParser(triage_bot.url, triage_bot.api_token)
    result = triage("Vad kostar en ny PUK-kod?", parse("Vad kostar en ny PUK-kod?"))
    assert result.ranking[0][0] == "faq_puk_kostnad"
    assert result.ranking[0][1] == "Vad kostar en ny PUK-kod?"
    assert 0.5 <= result.ranking[0][2] <= 1.0 and len(result.ranking) == 3
    assert result.answer.text == rendered("utter_faq_puk_kostnad")
    assert result.answer.follow_ups == ["Hur beställer jag?", "Beställ en PUK-kod"]
    assert result.escalate == []


@pytest.mark.stack
def test_outside_the_faq_says_escalate(triage_bot):
    parse = HttpParser(triage_bot.url, triage_bot.api_token)
    result = triage("Hur fixar jag BankID på mobilen?", parse("Hur fixar jag BankID på mobilen?"))
    assert result.ranking[0][0] == "out_of_scope"
    assert any("inte SITHS-kortet" in reason for reason in result.escalate)


def test_low_confidence_says_ask_or_escalate_and_reads_nothing_out():
    parse = {"intent_ranking": [{"name": "faq_puk_kostnad", "confidence": 0.31},
                                {"name": "faq_tappat_koder", "confidence": 0.29}]}
    result = triage("kod", parse)
    assert result.answer is None
    assert any("Osäker tolkning" in reason for reason in result.escalate)


def test_answers_that_refer_to_servicecenter_flag_escalation():
    parse = {"intent_ranking": [{"name": "faq_tjanstledig", "confidence": 0.97}]}
    result = triage("tjänstledig", parse)
    assert any("Servicecenter" in reason for reason in result.escalate)


@pytest.mark.stack
def test_terminal_tool_masks_codes_and_shows_the_answer(triage_bot):
    env = {**os.environ, "RASA_API_TOKEN": triage_bot.api_token, "COLUMNS": "120"}
    run = subprocess.run(
        [sys.executable, "-m", "bot.triage", "--url", triage_bot.url],
        input="Hur fungerar det med företagskort?\nmin puk är 12345678\n",
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "Läs upp" in run.stdout and "Företagskort ska också uppgraderas" in run.stdout
    assert "Koden/personnumret togs bort" in run.stdout
    assert "12345678" not in run.stdout


def test_terminal_tool_without_token_explains_what_to_do():
    env = {k: v for k, v in os.environ.items() if k != "RASA_API_TOKEN"}
    run = subprocess.run([sys.executable, "-m", "bot.triage"], input="", cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "RASA_API_TOKEN" in run.stdout
