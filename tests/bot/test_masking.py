"""bot/masking.py (the rules in bot/mask_rules.py, metadata in mask_metadata.py,
caps in message_limits.py, Teams HTML in html_text.py): every form a code or
personnummer is written in is masked, ordinary numbers are kept, masking is
linear (structure and operation counts, never wall time:
benchmarks/bench_masking.py measures speed), metadata and Teams HTML are
masked, long messages are capped. Pure functions: the fast unit tier."""

from __future__ import annotations

import re
from typing import Any, List

import pytest

import bot.mask_metadata as mask_metadata
import bot.mask_rules as mask_rules
import bot.masking as masking
import bot.message_limits as message_limits
from bot.masking import (
    CODE_PLACEHOLDER,
    MAX_MESSAGE_CHARS,
    MAX_METADATA_BYTES,
    PERSONNUMMER_PLACEHOLDER,
    TOO_LONG_MESSAGE,
    html_to_text,
    limit_length,
    mask_payload,
    mask_sensitive,
    mask_text,
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("min pin är 123456", "123456"),
        ("PIN 12345678 fungerar inte", "12345678"),
        ("puk: 8765-4321", "8765-4321"),
        ("kod 12 34 56", "12 34 56"),
        ("legitimeringskoden 4321 är spärrad", "4321"),
        ("min PIN-kod är alltså 9876", "9876"),
        ("1234567", "1234567"),
    ],
)
def test_codes_are_masked(text, secret):
    result = mask_sensitive(text)
    assert secret not in result.text
    assert CODE_PLACEHOLDER in result.text
    assert result.codes >= 1 and result.found


# The forms the security review found unmasked (issue 10), and their neighbours.
CODE_FORMS = {
    "spaced digits": ("koden är 1 2 3 4 5 6", "koden är [dold kod]"),
    "spaced digits, no code word": ("jag skrev 1 2 3 4 5 6 tre gånger",
                                    "jag skrev [dold kod] tre gånger"),
    "dashed digits": ("det är 1-2-3-4-5-6", "det är [dold kod]"),
    "code word with colon, spaced": ("pinkoden: 4 8 2 9 1 3", "pinkoden: [dold kod]"),
    "glued to the code word": ("PIN1234", "PIN[dold kod]"),
    "glued, longer word": ("pinkoden1234 funkar inte", "pinkoden[dold kod] funkar inte"),
    "glued with a dash": ("PUK-12345678", "PUK-[dold kod]"),
    "slash": ("min kod 123/456", "min kod [dold kod]"),
    "slash, no code word": ("ser ut så här: 123/456", "ser ut så här: [dold kod]"),
    "no-break space": ("pin 123\u00a0456", "pin [dold kod]"),
    "narrow no-break space": ("123\u202f456 är den", "[dold kod] är den"),
    "thin space": ("pin 12\u200934\u200956", "pin [dold kod]"),
    "ideographic space": ("pin 123\u3000456", "pin [dold kod]"),
    "zero-width space": ("pin 123\u200b456", "pin [dold kod]"),
    "en dash": ("pin 123\u2013456", "pin [dold kod]"),
    "minus sign": ("pin 123\u2212456", "pin [dold kod]"),
    "fullwidth digits": ("pin １２３４５６", "pin [dold kod]"),
    "fullwidth, no code word": ("den är １２３４５６ tror jag", "den är [dold kod] tror jag"),
    "arabic-indic digits": ("min pin är ١٢٣٤٥٦", "min pin är [dold kod]"),
    "devanagari digits": ("pin ४८२९१३", "pin [dold kod]"),
    "puk in three groups": ("puk 1234-5678-9", "puk [dold kod]"),
    "short pin after a code word": ("min pin är 4829", "min pin är [dold kod]"),
    "first half of a split code": ("min pin är 123", "min pin är [dold kod]"),
    "second half of a split code": ("456", "[dold kod]"),
    "bare 4 digits": ("4829", "[dold kod]"),
    "bare 8 digits": ("48291375", "[dold kod]"),
    "bare with punctuation": ("  4829!  ", "  [dold kod]!  "),
    "bare spaced": ("4 8 2 9", "[dold kod]"),
    "several codes": ("pin 111222 puk 33334444", "pin [dold kod] puk [dold kod]"),
    "lösenord": ("lösenordet är 9876", "lösenordet är [dold kod]"),
    "code word a few words before": ("koden till kortet är 1111",
                                     "koden till kortet är [dold kod]"),
    "code word in a compound": ("ÅÄÖ-kod 4444", "ÅÄÖ-kod [dold kod]"),
    "english": ("my code is 2468", "my code is [dold kod]"),
}


@pytest.mark.parametrize(("text", "expected"), CODE_FORMS.values(), ids=CODE_FORMS.keys())
def test_every_form_of_a_code_is_masked(text, expected):
    result = mask_sensitive(text)
    assert result.text == expected
    assert result.codes >= 1 and result.personnummer == 0


PERSONNUMMER_FORMS = [
    "1980-01-01-1234", "1980 01 01 1234", "198001011234", "19800101-1234", "800101-1234",
    "800101+1234", "19121212-1212", "121212-1212", "121212+1212", "191212121212",
    "19800161-1234",  # samordningsnummer (day + 60)
    "19800101\u00a01234", "８００１０１－１２３４", "8 0 0 1 0 1 1 2 3 4",
    # grouped any other way (security review of the masking work)
    "19 80 01 01 1234", "19 800101 1234", "800 101-1234", "8001 011234",
]


@pytest.mark.parametrize("pnr", PERSONNUMMER_FORMS)
def test_personnummer_and_samordningsnummer_are_masked(pnr):
    result = mask_sensitive(f"mitt personnummer är {pnr} tack")
    assert result.text == f"mitt personnummer är {PERSONNUMMER_PLACEHOLDER} tack"
    assert result.personnummer == 1 and result.codes == 0


@pytest.mark.parametrize("pnr", PERSONNUMMER_FORMS)
def test_personnummer_alone_is_masked(pnr):
    assert mask_text(pnr) == PERSONNUMMER_PLACEHOLDER


PERSONNUMMER_IN_CONTEXT = {
    "spaced pairs": ("mitt nr 19 80 01 01 1234", "mitt nr [dolt personnummer]"),
    "date split": ("personnummer 19 800101 1234", "personnummer [dolt personnummer]"),
    "odd grouping": ("mitt nr 800 101-1234", "mitt nr [dolt personnummer]"),
    "glued to a word": ("pnr8001011234", "pnr[dolt personnummer]"),
    "glued, with a dash": ("pnr800101-1234", "pnr[dolt personnummer]"),
    "glued, 12 digits": ("mitt pnr198001011234 tack", "mitt pnr[dolt personnummer] tack"),
    "in a web address": ("se https://x.example/?pnr=198001011234",
                         "se https://x.example/?pnr=[dolt personnummer]"),
    "in a web address, dashed": ("https://x.example/p/800101-1234/visa",
                                 "https://x.example/p/[dolt personnummer]/visa"),
}


@pytest.mark.parametrize(("text", "expected"), PERSONNUMMER_IN_CONTEXT.values(),
                         ids=PERSONNUMMER_IN_CONTEXT.keys())
def test_personnummer_in_any_grouping_glued_or_in_a_url_is_masked(text, expected):
    result = mask_sensitive(text)
    assert result.text == expected
    assert result.personnummer == 1 and result.codes == 0


KEPT = [
    "Kan uppgradering av kort göras efter 2020?",
    "Vad händer om jag kommer tillbaks 2026 med ett gammalt kort?",
    "Kostar det 200 kr?",
    "Kostar en PUK-kod 200 kronor?",
    "Ca 30 000 kort har uppgraderats",
    "ISO/IEC 29115",
    "Ring 010-000 00 00",
    "kortet går ut före 30 november, vad gäller",
    "Mitt kort går ut 2025-11-30",
    "Mitt kort gick ut 30/11/2025",
    "jag har 3 försök kvar på PIN-koden",
    "vad är skillnaden mellan tillitsnivå 2 och 3",
    "gäller det 2020-2021?",
    "spinning 1234",  # "pin" inside a word is no code word
    "Mitt kort gick ut 10/12/2025 14:00",  # a date and an hour: 10 digits, no personnummer
    "Ring 010-000 00 00 eller 08-123 456 78",
    "se http://127.0.0.1:8765/orders/0123456789abcdef?t=a8001011234b",  # ids in a link
    "se http://127.0.0.1:8765/pin/0123456789abcdef?t=AbC123456 där",
    "id 12345678-abcd-4321-8765-0123456789ab",
    "kortnummer a1234567b",
    "",
    "inga siffror alls",
]


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_numbers_are_kept(text):
    result = mask_sensitive(text)
    assert result.text == text
    assert not result.found


def test_several_secrets_in_one_message():
    result = mask_sensitive("pin 111222 och puk 33334444, pnr 19121212-1212")
    assert result.codes == 2 and result.personnummer == 1
    assert not any(ch.isdigit() for ch in result.text)


def test_masking_twice_changes_nothing():
    for text, _ in CODE_FORMS.values():
        once = mask_text(text)
        assert mask_text(once) == once


# --- HTML (Teams) ---

@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("12<b>34</b>56", "123456"),
        ("<p>min pin</p><p>12<i>3</i>4<span>56</span></p>", "min pin\n123456"),
        ("<at>SITHS-hjälpen</at> vad kostar en PUK-kod?", "SITHS-hjälpen vad kostar en PUK-kod?"),
        ("1 &lt; 2 &amp;&nbsp;3", "1 < 2 &\u00a03"),
        ("<div>hej<br>där</div>", "hej\ndär"),
        ("<script>x=1</script>hej", "hej"),
        ("vanlig text", "vanlig text"),
        ("", ""),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


def test_teams_html_code_is_masked_after_reduction():
    assert mask_text("12<b>34</b>56") != CODE_PLACEHOLDER  # the tags hide it from masking...
    assert mask_text(html_to_text("min pin är 12<b>34</b>56")) == "min pin är [dold kod]"
    assert mask_text(html_to_text("12<b>34</b>56")) == CODE_PLACEHOLDER


def test_html_mentions_can_be_dropped():
    text = html_to_text("<at>SITHS-hjälpen</at> pin 123456", skip_tags=("at",))
    assert text == "pin 123456"


# --- metadata and button payloads ---

def test_mask_payload_masks_every_string_in_nested_metadata():
    metadata = {
        "note": "min pin är 482913",
        "list": ["puk 12345678", 42, None, {"pnr": "19800101-1234"}],
        "tuple": ("pin 1 2 3 4 5 6",),
        "pin 654321": "key too",
        "flag": True,
    }
    masked = mask_payload(metadata)
    assert masked == {
        "note": "min pin är [dold kod]",
        "list": ["puk [dold kod]", 42, None, {"pnr": "[dolt personnummer]"}],
        "tuple": ("pin [dold kod]",),
        "pin [dold kod]": "key too",
        "flag": True,
    }
    assert metadata["note"] == "min pin är 482913"  # a copy, the input is untouched


def test_mask_payload_keeps_ids_and_links_made_by_programs():
    relay = {"cardagent_result": {
        "request_id": "Zk3-182736_4x9Q0aWnV1u2s6s7D8e9F0gH",
        "answer": {"job_id": "3f2a9c1d8e7b6a50", "reference": "PUK-20260115-123456",
                   "pin_page_url": "http://127.0.0.1:8765/pin/3f2a9c1d8e7b6a50?t=abc1234567",
                   "created": "2026-01-15T10:00:00Z", "days_left": 12},
    }}
    assert mask_payload(relay) == relay
    teams = {"teams": {"tenant": "12345678-90ab-cdef-1234-567890abcdef"}}
    assert mask_payload(teams) == teams
    # ...but not when an id field carries a sentence
    assert mask_payload({"job_id": "min pin 123456"}) == {"job_id": "min pin [dold kod]"}


@pytest.mark.parametrize("value", ["198001011234", "800101-1234", "19800101-1234",
                                   "pnr8001011234", "https://x.example/?pnr=198001011234"])
@pytest.mark.parametrize("key", ["id", "reference", "request_id", "pin_page_url"])
def test_an_identifier_key_does_not_keep_a_personnummer(key, value):
    masked = mask_payload({key: value})[key]
    assert PERSONNUMMER_PLACEHOLDER in masked
    assert "1234" not in masked


# --- metadata size ---

def test_metadata_size_is_measured_like_its_json():
    import json

    samples = [None, 1, "åäö\u2028", [], {}, [1, [2, {"a": None}]], {"k": ["x" * 50, 2.5, True]},
               {1: "int key"}, ("tuple", 3)]
    for sample in samples:
        size = len(json.dumps(sample))
        assert not masking.metadata_too_large(sample, size)
        assert masking.metadata_too_large(sample, size - 1)
    assert MAX_METADATA_BYTES == 8 * 1024
    assert not masking.metadata_too_large({"note": "x" * (MAX_METADATA_BYTES - 20)})
    assert masking.metadata_too_large({"note": "x" * MAX_METADATA_BYTES})


def test_metadata_size_check_stops_early(monkeypatch):
    """A huge string is never encoded and a huge container never walked: the
    work is bounded by the limit, not by the metadata (counted, not timed)."""
    import json

    encoded: List[int] = []
    real_dumps = json.dumps
    monkeypatch.setattr(message_limits.json, "dumps",
                        lambda obj, **kw: encoded.append(len(str(obj))) or real_dumps(obj, **kw))
    assert masking.metadata_too_large({"a": "x" * 50_000_000})
    assert masking.metadata_too_large([0] * 5_000_000)
    assert masking.metadata_too_large([[0] * 1000] * 10_000)
    assert sum(encoded) <= MAX_METADATA_BYTES


def test_deeply_nested_metadata_is_too_large():
    deep: List[Any] = []
    inner = deep
    for _ in range(masking.MAX_METADATA_DEPTH + 1):
        inner.append([])
        inner = inner[0]
    assert masking.metadata_too_large(deep)
    assert not masking.metadata_too_large([[["ok"]]])


def test_button_payload_is_masked():
    assert mask_payload('/inform{"pin": "482913"}') == '/inform{"pin": "[dold kod]"}'
    assert mask_text("/faq_puk_kostnad") == "/faq_puk_kostnad"


# --- length cap ---

def test_long_messages_are_replaced_by_the_intent():
    assert limit_length("x" * MAX_MESSAGE_CHARS) == "x" * MAX_MESSAGE_CHARS
    assert limit_length("x" * (MAX_MESSAGE_CHARS + 1)) == TOO_LONG_MESSAGE == "/message_too_long"
    assert limit_length("") == ""
    assert MAX_MESSAGE_CHARS == 2000


# --- linear time, without a clock ---

def _repeats(pattern: Any) -> List[Any]:
    """The repeat nodes (``*``, ``+``, ``{m,n}``) in a parsed pattern, outermost first,
    each with the repeats nested inside it."""
    from re import _constants as c  # type: ignore[attr-defined]

    found = []
    for op, av in pattern:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            found.append((av, _repeats(av[2])))
        elif op is c.SUBPATTERN:
            found.extend(_repeats(av[3]))
        elif op is c.BRANCH:
            for branch in av[1]:
                found.extend(_repeats(branch))
        elif op in (c.ASSERT, c.ASSERT_NOT):
            found.extend(_repeats(av[1]))
    return found


def test_no_pattern_nests_a_quantifier():
    """Nested quantifiers are what made the old ``\\w*kod\\w*`` quadratic."""
    from re import _parser  # type: ignore[attr-defined]

    patterns = [v for module in (mask_rules, mask_metadata, message_limits)
                for v in vars(module).values() if isinstance(v, re.Pattern)]
    assert len(patterns) >= 4
    for pattern in patterns:
        for _, inner in _repeats(_parser.parse(pattern.pattern, pattern.flags)):
            assert not inner, f"nested quantifier in {pattern.pattern!r}"


ADVERSARIAL = {
    "one long word with kod": "kod",
    "many kod words": "kodkodkodkod" * 10 + " ",
    "digit groups": "1 2-3/4.5 ",
    "code words and digits": "pinkod 12 ",
    "glued": "pin1a",
    "web addresses": "http://1 ",
}


@pytest.mark.parametrize("pattern", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_work_grows_linearly_with_the_message(monkeypatch, pattern):
    """Counts the Python-level steps (character checks and group decisions) for
    a message and one ten times as long: ten times the work, not a hundred."""
    calls = {"n": 0}
    for name in ("_is_letter", "_classify", "_number", "_digit_value"):
        real = getattr(mask_rules, name)

        def counted(*args: Any, _real: Any = real) -> Any:
            calls["n"] += 1
            return _real(*args)

        monkeypatch.setattr(mask_rules, name, counted)

    def work(size: int) -> int:
        calls["n"] = 0
        text = (pattern * (size // len(pattern) + 1))[: size - 1] + "7"
        mask_sensitive(text)
        return calls["n"]

    small, large = work(2_000), work(20_000)
    assert small > 0  # the counted functions are the ones masking calls
    assert large <= 11 * max(small, 1), (small, large)
