"""Every response renders with the site's links, contacts and dates, none left unfilled;
a site file that lacks or mangles a value is a clear error."""

import asyncio
import re
from pathlib import Path

import pytest
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlg import SiteResponseGenerator
from bot.site_config import (
    ENV_VAR,
    REPO_ROOT,
    SiteConfigError,
    SiteDates,
    load_site_config,
)
from tests.bot.responses import domain

# Values the card actions pass with the responses that need them.
ACTION_VALUES = {"pin_name": "legitimering", "days_left": 20, "reference": "PUK-1",
                 "pin_page_url": "http://127.0.0.1:8765/pin/x", "progress": 40,
                 "confirm_page_url": "http://127.0.0.1:8765/orders/x",
                 "agent_message": "Kortet togs ur.", "expiry_date": "31 mars 2027",
                 "retries_left": 2}
SITE_YML = REPO_ROOT / "site.yml"


@pytest.fixture(autouse=True)
def site_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's site.yml with its own dates, outside production."""
    for name in (*SiteDates.env_names().values(), ENV_VAR, "SITE_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def site_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yml"
    path.write_text(text, encoding="utf-8")
    return path


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


def test_a_missing_link_is_a_clear_error(tmp_path):
    text = SITE_YML.read_text(encoding="utf-8")
    without = re.sub(r"(?m)^  choose_certificate:.*\n", "", text)
    assert without != text
    with pytest.raises(SiteConfigError, match="links.choose_certificate"):
        load_site_config(site_file(tmp_path, without))


def test_missing_dates_are_a_clear_error(tmp_path):
    text = SITE_YML.read_text(encoding="utf-8")
    without = re.sub(r"(?m)^  expiry_choice_before:.*\n", "", text)
    assert without != text
    with pytest.raises(SiteConfigError, match="dates.expiry_choice_before"):
        load_site_config(site_file(tmp_path, without))


def test_an_unknown_setting_is_a_clear_error(tmp_path):
    text = SITE_YML.read_text(encoding="utf-8") + "\nregion_nmae: Typo\n"
    with pytest.raises(SiteConfigError, match="region_nmae"):
        load_site_config(site_file(tmp_path, text))


def test_a_missing_site_file_is_a_clear_error(tmp_path):
    with pytest.raises(SiteConfigError, match="not found"):
        load_site_config(tmp_path / "nowhere.yml")


def test_site_config_env_names_the_file(tmp_path, monkeypatch):
    text = SITE_YML.read_text(encoding="utf-8").replace(
        "region_name: Region Halland", "region_name: Region Exempel")
    monkeypatch.setenv("SITE_CONFIG", str(site_file(tmp_path, text)))
    assert load_site_config().region_name == "Region Exempel"
