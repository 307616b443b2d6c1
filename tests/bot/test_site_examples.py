"""site.yml's example values: tagged in the file, named by a production start that refuses
them (scripts/run.sh, the bot's NLG, bot.site_config.check_production), and announced by
every answer that shows one on a plain start (the chat and triage, same words)."""

import asyncio
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot import triage
from bot.chat_reference import REFERENCE_RESPONSE
from bot.nlg import SiteResponseGenerator
from bot.site_config import (
    ENV_VAR,
    REPO_ROOT,
    SiteConfigError,
    SiteDates,
    check_production,
    load_site_config,
)
from bot.site_examples import EXAMPLE_NOTE_RESPONSE, with_example_note
from tests.bot.responses import without_chat_reference

SITE_YML = REPO_ROOT / "site.yml"
TAGGED = [
    "servicecenter.phone", "servicecenter.email", "servicecenter.url",
    "links.choose_certificate", "links.trusted_site", "links.upgrade_instruction",
    "links.puk_order", "links.create_pins", "links.help", "links.assurance_table",
    "links.order_codes_manual", "links.reservkort",
]
# A fixture domain: the note as the lead words it in domain.yml, and three answers.
NOTE = "Obs! Kontaktuppgifterna och länkarna här är exempel, inte regionens riktiga."
RESPONSES: Dict[str, List[Dict[str, Any]]] = {
    EXAMPLE_NOTE_RESPONSE: [{"text": NOTE}],
    REFERENCE_RESPONSE: [{"text": "Uppge {chat_reference}."}],
    "utter_servicecenter_contact": [{"text": "{servicecenter_name} (telefon {servicecenter_phone}, "
                                             "e-post {servicecenter_email})"}],
    "utter_contact": [{"text": "Kontakta {servicecenter_contact}."}],
    "utter_link": [{"text": "Beställ en ny PUK-kod [här]({link_puk_order})."}],
    "utter_phone": [{"text": "Ring {servicecenter_phone}."}],
    "utter_plain": [{"text": "En ny PUK-kod kostar 200 kr."}],
    "utter_date": [{"text": "Efter den {upgrade_last_day} går det inte att uppgradera."}],
}


@pytest.fixture(autouse=True)
def site_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's site.yml with its own dates, outside production."""
    for name in (*SiteDates.env_names().values(), ENV_VAR, "SITE_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def real_site(tmp_path: Path) -> Path:
    """site.yml as a region has it: the same values, no !example tag left."""
    text = SITE_YML.read_text(encoding="utf-8")
    clean = re.sub(r"!example\s+", "", text.split("\nregion_name:", 1)[1])
    path = tmp_path / "site.yml"
    path.write_text("region_name:" + clean, encoding="utf-8")
    return path


def domain(responses: Dict[str, List[Dict[str, Any]]] = RESPONSES) -> Domain:
    return Domain.from_dict({"responses": responses})


def chat(response: str, responses: Dict[str, List[Dict[str, Any]]] = RESPONSES) -> str:
    nlg = SiteResponseGenerator(domain=domain(responses))
    out = asyncio.run(nlg.generate(response, DialogueStateTracker("u", []), "rest"))
    assert out is not None
    return out["text"]


# --- the tags ---

def test_example_values_lists_exactly_the_tagged_ones():
    assert load_site_config().example_values() == TAGGED


def test_the_tags_are_in_the_file_and_explained_at_its_top():
    text = SITE_YML.read_text(encoding="utf-8")
    assert text.count("!example ") == len(TAGGED) + 1  # each value, and the explanation
    head = text.split("\nregion_name:", 1)[0]
    assert "!example" in head and "make run ENV=production" in head
    assert "# EXAMPLE" not in text


def test_only_tagged_values_are_examples(tmp_path):
    text = SITE_YML.read_text(encoding="utf-8")
    text = text.replace('phone: !example "010-000 00 00"', 'phone: "035-13 10 00"')
    text = text.replace("help: !example ", "help: ")
    path = tmp_path / "site.yml"
    path.write_text(text, encoding="utf-8")
    names = load_site_config(path).example_values()
    assert names == [n for n in TAGGED if n not in ("servicecenter.phone", "links.help")]


def test_a_site_without_tags_has_no_examples(real_site):
    site = load_site_config(real_site)
    assert site.example_values() == []
    assert site.servicecenter.phone == load_site_config().servicecenter.phone  # same values


def test_the_tag_marks_one_value_not_a_section(tmp_path):
    text = SITE_YML.read_text(encoding="utf-8").replace("links:\n", "links: !example\n", 1)
    path = tmp_path / "site.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SiteConfigError, match="!example marks one value"):
        load_site_config(path)


# --- the production start ---

def test_check_production_refuses_naming_each_example(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "production")
    with pytest.raises(SiteConfigError) as caught:
        check_production()
    message = str(caught.value)
    assert "\n" not in message
    for name in TAGGED:
        assert name in message
    assert str(SITE_YML) in message


def test_check_production_passes_a_site_without_examples(monkeypatch, real_site):
    monkeypatch.setenv(ENV_VAR, "production")
    monkeypatch.setenv("SITE_CONFIG", str(real_site))
    check_production()  # no error


@pytest.mark.parametrize("env", [None, "development", "Development"])
def test_outside_production_the_examples_start(monkeypatch, env):
    if env:
        monkeypatch.setenv(ENV_VAR, env)
    check_production()  # no error


def test_an_unknown_run_environment_is_refused(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "prod")
    with pytest.raises(SiteConfigError, match="SITHS_ENV"):
        check_production()


def test_the_nlg_refuses_a_production_start_with_examples(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "production")
    with pytest.raises(SiteConfigError) as caught:
        SiteResponseGenerator(domain=domain())
    for name in TAGGED:
        assert name in str(caught.value)


def test_the_nlg_starts_in_production_on_a_real_site(monkeypatch, real_site):
    monkeypatch.setenv(ENV_VAR, "production")
    monkeypatch.setenv("SITE_CONFIG", str(real_site))
    assert NOTE not in chat("utter_contact")


def run_sh(**env: str) -> subprocess.CompletedProcess:
    """scripts/run.sh with no Makefile settings: past the site check it would stop at the
    first unset path (DATA_DIR), so it can never start a process here."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("DATA_DIR", "RASA_TRACKER_DB", "SITE_CONFIG", ENV_VAR)
            and not k.startswith("SITE_")}
    return subprocess.run(  # noqa: S603
        ["bash", str(REPO_ROOT / "scripts" / "run.sh")], env={**base, **env}, cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=60,
    )


def test_run_sh_refuses_a_production_start_naming_each_example():
    done = run_sh(SITHS_ENV="production")
    said = done.stdout + done.stderr
    assert done.returncode != 0
    for name in TAGGED:
        assert name in said
    assert "unbound variable" not in said  # refused at the check, before anything else


def test_run_sh_goes_past_the_check_outside_production():
    done = run_sh()
    said = done.stdout + done.stderr
    assert "DATA_DIR: unbound variable" in said  # past the check (stops at the Makefile's paths)
    assert "12 example values" in said


def test_make_run_env_production_is_passed_on_as_siths_env(tmp_path):
    def dry(*args: str, **env: str) -> str:
        base = {k: v for k, v in os.environ.items() if k not in ("ENV", ENV_VAR)}
        done = subprocess.run(["make", "-n", "run", *args], cwd=REPO_ROOT,  # noqa: S603, S607
                              env={**base, **env}, capture_output=True, text=True, timeout=60)
        return done.stdout

    out = dry("ENV=production")
    assert "SITHS_ENV=production scripts/run.sh" in out
    check = out.index("SITHS_ENV=production .venv/bin/python -m bot.site_config --check")
    assert check < out.index("SITHS_ENV=production scripts/run.sh")
    assert "SITHS_ENV=development scripts/run.sh" in dry()
    # a shell's own ENV (its startup file) is not the run environment
    assert "SITHS_ENV=development scripts/run.sh" in dry(ENV=str(tmp_path / ".shrc"))
    assert "SITHS_ENV=production scripts/run.sh" in dry(SITHS_ENV="production")


# --- the note on answers that show an example ---

@pytest.mark.parametrize("response", ["utter_contact", "utter_link", "utter_phone"])
def test_an_answer_showing_an_example_value_says_so(response):
    text = chat(response)
    assert text.endswith("\n\n" + NOTE)
    assert text.count(NOTE) == 1


@pytest.mark.parametrize("response", ["utter_plain", "utter_date"])
def test_an_answer_without_an_example_value_has_no_note(response):
    assert NOTE not in chat(response)


def test_no_note_on_a_site_without_examples(monkeypatch, real_site):
    monkeypatch.setenv("SITE_CONFIG", str(real_site))
    assert NOTE not in chat("utter_contact")


def test_the_note_follows_the_value_not_the_placeholder(tmp_path):
    # Only the phone is an example: a link answer has no note, a phone answer has one.
    text = re.sub(r"!example\s+(?!\"010)", "", SITE_YML.read_text(encoding="utf-8")
                  .split("\nregion_name:", 1)[1])
    path = tmp_path / "site.yml"
    path.write_text("region_name:" + text, encoding="utf-8")
    site = load_site_config(path)
    assert site.example_values() == ["servicecenter.phone"]
    link = f"Beställ [här]({site.links['puk_order']})."
    assert with_example_note(link, RESPONSES, site) == link
    assert with_example_note(f"Ring {site.servicecenter.phone}.", RESPONSES, site).endswith(NOTE)


def test_the_note_is_the_domains_own_words():
    other = {**RESPONSES, EXAMPLE_NOTE_RESPONSE: [{"text": "Exempel!"}]}
    assert chat("utter_contact", other).endswith("\n\nExempel!")


def test_a_domain_without_the_note_is_a_clear_error_when_an_example_shows():
    without = {k: v for k, v in RESPONSES.items() if k != EXAMPLE_NOTE_RESPONSE}
    assert chat("utter_plain", without)  # nothing to note: fine
    with pytest.raises(SiteConfigError, match=EXAMPLE_NOTE_RESPONSE):
        chat("utter_contact", without)


@pytest.mark.parametrize("response", sorted(
    r for r in RESPONSES if r not in (EXAMPLE_NOTE_RESPONSE, REFERENCE_RESPONSE)))
def test_triage_gives_the_same_words_as_the_chat(monkeypatch, response):
    monkeypatch.setattr(triage, "domain_responses", lambda: RESPONSES)
    assert triage.answer(response).text == without_chat_reference(chat(response), "u", RESPONSES)
    assert (NOTE in triage.answer(response).text) == (response in (
        "utter_contact", "utter_link", "utter_phone", "utter_servicecenter_contact"))


def test_the_real_domain_has_the_note_and_its_contact_answers_carry_it():
    real = Domain.load(str(REPO_ROOT / "domain.yml"))
    text = chat("utter_faq_tappat_koder", real.responses)
    assert text.endswith(real.responses[EXAMPLE_NOTE_RESPONSE][0]["text"])
