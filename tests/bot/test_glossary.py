"""One word for one thing, and Swedish that reads right, in every text a user or the service
desk reads: the bot's responses and buttons (``domain.yml``), the card program's own pages
(``agent/src/cardagent/templates/*.html``, read as text), the widget's own texts
(``widget/src/widget.js``), the Teams app's manifest and the printed triage script
(``bot.triage_export``).

The words that are not ours come from the ``not_ours`` block of ``docs/glossary.md`` itself,
so the glossary and this test cannot drift. Unit tier: no servers, no ``cardagent`` import.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Pattern, Tuple

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GLOSSARY = REPO / "docs" / "glossary.md"
DOMAIN = REPO / "domain.yml"
TEMPLATES = REPO / "agent" / "src" / "cardagent" / "templates"
WIDGET = REPO / "widget" / "src" / "widget.js"
TEAMS_MANIFEST = REPO / "teams" / "manifest.template.json"

YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


# --- the glossary's terms -------------------------------------------------------------------

# A Swedish ending after a word: -en, -et, -er, -erna, -ar, -arna, -a, -e, -s, -t ...
ENDINGS = r"(?:arna|erna|orna|ens|ets|en|et|er|ar|or|na|ns|ts|es|a|e|n|s|t)?"


def form_pattern(form: str) -> Pattern[str]:
    """A glossary form as a pattern, case-insensitive, a whole word (hyphenated compounds
    included): ``word`` also with a Swedish ending, ``word*`` also longer words that start
    with it, ``[inte]`` a word that may stand in between."""
    parts: List[str] = []
    words = form.split()
    for i, word in enumerate(words):
        last = i == len(words) - 1
        if word.startswith("[") and word.endswith("]"):
            parts.append(r"(?:" + re.escape(word[1:-1]) + r"\s+)?")
            continue
        stem = re.escape(word.rstrip("*"))
        tail = r"[\w-]*" if word.endswith("*") else (ENDINGS if last else "")
        parts.append(stem + tail + ("" if last else r"\s+"))
    return re.compile(r"(?<!\w)" + "".join(parts) + r"(?!\w)", re.I)


@dataclass(frozen=True)
class Term:
    name: str
    use: str
    patterns: Tuple[Pattern[str], ...]


def glossary_yaml(path: Path = GLOSSARY) -> Dict[str, Dict[str, object]]:
    """The ``not_ours`` and ``forms`` mappings of the glossary's yaml block."""
    for block in YAML_BLOCK.findall(path.read_text(encoding="utf-8")):
        data = yaml.safe_load(block)
        if isinstance(data, dict) and "not_ours" in data:
            return {"not_ours": data["not_ours"] or {}, "forms": data.get("forms") or {}}
    raise AssertionError(f"{path}: no ```yaml block with not_ours")


@lru_cache(maxsize=1)
def terms() -> Tuple[Term, ...]:
    data = glossary_yaml()
    forms: Mapping[str, List[str]] = data["forms"]  # type: ignore[assignment]
    return tuple(
        Term(str(name), str(use), tuple(form_pattern(f) for f in forms.get(name, [str(name)])))
        for name, use in data["not_ours"].items()  # type: ignore[union-attr]
    )


# What is not read as words: {placeholders}, a link's target, addresses.
NOT_WORDS = re.compile(
    r"\{[^{}\s]*\}"  # {placeholder}
    r"|\]\([^)\s]*\)"  # ](link target)
    r"|\b(?:https?|mailto):[^\s)\]]+"  # a URL
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # an e-mail address
)


def words_of(text: str) -> str:
    """``text`` without what a reader does not read as words (kept the same length)."""
    return NOT_WORDS.sub(lambda m: " " * len(m.group(0)), text)


def glossary_hits(text: str, where: str = "") -> List[str]:
    """Every use of a word that is not ours in ``text``: "where: 'found' (use ...) in '...'"."""
    plain = words_of(text)
    found: Dict[int, str] = {}
    for term in terms():
        for pattern in term.patterns:
            for m in pattern.finditer(plain):
                if m.start() not in found:
                    found[m.start()] = (
                        f"{where}: {m.group(0)!r} (not ours: {term.name}; use {term.use}) "
                        f"in {snippet(text, m.start(), m.end())!r}"
                    )
    return [found[k] for k in sorted(found)]


def snippet(text: str, start: int, end: int, around: int = 40) -> str:
    return " ".join(text[max(0, start - around):end + around].split())


# --- the texts a user reads -----------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    where: str  # file and what in it
    text: str  # as a reader sees it (placeholders and Jinja left out where said)


def domain_texts(path: Path = DOMAIN) -> List[Text]:
    """Every response text and button title, as written (with ``{placeholders}``)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: List[Text] = []
    for name, variants in (raw.get("responses") or {}).items():
        for variant in variants or []:
            if variant.get("text"):
                out.append(Text(f"domain.yml {name}", variant["text"]))
            for button in variant.get("buttons") or []:
                out.append(Text(f"domain.yml {name} button", str(button.get("title", ""))))
    return out


JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
JINJA_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'')
VISIBLE_ATTRS = {"title", "alt", "placeholder", "aria-label"}


def looks_like_words(literal: str) -> bool:
    """A string literal in code that a reader sees: it has a space, a Swedish letter or a
    capital first letter ("Beställ"); not a code value such as "underskrift" or "wrong_pin"."""
    return bool(literal.strip()) and (
        any(c.isspace() for c in literal.strip())
        or any(c in "åäöÅÄÖ–…" for c in literal)
        or literal.strip()[0].isupper()
    )


def literals_in(code: str) -> List[str]:
    return [a or b for a, b in STRING.findall(code)]


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        self.parts += [v for k, v in attrs if k in VISIBLE_ATTRS and v]
        self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script") and self._skip:
            self._skip -= 1
        self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def template_visible_text(source: str) -> str:
    """What a Jinja2 HTML template shows: its text and visible attributes, with Jinja
    comments dropped and each ``{{ }}``/``{% %}`` replaced by the words in its string
    literals (the texts a template keeps in ``{% set %}`` mappings)."""
    source = JINJA_COMMENT.sub(" ", source)
    source = JINJA_CODE.sub(
        lambda m: "\n".join(s for s in literals_in(m.group(0)) if looks_like_words(s)) or " ",
        source,
    )
    parser = _Visible()
    parser.feed(source)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def template_texts(folder: Path = TEMPLATES) -> List[Text]:
    return [Text(f"agent/src/cardagent/templates/{p.name}",
                 template_visible_text(p.read_text(encoding="utf-8")))
            for p in sorted(folder.glob("*.html"))]


def template_sources(folder: Path = TEMPLATES) -> List[Text]:
    """The templates as written (for the checks on how sentences are built)."""
    return [Text(f"agent/src/cardagent/templates/{p.name}", p.read_text(encoding="utf-8"))
            for p in sorted(folder.glob("*.html"))]


def js_object(source: str, name: str) -> str:
    m = re.search(r"const\s+" + name + r"\s*=\s*\{(.*?)\n\};", source, re.S)
    assert m, f"widget.js: no object {name}"
    # Comments out; not the "//" of a URL ("http://...").
    return re.sub(r"(?<!:)//[^\n]*", "", m.group(1))


def widget_texts(path: Path = WIDGET) -> List[Text]:
    """The widget's own texts: every string of ``T`` and the words among ``DEFAULTS``."""
    source = path.read_text(encoding="utf-8")
    texts = [Text(f"widget/src/widget.js T {s!r}", s) for s in literals_in(js_object(source, "T"))]
    texts += [Text(f"widget/src/widget.js DEFAULTS {s!r}", s)
              for s in literals_in(js_object(source, "DEFAULTS")) if looks_like_words(s)]
    return texts


def teams_texts(path: Path = TEAMS_MANIFEST) -> List[Text]:
    """What Teams shows of the app: its name, description and command list."""
    manifest = json.loads(path.read_text(encoding="utf-8"))
    where = "teams/manifest.template.json"
    out = [Text(f"{where} {part}.{key}", str(value))
           for part in ("name", "description") for key, value in manifest[part].items()]
    for bot in manifest.get("bots") or []:
        for commands in bot.get("commandLists") or []:
            for command in commands.get("commands") or []:
                out += [Text(f"{where} command {key}", str(command[key]))
                        for key in ("title", "description") if key in command]
    return out


@lru_cache(maxsize=1)
def triage_markdown() -> str:
    from bot.triage_export import to_markdown

    return to_markdown()


def triage_texts() -> List[Text]:
    """The printed triage script, one text per section (for where a hit is)."""
    out: List[Text] = []
    for part in re.split(r"\n(?=#{1,3} )", triage_markdown()):
        heading = part.splitlines()[0].lstrip("# ") if part.strip() else ""
        out.append(Text(f"triage script (bot/triage_export.py) section {heading!r}", part))
    return out


def user_texts() -> List[Text]:
    return domain_texts() + template_texts() + widget_texts() + teams_texts() + triage_texts()


SOURCES = {
    "domain.yml": domain_texts,
    "agent templates": template_texts,
    "widget": widget_texts,
    "teams manifest": teams_texts,
    "triage script": triage_texts,
}


# --- the grammar rules ----------------------------------------------------------------------

MONTHS = ("januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november"
          "|december")
YEAR_OR_PLACEHOLDER = r"(?!\s+(?:\d{4}\b|\{))"
BARE_DATE = re.compile(r"\b\d{1,2}(?::[ae])?\s+(?:" + MONTHS + r")\b" + YEAR_OR_PLACEHOLDER, re.I)
RELATIVE_TIME = re.compile(
    r"\b(?:i\s+(?:år|höst|vår|sommar|vinter)|nästa\s+år|i\s+fjol|förra\s+året"
    r"|(?:under|till|i|efter|före)\s+(?:hösten|våren|sommaren|vintern))\b" + YEAR_OR_PLACEHOLDER,
    re.I,
)
# A count of days from a variable: {days_left}, "{n} dagar", "{{ n }} dagar".
DAY_COUNT = re.compile(r"days_left|(?:\{[^{}]*\}|\{\{[^{}]*\}\})\s*dag(?:ar|arna|en)?\b", re.I)
# A name glued into a fixed sentence: "Fel {code}.", "Din kod för {role} ...".
GLUED = re.compile(r"\b(?:Fel|kod för)\s*\{(?![%#])", re.I)
IMPERATIVES = (
    "avbryt|be|beställ|boka|börja|fortsätt|fråga|följ|försök|gå|hämta|klicka|kolla|kontakta"
    "|ladda|leta|logga|lägg|läs|markera|mejla|ring|se|skriv|spara|starta|stäng|sätt|säg|ta"
    "|uppgradera|använd|vänta|välj|öppna"
)
SUBJECTS = "du|det|den|de|ni|man|kortet|koden|koderna|länken|sidan"
# English-style comma: "Annars, ...", "För annat, ...", or a condition then ", <imperative>":
# "Behöver du hjälp, kontakta ...", "Om det inte går, ring ...".
ENGLISH_COMMA = re.compile(
    r"^(?:(?:Annars|För annat|I så fall),"
    r"|(?:Om\b|[A-ZÅÄÖ]\w*\s+(?:" + SUBJECTS + r")\b)[^,.!?:;]*,\s*(?:" + IMPERATIVES + r")\b)"
)
SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n+")
LINE_MARK = re.compile(r"^(?:[-*>]\s+|\d+\.\s+|#+\s+|\*\*[^*]+\*\*\s*)")


def sentences(text: str) -> List[str]:
    return [LINE_MARK.sub("", s.strip()) for s in SENTENCE_END.split(text) if s.strip()]


def comma_hits(text: str, where: str = "") -> List[str]:
    return [f"{where}: English-style comma in {s!r}" for s in sentences(words_of(text))
            if ENGLISH_COMMA.search(" ".join(s.split()))]


def date_hits(text: str, where: str = "") -> List[str]:
    out = []
    for s in sentences(text):
        for pattern, what in ((BARE_DATE, "a date without a year"),
                              (RELATIVE_TIME, "a time without a year")):
            out += [f"{where}: {what} ({m.group(0)!r}) in {s!r}" for m in pattern.finditer(s)]
    return out


def built_hits(text: str, where: str = "") -> List[str]:
    """Sentences built from a variable that break number or grammar."""
    out = [f"{where}: a count of days from a variable ({m.group(0)!r}) in "
           f"{snippet(text, m.start(), m.end())!r}" for m in DAY_COUNT.finditer(text)]
    out += [f"{where}: a name glued into a sentence ({m.group(0)!r}) in "
            f"{snippet(text, m.start(), m.end())!r}" for m in GLUED.finditer(text)]
    return out


def report(hits: Iterable[str]) -> str:
    hits = list(hits)
    return f"{len(hits)} found:\n" + "\n".join(hits)


# --- the checks on the real texts -----------------------------------------------------------


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_source_has_texts(source: str) -> None:
    texts = SOURCES[source]()
    assert texts, f"{source}: nothing collected"
    assert all(t.text.strip() for t in texts), f"{source}: an empty text collected"


@pytest.mark.parametrize("source", list(SOURCES))
def test_no_word_that_is_not_ours(source: str) -> None:
    hits = [h for t in SOURCES[source]() for h in glossary_hits(t.text, t.where)]
    assert hits == [], report(hits)


@pytest.mark.parametrize("source", list(SOURCES))
def test_no_english_style_comma(source: str) -> None:
    hits = [h for t in SOURCES[source]() for h in comma_hits(t.text, t.where)]
    assert hits == [], report(hits)


@pytest.mark.parametrize("source", list(SOURCES))
def test_no_date_without_a_year(source: str) -> None:
    hits = [h for t in SOURCES[source]() for h in date_hits(t.text, t.where)]
    assert hits == [], report(hits)


def test_no_sentence_built_from_a_count_or_a_glued_name() -> None:
    texts = domain_texts() + template_sources()
    hits = [h for t in texts for h in built_hits(t.text, t.where)]
    assert hits == [], report(hits)


# --- the checks can fail (planted samples) --------------------------------------------------


def test_the_glossary_block_is_complete() -> None:
    data = glossary_yaml()
    not_ours, forms = data["not_ours"], data["forms"]
    assert set(forms) <= set(not_ours), f"forms for unknown terms: {set(forms) - set(not_ours)}"
    assert all(str(use).strip() for use in not_ours.values())
    assert {"IT-support", "underskrift", "låst", "mail"} <= set(not_ours)


def test_the_table_shows_every_word_the_test_reads() -> None:
    """Each not-ours word of the yaml block also stands in the table's "not ours" column."""
    text = GLOSSARY.read_text(encoding="utf-8")
    column = " ".join(line.rstrip(" |").rsplit("|", 1)[-1] for line in text.splitlines()
                      if line.startswith("| ") and line.count("|") == 5).lower()
    missing = [t for t in glossary_yaml()["not_ours"] if str(t).lower() not in column]
    assert missing == [], f"in the yaml block but not in the table: {missing}"


@pytest.mark.parametrize("planted", [
    "Din kod är låst.", "Koderna är låsta.", "Koden låses om den blir fel.",
    "PUK-koden låser upp koden.", "Din underskriftskod är spärrad.",
    "Skriv din kod för underskrift.", "Signeringskoden (underskrift) är spärrad.",
    "Kontakta IT-support.", "Kontakta supporten.", "När du får mail om det.",
    "När du får ett e-mail om det.", "Skicka mailet.", "Ta inte ur kortet.", "Ta ur kortet.",
    "Skriv din PIN-kod.", "Skriv din pinkod.", "Din PIN1 är fel.", "Koden är blockerad.",
    "Kortagenten svarar inte.", "Agenten svarar inte.", "Korttjänsten (pcscd) svarar inte.",
    "Kontakta kortadministrationen.", "Ditt cert har gått ut.",
])
def test_the_matcher_finds_a_planted_word(planted: str) -> None:
    assert glossary_hits(planted, "sample"), planted


@pytest.mark.parametrize("fine", [
    "När du får mejl om att det är dags att byta kort.", "e-post servicecenter@example.org",
    "Din signeringskod är spärrad.", "Både koderna är spärrade.", "Ta ut kortet.",
    "Det nya e-id-certifikatet.", "Kontakta Servicecenter.", "[Öppna sidan]({pin_page_url})",
    "[manualen](https://intranat.example.org/mail/pin-support)", "Kortprogrammet svarar inte.",
    "Sätt i kortet och ta ut det ur kortläsaren först när det är klart.",
    "Skriv dina koder på sidan för koderna.",
])
def test_the_matcher_leaves_our_words(fine: str) -> None:
    assert glossary_hits(fine, "sample") == []


@pytest.mark.parametrize("planted", [
    "Behöver du hjälp, kontakta Servicecenter.", "Annars, avbryt och beställ en ny PUK-kod.",
    "För annat, kontakta Servicecenter.", "Har du inte kvar koden, beställ en ny.",
    "Om det inte fungerar, ring Servicecenter.", "Klart. Fungerar det inte, kontakta oss.",
    "- Hittar du inte kuvertet, beställ en PUK-kod.",
])
def test_the_comma_check_finds_a_planted_comma(planted: str) -> None:
    assert comma_hits(planted, "sample"), planted


@pytest.mark.parametrize("fine", [
    "Behöver du hjälp kan du kontakta Servicecenter.",
    "Ta ut kortet, sätt i det igen och starta uppgraderingen på nytt.",
    "Har du inte uppgraderat kan du få problem, om det nya kortet inte hinner komma.",
    "Går det inte: börja om från chatten.", "Okej, ingen uppgradering görs.",
])
def test_the_comma_check_leaves_good_swedish(fine: str) -> None:
    assert comma_hits(fine, "sample") == []


@pytest.mark.parametrize("planted", [
    "Kravet gäller från och med den 1 juli.", "Går kortet ut före den 30 november kan du välja.",
    "Många kort byts i år.", "Många kort ska bytas under hösten.", "Gäller från 1 juli, då.",
])
def test_the_date_check_finds_a_planted_date(planted: str) -> None:
    assert date_hits(planted, "sample"), planted


@pytest.mark.parametrize("fine", [
    "Kravet gäller från och med den 1 juli 2020.", "Före den {expiry_choice_before} kan du välja.",
    "Många kort ska bytas under hösten {expiry_choice_year}.", "under hösten 2020",
    "Kortet går ut den {expiry_date}.",
])
def test_the_date_check_leaves_dates_with_a_year(fine: str) -> None:
    assert date_hits(fine, "sample") == []


@pytest.mark.parametrize("planted", [
    "Kortet går ut om {days_left} dagar.", "Om {n} dagar går det ut.",
    "Det går ut om {{ days }} dagar.", "Fel {code}.", "Din kod för {role} är spärrad.",
])
def test_the_built_sentence_check_finds_a_planted_one(planted: str) -> None:
    assert built_hits(planted, "sample"), planted


def test_the_built_sentence_check_leaves_whole_sentences() -> None:
    fine = "Du har {retries_left} försök kvar. Certifikaten går ut den {expiry_date}. Fel kod."
    assert built_hits(fine, "sample") == []


def test_the_template_reader_sees_words_not_code() -> None:
    source = (
        '{# underskrift: a comment #}<p title="Titeln">Hej {{ name }}!</p>'
        '{% set t = {"a": ("Ta ur kortet", "Koden är låst.")}[x] %}'
        '{% if role == "underskrift" %}Signeringskoden{% endif %}'
        '<style>.mail { color: red }</style><input name="pin_x" class="warn">'
    )
    text = template_visible_text(source)
    for seen in ("Titeln", "Hej", "Ta ur kortet", "Koden är låst.", "Signeringskoden"):
        assert seen in text
    for unseen in ("underskrift", "comment", "mail", "pin_x", "warn", "name"):
        assert unseen not in text.replace("Signeringskoden", "")
    assert len(glossary_hits(text, "sample")) == 2


def test_the_widget_reader_sees_its_texts() -> None:
    texts = [t.text for t in widget_texts()]
    assert any(" " in t for t in texts)  # sentences, not only single words
    assert not any(t.startswith(("/", "http")) for t in texts)  # no paths or URLs
