"""Find and hide PIN codes, PUK codes and personnummer in chat text.

Used at the channel boundary (:mod:`bot.channels`, :mod:`bot.teams`) so that
nothing after it - NLU, the tracker store, the logs, the action server - ever
sees the digits. widget/src/mask.js is a line-by-line copy for the browser
(tests/widget/test_mask_parity.py checks they agree).

Linear time: one ``finditer`` over the text finds, left to right, web
addresses (left alone), code words and digit groups. A digit group is digits
joined by at most three separators (any Unicode space incl. non-breaking ones,
zero-width characters, dashes, ``/ . , + _``), so ``1 2 3 4 5 6``,
``123/456`` and ``1234-5678-9`` are one group. There is no nested unbounded
quantifier, and every look-around is bounded, so a 1 MB message costs
milliseconds. Callers still cap a message at :data:`MAX_MESSAGE_CHARS` before
masking (:func:`limit_length`).

What a group becomes:

- ``[dolt personnummer]``: 10 or 12 digits, grouped any way
  (``19800101-1234``, ``800101+1234``, ``198001011234``, ``1980-01-01-1234``,
  ``19 80 01 01 1234``, ``800 101-1234``), whose month and day are possible
  (day + 60 for samordningsnummer; 12 digits start with 18, 19 or 20); the
  check digit is not required. Also glued to a word (``pnr8001011234``) and
  inside a web address (``?pnr=198001011234``) when no letter touches it;
- ``[dold kod]``:
  * any group in a message with no letters at all (a code sent on its own, or
    the second half of a code split over two messages);
  * 3 or more digits within 30 characters after a code word (``pin``, ``puk``,
    ``kod``, ``lösen``, ``password``, ``code`` ...), also glued to it (``PIN1234``);
  * a stand-alone group of 6-8 digits (SITHS PINs are 6-8 digits, PUKs 8).
Kept: years (``2026``) and year ranges (``2020-2021``), dates (``2025-11-30``,
``30/11/2025``, ``30 november``), prices (``200 kr``), short numbers
(``3 försök``), phone numbers whose digits are no possible date
(``010-000 00 00``; ``070-123 45 67`` reads as one and is masked), digits
inside identifiers (``a1b2c3``, ``SE2321000016-1234``) and the rest of web
addresses.

:func:`mask_payload` masks every string in message metadata or a button
payload; :func:`html_to_text` reduces Teams' HTML to text first, so that
``12<b>34</b>56`` is masked as ``123456``. Metadata over
:data:`MAX_METADATA_BYTES` is dropped before that (:func:`metadata_too_large`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Collection, Iterator, List, Optional, Tuple

CODE_PLACEHOLDER = "[dold kod]"
PERSONNUMMER_PLACEHOLDER = "[dolt personnummer]"

#: Longer messages are not processed at all: the channel passes
#: :data:`TOO_LONG_MESSAGE` instead (intent ``message_too_long`` in domain.yml).
MAX_MESSAGE_CHARS = 2000
TOO_LONG_INTENT = "message_too_long"
TOO_LONG_MESSAGE = f"/{TOO_LONG_INTENT}"
#: Message metadata whose JSON encoding is longer than this, or that is nested
#: deeper than :data:`MAX_METADATA_DEPTH`, is dropped (the channel passes ``{}``).
MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_DEPTH = 32

# Spelled out (not \s) so that Python and JavaScript agree on every character:
# Unicode spaces incl. U+00A0 and U+202F, zero-width characters, soft hyphen.
_SPACES = (
    "\t\n\u000b\u000c\r \u00a0\u00ad\u1680\u180e\u2000-\u200d\u2028\u2029"
    "\u202f\u205f\u2060\u3000\ufeff"
)
# Dashes and minus signs (ASCII and Unicode), slashes, dots, commas, plus, underscore.
_JOINERS = "\\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d/\uff0f.\uff0e,\uff0c+\uff0b_"
_SEP = f"[{_SPACES}{_JOINERS}]"
_URL = rf"https?://[^{_SPACES}<>\"']*"
_KEYWORD = r"pin|puk|kod|lösen|losen|passw|code"
# One scan, left to right: web addresses, code words, runs of digits. Runs
# with 1-3 separators between them are joined into one group in Python
# (no nested quantifier in any pattern: tests/bot/test_masking.py checks).
_SCAN = re.compile(rf"(?P<url>{_URL})|(?P<kw>{_KEYWORD})|(?P<num>\d+)", re.IGNORECASE)
_DIGIT_SCAN = re.compile(r"(?P<num>\d+)")  # inside a web address: digits only
_SEPARATORS = re.compile(f"{_SEP}{{1,3}}")
_MAX_SEPARATORS = 3
_PRICE_AFTER = re.compile(rf"[{_SPACES}]{{0,3}}(?:kronor|kr|sek|:-)", re.IGNORECASE)

#: Code words that count only at the start of a word ("spinn" is no PIN).
_WORD_START_KEYWORDS = ("pin", "puk", "lösen", "losen", "passw")
#: Digits after a code word within this many characters are a code.
KEYWORD_WINDOW = 30
#: At most this many letters between a code word and digits glued to it ("pinkoden1234").
_GLUED_LETTERS = 20
_IDENTIFIER_JOINERS = "-_"


@dataclass(frozen=True)
class MaskResult:
    text: str
    codes: int = 0
    personnummer: int = 0

    @property
    def found(self) -> bool:
        return bool(self.codes or self.personnummer)


def _is_letter(ch: str) -> bool:
    return ch.isalpha()


def _digit_value(ch: str) -> Optional[int]:
    """0-9 for ASCII and fullwidth digits; None for other scripts' digits."""
    if "0" <= ch <= "9":
        return ord(ch) - ord("0")
    if "\uff10" <= ch <= "\uff19":
        return ord(ch) - 0xFF10
    return None


def _number(digits: str) -> Optional[int]:
    value = 0
    for ch in digits:
        v = _digit_value(ch)
        if v is None:
            return None
        value = value * 10 + v
    return value


def _month_day_possible(month: str, day: str) -> bool:
    """A possible month and day (day + 60: samordningsnummer). Digits of other
    scripts count as possible, so that they are masked rather than kept."""
    m, d = _number(month), _number(day)
    if m is None or d is None:
        return True
    return 1 <= m <= 12 and (1 <= d <= 31 or 61 <= d <= 91)


def _is_year(digits: str) -> bool:
    n = _number(digits)
    return n is not None and len(digits) == 4 and 1900 <= n <= 2099


def _is_personnummer(digits: str) -> bool:
    """10 or 12 digits (however they were grouped) with a possible month and
    day; 12 digits start with a century 18, 19 or 20."""
    if len(digits) == 12:
        century = _number(digits[:2])
        if century is not None and century not in (18, 19, 20):
            return False
    elif len(digits) != 10:
        return False
    return _month_day_possible(digits[-8:-6], digits[-6:-4])


def _is_date(year: str, month: str, day: str) -> bool:
    y, m, d = _number(year), _number(month), _number(day)
    if y is None or m is None or d is None:
        return False
    return len(year) == 4 and 1900 <= y <= 2099 and 1 <= m <= 12 and 1 <= d <= 31


def _is_date_or_years(parts: List[str]) -> bool:
    """2025-11-30, 30/11/2025, 1.12.2025, 2020-2021: kept unless next to a code word."""
    sizes = [len(p) for p in parts]
    if sizes == [4, 4]:
        return _is_year(parts[0]) and _is_year(parts[1])
    if sizes == [4, 2, 2]:
        return _is_date(parts[0], parts[1], parts[2])
    if len(parts) == 3 and sizes[2] == 4 and sizes[0] <= 2 and sizes[1] <= 2:
        return _is_date(parts[2], parts[1], parts[0])
    return False


def _is_date_and_hour(parts: List[str]) -> bool:
    """30/11/2025 14(:00): a date and an hour, not a personnummer."""
    return len(parts) == 4 and len(parts[3]) <= 2 and _is_date_or_years(parts[:3])


def _glued_to_keyword(text: str, start: int, keyword_end: int) -> bool:
    """Digits glued to a word that contains a code word ("PIN1234", "pinkoden-1234")."""
    if keyword_end < 0 or start - keyword_end > _GLUED_LETTERS + 1:
        return False
    between = text[keyword_end:start]
    if between and between[-1] in _IDENTIFIER_JOINERS:
        between = between[:-1]
    return all(_is_letter(ch) for ch in between)


def _attached_before(text: str, start: int) -> bool:
    """The group continues a word: a letter right before it, or a letter and
    then one of ``-_`` (``abc123``, ``SE-123``)."""
    if start == 0:
        return False
    before = text[start - 1]
    if _is_letter(before):
        return True
    return before in _IDENTIFIER_JOINERS and start >= 2 and _is_letter(text[start - 2])


def _attached_after(text: str, end: int) -> bool:
    if end >= len(text):
        return False
    after = text[end]
    if _is_letter(after):
        return True
    return after in _IDENTIFIER_JOINERS and end + 1 < len(text) and _is_letter(text[end + 1])


def _is_price(text: str, end: int) -> bool:
    match = _PRICE_AFTER.match(text, end, min(len(text), end + 12))
    if not match:
        return False
    after = match.end()
    return after >= len(text) or not _is_letter(text[after])


def _classify(
    text: str, start: int, end: int, parts: List[str], keyword_end: int, bare: bool
) -> Optional[str]:
    """The placeholder for the digit group text[start:end] (its digit runs:
    ``parts``), or None to keep it."""
    digits = "".join(parts)
    if bare:
        return PERSONNUMMER_PLACEHOLDER if _is_personnummer(digits) else CODE_PLACEHOLDER
    near_keyword = keyword_end >= 0 and start - keyword_end <= KEYWORD_WINDOW
    attached_after = _attached_after(text, end)
    if not attached_after and _is_personnummer(digits) and not _is_date_and_hour(parts):
        return PERSONNUMMER_PLACEHOLDER  # also glued to a word before it ("pnr8001011234")
    if _attached_before(text, start):
        if attached_after:
            return None  # inside an identifier ("PUK-20260115-AB12CD", "a1234b")
        if near_keyword and len(digits) >= 3 and _glued_to_keyword(text, start, keyword_end):
            return CODE_PLACEHOLDER
        return None
    if _is_price(text, end):
        return None
    if near_keyword and len(digits) >= 3:
        return CODE_PLACEHOLDER
    if not attached_after and 6 <= len(digits) <= 8 and not _is_date_or_years(parts):
        return CODE_PLACEHOLDER
    return None


Token = Tuple[str, int, int, List[str]]


def _tokens(text: str, scan: re.Pattern = _SCAN) -> Iterator[Token]:
    """(kind, start, end, digit runs) for each web address ("url"), code word
    ("kw") and digit group ("num") in ``text``, in order. A digit group is
    runs of digits with 1-3 separator characters between them."""
    group: Optional[Token] = None
    for match in scan.finditer(text):
        kind = match.lastgroup or ""
        start, end = match.span()
        if kind == "num":
            if (
                group is not None
                and start - group[2] <= _MAX_SEPARATORS
                and _SEPARATORS.fullmatch(text, group[2], start)
            ):
                group[3].append(match.group())
                group = ("num", group[1], end, group[3])
                continue
            if group is not None:
                yield group
            group = ("num", start, end, [match.group()])
            continue
        if group is not None:
            yield group
            group = None
        yield (kind, start, end, [])
    if group is not None:
        yield group


def _mask_url(url: str) -> Tuple[str, int]:
    """``url`` with each personnummer in it (``?pnr=198001011234``) masked, and
    how many; a digit group that a letter touches (an id such as
    ``/pin/0123456789abcdef``) and everything else is left as it is."""
    out: List[str] = []
    last = found = 0
    for _, start, end, parts in _tokens(url, _DIGIT_SCAN):
        if (
            _is_personnummer("".join(parts))
            and not _attached_before(url, start)
            and not _attached_after(url, end)
        ):
            out.append(url[last:start])
            out.append(PERSONNUMMER_PLACEHOLDER)
            last = end
            found += 1
    if not found:
        return url, 0
    out.append(url[last:])
    return "".join(out), found


def mask_sensitive(text: str, *, bare_rule: bool = True) -> MaskResult:
    """Replace codes and personnummer in ``text`` by placeholders (linear time).

    ``bare_rule=False`` (metadata values): a string without letters is not
    masked as a whole, only by the rules for running text."""
    if not text:
        return MaskResult(text or "")
    bare = bare_rule and not any(_is_letter(ch) for ch in text)
    out: List[str] = []
    counts = [0, 0]
    last = 0
    keyword_end = -1
    for kind, start, end, parts in _tokens(text):
        if kind == "kw":
            word = text[start:end].lower()
            if word in _WORD_START_KEYWORDS and start > 0 and _is_letter(text[start - 1]):
                continue
            keyword_end = end
            continue
        if kind == "url":
            # A web address is left as it is, but for a personnummer in it.
            url, found = _mask_url(text[start:end])
            if found:
                counts[1] += found
                out.append(text[last:start])
                out.append(url)
                last = end
            continue
        placeholder = _classify(text, start, end, parts, keyword_end, bare)
        if placeholder is None:
            continue
        counts[0 if placeholder == CODE_PLACEHOLDER else 1] += 1
        out.append(text[last:start])
        out.append(placeholder)
        last = end
    if last == 0:
        return MaskResult(text)
    out.append(text[last:])
    return MaskResult("".join(out), counts[0], counts[1])


def mask_text(text: str) -> str:
    """``text`` with codes and personnummer replaced by placeholders."""
    return mask_sensitive(text).text


#: Metadata keys whose values are ids and links made by programs (the card
#: agent's answers that the widget relays, Teams' ids): such a value is kept as
#: it is when it looks like an id (no spaces, URL characters only) and holds no
#: personnummer, so that ``PUK-20260115-123456`` or a job's page link still
#: work after masking (``{"id": "198001011234"}`` is masked all the same).
IDENTIFIER_KEYS = frozenset({
    "id", "request_id", "job_id", "order_id", "reference", "pin_page_url",
    "confirm_page_url", "session_id", "tenant", "tenantId", "aadObjectId",
})
_IDENTIFIER = re.compile(r"[A-Za-z0-9._~:/?#=&%+\-]{1,512}")


def _kept_identifier(key: Any, value: Any) -> bool:
    return (
        key in IDENTIFIER_KEYS
        and isinstance(value, str)
        and _IDENTIFIER.fullmatch(value) is not None
        and not mask_sensitive(value, bare_rule=False).personnummer
    )


def mask_payload(obj: Any) -> Any:
    """A copy of ``obj`` (message metadata, a button payload) with every string
    in it masked, in nested dicts, lists and tuples, keys included. Other values
    are returned as they are. Strings are masked with the running-text rules
    (a string without letters is not a code by itself here), so identifiers
    (``a1b2c3``, hex ids, UUIDs) and web addresses survive; values of
    :data:`IDENTIFIER_KEYS` that look like ids (and hold no personnummer) are
    kept. Callers drop oversized metadata first (:func:`metadata_too_large`)."""
    if isinstance(obj, str):
        return mask_sensitive(obj, bare_rule=False).text
    if isinstance(obj, dict):
        return {
            mask_payload(k): v if _kept_identifier(k, v) else mask_payload(v)
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(mask_payload(v) for v in obj)
    return obj


def metadata_too_large(obj: Any, limit: int = MAX_METADATA_BYTES) -> bool:
    """Whether ``json.dumps(obj)`` would be longer than ``limit`` characters
    (bytes: it is ASCII), or ``obj`` is nested deeper than
    :data:`MAX_METADATA_DEPTH`. The work is bounded by ``limit``, not by the
    size of ``obj``: it stops as soon as the limit is passed and never encodes
    a string or walks a container that alone could not fit."""
    size = 0
    stack: List[Tuple[Any, int]] = [(obj, 0)]
    while stack:
        item, depth = stack.pop()
        left = limit - size
        if isinstance(item, str):
            if len(item) + 2 > left:  # its encoding is at least this long
                return True
            size += len(json.dumps(item))
        elif isinstance(item, dict):
            # "{}", ": " per item, ", " between items; each key and value adds >= 1
            overhead = 4 * len(item) if item else 2
            if depth >= MAX_METADATA_DEPTH or overhead + len(item) > left:
                return True
            size += overhead
            for key, value in item.items():
                stack.append((key if isinstance(key, str) else str(key), depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(item, (list, tuple)):
            overhead = 2 * len(item) if item else 2  # "[]", ", " between items
            if depth >= MAX_METADATA_DEPTH or overhead + len(item) > left:
                return True
            size += overhead
            stack.extend((value, depth + 1) for value in item)
        else:  # numbers, true/false/null (anything else as its str)
            try:
                size += len(json.dumps(item, default=str))
            except ValueError:  # e.g. an int too long to print
                return True
        if size > limit:
            return True
    return False


def limit_length(text: str) -> str:
    """``text``, or :data:`TOO_LONG_MESSAGE` when it is longer than
    :data:`MAX_MESSAGE_CHARS` (such a message is not processed, not even masked)."""
    if len(text) > MAX_MESSAGE_CHARS:
        return TOO_LONG_MESSAGE
    return text


def contains_placeholder(text: str) -> bool:
    return CODE_PLACEHOLDER in text or PERSONNUMMER_PLACEHOLDER in text


# --- HTML (Teams) -> text ---

_BLOCK_TAGS = frozenset({
    "address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "li", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
_DROPPED_TAGS = frozenset({"script", "style", "template"})


class _TextExtractor(HTMLParser):
    def __init__(self, skip: Collection[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []
        self.skip = frozenset(t.lower() for t in skip) | _DROPPED_TAGS
        self.skipping: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag in self.skip:
            self.skipping.append(tag)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skip:
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(s: str, *, skip_tags: Collection[str] = ()) -> str:
    """The text a person sees in an HTML fragment (a Teams message): tags
    removed without adding spaces inside a line (``12<b>34</b>56`` -> ``123456``),
    block elements as line breaks, entities decoded, ``script``/``style`` and
    any ``skip_tags`` (Teams' ``at`` mentions) dropped with their content.
    Uses the standard library's HTML parser; callers cap the input's length."""
    if not s or ("<" not in s and "&" not in s):
        return s or ""
    parser = _TextExtractor(skip_tags)
    parser.feed(s)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)
