"""Find and hide PIN codes, PUK codes and personnummer in chat text.

Used at the channel boundary (:mod:`bot.channels`) so that nothing after it -
NLU, the tracker store, the logs, the action server - ever sees the digits.

What counts as sensitive:
- personnummer and samordningsnummer: 10 or 12 digits, optionally with ``-`` or
  ``+`` before the last four (``19800101-1234``, ``800101+1234``,
  ``198001011234``); masked whether or not the check digit is valid, since a
  mistyped number is just as personal;
- any stand-alone run of 6-8 digits (SITHS PINs are 6-8 digits, PUKs 8), also
  written in groups (``123 456``, ``1234-5678``);
- 4-8 digits that follow a word about codes (``pin``, ``puk``, ``kod``,
  ``lösen`` ...), for short PINs from other cards.
Years (``2020``), prices (``200 kr``) and short numbers elsewhere are kept, so
questions like "Kan uppgradering göras efter 2020?" still work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CODE_PLACEHOLDER = "[dold kod]"
PERSONNUMMER_PLACEHOLDER = "[dolt personnummer]"

_PERSONNUMMER = re.compile(r"(?<![\d-])(?:19|20)?\d{6}\s?[-+]?\s?\d{4}(?![\d-])")
_LONG_DIGITS = re.compile(r"(?<![\d-])\d{2,4}(?:[ -]?\d{2,4}){1,3}(?![\d-])")
_CODE_WORD = re.compile(
    r"\b(?:pin\w*|puk\w*|\w*kod\w*|lösen\w*|losen\w*|password|code)\b"
    r"(?:\W+\w+){0,3}?\W+(\d{4,8})(?!\d)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MaskResult:
    text: str
    codes: int = 0
    personnummer: int = 0

    @property
    def found(self) -> bool:
        return bool(self.codes or self.personnummer)


def _digit_count(s: str) -> int:
    return sum(ch.isdigit() for ch in s)


def mask_sensitive(text: str) -> MaskResult:
    """Replace codes and personnummer in ``text`` by placeholders."""
    if not text or not any(ch.isdigit() for ch in text):
        return MaskResult(text or "")
    counts = {"codes": 0, "personnummer": 0}

    def hide_pnr(match: re.Match[str]) -> str:
        counts["personnummer"] += 1
        return PERSONNUMMER_PLACEHOLDER

    def hide_digits(match: re.Match[str]) -> str:
        if 6 <= _digit_count(match.group(0)) <= 8:
            counts["codes"] += 1
            return CODE_PLACEHOLDER
        return match.group(0)

    def hide_after_code_word(match: re.Match[str]) -> str:
        counts["codes"] += 1
        start, end = match.span(1)
        whole = match.group(0)
        offset = match.start(0)
        return whole[: start - offset] + CODE_PLACEHOLDER + whole[end - offset :]

    masked = _PERSONNUMMER.sub(hide_pnr, text)
    masked = _LONG_DIGITS.sub(hide_digits, masked)
    masked = _CODE_WORD.sub(hide_after_code_word, masked)
    return MaskResult(masked, counts["codes"], counts["personnummer"])


def contains_placeholder(text: str) -> bool:
    return CODE_PLACEHOLDER in text or PERSONNUMMER_PLACEHOLDER in text
