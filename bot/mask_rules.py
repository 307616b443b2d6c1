"""The text rules: find and hide PIN codes, PUK codes and personnummer in chat text.

The public names are re-exported by :mod:`bot.masking`, which the channels use.
widget/src/mask.js is a line-by-line copy for the browser
(tests/widget/test_mask_parity.py checks they agree).

Linear time: one ``finditer`` over the text finds, left to right, web
addresses (left alone), code words and digit groups. A digit group is digits
joined by at most three separators (any Unicode space incl. non-breaking ones,
zero-width characters, dashes, ``/ . , + _``), so ``1 2 3 4 5 6``,
``123/456`` and ``1234-5678-9`` are one group. There is no nested unbounded
quantifier, and every look-around is bounded, so a 1 MB message costs
milliseconds. Callers still cap a message at
:data:`bot.message_limits.MAX_MESSAGE_CHARS` before masking
(:func:`bot.message_limits.limit_length`).

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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

CODE_PLACEHOLDER = "[dold kod]"
PERSONNUMMER_PLACEHOLDER = "[dolt personnummer]"

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


def contains_placeholder(text: str) -> bool:
    return CODE_PLACEHOLDER in text or PERSONNUMMER_PLACEHOLDER in text
