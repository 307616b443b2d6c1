"""``docs/sources.md`` covers every response in ``domain.yml`` exactly once, and no more.

Each row names its source: a question quoted as the FAQ page words it (the same wording as
``bot/faq_questions.yml``), a card fact the card program returns, UI text, or a ``site.yml``
setting. The checks fail on drift both ways (a response without a row, a row for a response
that is gone) and on a quoted question, a site key or a card fact that does not exist. The
claims the page does not make (the doc's ``claims_not_made``) appear in no text anyone reads.
Unit tier: files are read as text, ``cardagent`` is never imported.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any, List, Set, Tuple

import pytest
import yaml

from tests.bot.test_glossary import YAML_BLOCK, form_pattern, snippet, user_texts, words_of

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "docs" / "sources.md"
DOMAIN = REPO / "domain.yml"
FAQ_QUESTIONS = REPO / "bot" / "faq_questions.yml"
SITE = REPO / "site.yml"
AGENT_SRC = REPO / "agent" / "src" / "cardagent"

ROW = re.compile(r"^\|\s*`(utter_\w+)`\s*\|(.*)$", re.M)
KINDS = ("FAQ", "card fact", "UI text", "site setting")
FAQ_QUOTE = re.compile(r'FAQ "([^"]+)"')
SITE_KEYS = re.compile(r"site setting ((?:`[\w.]+`(?:,\s*)?)+)")
BACKTICKED = re.compile(r"`([^`]+)`")


def source_rows(text: str) -> List[Tuple[str, str]]:
    """(response, source cell) for every table row whose first cell names a response."""
    rows = []
    for name, rest in ROW.findall(text):
        cells = rest.split("|")
        rows.append((name, cells[0].strip() if cells else ""))
    return rows


def domain_response_names(path: Path = DOMAIN) -> Set[str]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return set((raw.get("responses") or {}).keys())


def drift(rows: List[Tuple[str, str]], responses: Set[str]) -> List[str]:
    """Everything wrong between the rows and the responses, as readable lines."""
    counts = Counter(name for name, _ in rows)
    out = [f"no row in docs/sources.md for {n}" for n in sorted(responses - set(counts))]
    out += [f"row for {n}, which domain.yml does not have" for n in sorted(set(counts) - responses)]
    out += [f"{c} rows for {n}" for n, c in sorted(counts.items()) if c > 1]
    return out


@pytest.fixture(scope="module")
def rows() -> List[Tuple[str, str]]:
    return source_rows(SOURCES.read_text(encoding="utf-8"))


def test_every_response_has_exactly_one_row_and_every_row_a_response(
    rows: List[Tuple[str, str]],
) -> None:
    problems = drift(rows, domain_response_names())
    assert problems == [], "\n".join(problems)


TEMPLATE_ROW = re.compile(r"^\|\s*`([\w-]+\.html)`\s*\|", re.M)


def test_every_page_template_has_exactly_one_row() -> None:
    """The card program's own pages: one row per template, none for a template that is gone."""
    rows = Counter(TEMPLATE_ROW.findall(SOURCES.read_text(encoding="utf-8")))
    templates = {p.name for p in (AGENT_SRC / "templates").glob("*.html")}
    problems = [f"no row for {t}" for t in sorted(templates - set(rows))]
    problems += [f"row for {t}, which is not a template" for t in sorted(set(rows) - templates)]
    problems += [f"{c} rows for {t}" for t, c in sorted(rows.items()) if c > 1]
    assert problems == [], "\n".join(problems)


def test_every_row_names_its_source(rows: List[Tuple[str, str]]) -> None:
    bare = [name for name, cell in rows if not any(kind in cell for kind in KINDS)]
    assert bare == [], f"rows without FAQ / card fact / UI text / site setting: {bare}"


def faq_questions() -> Set[str]:
    raw = yaml.safe_load(FAQ_QUESTIONS.read_text(encoding="utf-8"))
    return {q for entry in raw.values() for q in entry.get("questions") or []}


def test_every_quoted_question_is_the_pages(rows: List[Tuple[str, str]]) -> None:
    questions = faq_questions()
    wrong = [(name, q) for name, cell in rows for q in FAQ_QUOTE.findall(cell)
             if q not in questions]
    assert wrong == [], f"not a question of the FAQ page (bot/faq_questions.yml): {wrong}"
    faq_rows = [name for name, cell in rows if "FAQ" in cell]
    assert all(FAQ_QUOTE.search(c) for n, c in rows if n in faq_rows), "an FAQ row quotes nothing"


class _AnyTag(yaml.SafeLoader):
    """Reads site.yml with its tags (``!example``) as plain values."""


_AnyTag.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))


def site_keys(path: Path = SITE) -> Set[str]:
    def walk(value: Any, prefix: str) -> List[str]:
        if not isinstance(value, dict):
            return [prefix]
        keys = [prefix] if prefix else []
        for key, sub in value.items():
            keys += walk(sub, f"{prefix}.{key}" if prefix else str(key))
        return keys

    return set(walk(yaml.load(path.read_text(encoding="utf-8"), Loader=_AnyTag), ""))


def test_every_named_site_setting_exists(rows: List[Tuple[str, str]]) -> None:
    keys = site_keys()
    named = {(name, key) for name, cell in rows for group in SITE_KEYS.findall(cell)
             for key in BACKTICKED.findall(group)}
    assert named, "no row names a site setting: the pattern reads nothing"
    missing = sorted((n, k) for n, k in named if k not in keys)
    assert missing == [], f"site.yml has no such key: {missing}"


def agent_words() -> Set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in AGENT_SRC.rglob("*.py"))
    return set(re.findall(r"\w+", text))


def card_fact_names(cell: str) -> List[str]:
    """The identifiers of the card facts a source cell names (`details.blocked_pins`,
    `error_code=wrong_pin`): the backticked spans after "card fact", up to the next kind."""
    names: List[str] = []
    for part in re.split(r";\s*", cell):
        if part.strip().startswith("card fact"):
            for span in BACKTICKED.findall(part):
                names += [w for w in re.split(r"[.=\s]+", span) if w]
    return names


def test_every_named_card_fact_is_one_the_card_program_returns(
    rows: List[Tuple[str, str]],
) -> None:
    known = agent_words()
    named = {(name, fact) for name, cell in rows for fact in card_fact_names(cell)}
    assert named, "no row names a card fact: the pattern reads nothing"
    unknown = sorted((n, f) for n, f in named if f not in known and f != "details")
    assert unknown == [], f"not a fact of the card program (agent/src/cardagent): {unknown}"


# --- the claims the page does not make ------------------------------------------------------


def claims() -> List[str]:
    for block in YAML_BLOCK.findall(SOURCES.read_text(encoding="utf-8")):
        data = yaml.safe_load(block)
        if isinstance(data, dict) and "claims_not_made" in data:
            return [str(c) for c in data["claims_not_made"]]
    raise AssertionError("docs/sources.md: no ```yaml block with claims_not_made")


def claim_hits(text: str, where: str, forms: List[str]) -> List[str]:
    plain = words_of(text)
    return [f"{where}: {m.group(0)!r} (claim: {form}) in {snippet(text, m.start(), m.end())!r}"
            for form in forms for m in form_pattern(form).finditer(plain)]


def test_no_text_makes_a_claim_the_page_does_not_make() -> None:
    forms = claims()
    hits = [h for t in user_texts() for h in claim_hits(t.text, t.where, forms)]
    assert hits == [], f"{len(hits)} found:\n" + "\n".join(hits)


# --- the checks can fail --------------------------------------------------------------------

SAMPLE = """
| response | source | note |
|---|---|---|
| `utter_a` | FAQ "Vad innebär tillitsnivåer?"; site setting `dates.upgrade_last_day` | — |
| `utter_b` | card fact `details.blocked_pins` | — |
| `utter_b` | UI text | — |
| `utter_gone` | UI text | — |
"""


def test_the_drift_check_sees_both_ways_and_twice() -> None:
    problems = drift(source_rows(SAMPLE), {"utter_a", "utter_b", "utter_new"})
    assert "no row in docs/sources.md for utter_new" in problems
    assert "row for utter_gone, which domain.yml does not have" in problems
    assert "2 rows for utter_b" in problems
    assert drift(source_rows(SAMPLE)[:2], {"utter_a", "utter_b"}) == []


def test_the_row_reader_reads_the_source_cell() -> None:
    (_, a), (_, b) = source_rows(SAMPLE)[:2]
    assert FAQ_QUOTE.findall(a) == ["Vad innebär tillitsnivåer?"]
    assert [BACKTICKED.findall(g) for g in SITE_KEYS.findall(a)] == [["dates.upgrade_last_day"]]
    assert card_fact_names(b) == ["details", "blocked_pins"]
    assert card_fact_names("card fact `state=x`; site setting `dates.y`") == ["state", "x"]
    assert "Vad innebär tillitsnivåer?" in faq_questions()
    assert "dates.upgrade_last_day" in site_keys() and "dates.nope" not in site_keys()
    assert "blocked_pins" in agent_words() and "made_up_fact" not in agent_words()


@pytest.mark.parametrize("planted", [
    "Tre fel i rad spärrar en kod.", "PUK-koden kommer med rekommenderat brev.",
    "PUK-koden låser upp koden.", "Kontakta kortadministrationen.", "Prova en annan USB-port.",
    "Starta om datorn.", "De gamla certifikaten har återställts via Mina sidor.",
    "Ett reservkort kan inte uppgraderas.", "Har du letat ordentligt?",
])
def test_the_claim_check_finds_a_planted_claim(planted: str) -> None:
    assert claim_hits(planted, "sample", claims()), planted


def test_the_claim_check_leaves_the_pages_own_words() -> None:
    fine = ("Med PUK-koden kan du välja nya koder. Gå in på Mina sidor och klicka på "
            '"Hämta befintliga certifikat". Kontakta Servicecenter.')
    assert claim_hits(fine, "sample", claims()) == []
