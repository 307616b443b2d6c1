"""Recognise and mask the identifiers found in SITHS certificates.

HSA-id: ``SE`` + 10-digit organisation number + ``-`` + letters/digits (the hyphen is
optional), at most 31 characters. Personnummer: YYYYMMDDNNNC where C is a Luhn check digit
over YYMMDDNNN; a samordningsnummer adds 60 to the day.

Personnummer are sensitive: nothing outside this module's ``Identifier.raw`` may carry one
unmasked. ``mask_text`` is a last-line safety net used on every response body and log line.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Literal

IdentifierKind = Literal["hsa_id", "personnummer", "samordningsnummer", "unknown", "none"]

HSA_ID_RE = re.compile(r"^SE\d{10}-?[A-Za-z0-9]+$")
HSA_ID_MAX_LEN = 31
_PNR_RE = re.compile(r"^(\d{2})?(\d{2})(\d{2})(\d{2})([-+]?)(\d{3})(\d)$")
# Anything that looks like a (possibly invalid) personnummer inside free text.
_PNR_IN_TEXT_RE = re.compile(
    r"(?<![\dA-Za-z])((?:19|20)?\d{2}(?:0[1-9]|1[0-2])(?:[0-2]\d|3[01]|[6-8]\d|9[01]))([-+]?)\d{4}(?![\dA-Za-z])"
)


@dataclass(frozen=True)
class Identifier:
    """An identifier found in a certificate subject ``serialNumber``."""

    kind: IdentifierKind
    masked: str
    valid: bool
    raw: str = field(default="", repr=False, compare=False)

    @property
    def is_personal_number(self) -> bool:
        return self.kind in ("personnummer", "samordningsnummer")


def luhn_ok(digits: str) -> bool:
    """Luhn check over a digit string whose last digit is the check digit."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(nine_digits: str) -> str:
    """The Luhn check digit for YYMMDDNNN (used to build synthetic test numbers)."""
    for c in "0123456789":
        if luhn_ok(nine_digits + c):
            return c
    raise ValueError("no check digit")  # pragma: no cover - impossible for digit input


def is_hsa_id(value: str) -> bool:
    return len(value) <= HSA_ID_MAX_LEN and bool(HSA_ID_RE.match(value))


def mask_personnummer(value: str) -> str:
    """``191212121212`` or ``19121212-1212`` -> ``19121212-****``."""
    m = _PNR_RE.match(value.strip())
    if not m:
        return "****"
    century, yy, mm, dd, _sep, _nnn, _c = m.groups()
    return f"{century or ''}{yy}{mm}{dd}-****"


def _parse_personal_number(value: str) -> Identifier | None:
    m = _PNR_RE.match(value.strip())
    if not m:
        return None
    century, yy, mm, dd, _sep, nnn, check = m.groups()
    masked = mask_personnummer(value)
    day = int(dd)
    kind: IdentifierKind = "personnummer"
    if day > 60:
        kind = "samordningsnummer"
        day -= 60
    year = int((century or "19") + yy)
    try:
        dt.date(year, int(mm), day)
        date_ok = True
    except ValueError:
        date_ok = False
    valid = date_ok and luhn_ok(yy + mm + dd + nnn + check)
    return Identifier(kind=kind, masked=masked, valid=valid, raw=value.strip())


def recognise(value: str | None) -> Identifier:
    """Classify a subject serialNumber as HSA-id, personnummer or samordningsnummer."""
    if not value:
        return Identifier(kind="none", masked="", valid=False)
    value = value.strip()
    if value.upper().startswith("SE") and not value[2:].isdigit():
        return Identifier(kind="hsa_id", masked=value, valid=is_hsa_id(value), raw=value)
    pnr = _parse_personal_number(value)
    if pnr is not None:
        return pnr
    if value.isdigit():
        # A digit string that is not a personnummer: mask it anyway, it may be one mistyped.
        return Identifier(kind="unknown", masked=value[:8] + "-****", valid=False, raw=value)
    return Identifier(kind="unknown", masked=mask_text(value), valid=False, raw=value)


def mask_text(text: str) -> str:
    """Mask everything in ``text`` that looks like a personnummer or samordningsnummer."""
    return _PNR_IN_TEXT_RE.sub(lambda m: f"{m.group(1)}-****", text)


class MaskingLogFilter(logging.Filter):
    """Logging filter that masks personnummer in every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - never break logging
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True
