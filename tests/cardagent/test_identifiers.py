"""HSA-id / personnummer recognition, Luhn, samordningsnummer, masking."""

from __future__ import annotations

import logging

import pytest

from cardagent.identifiers import MaskingLogFilter, luhn_ok, mask_text, recognise
from devtools.cards import synthetic_personnummer


@pytest.mark.parametrize(
    "value", ["SE1234567890-TEST0000001", "SE2321000131-E000000000001", "SE2321000131E00001"]
)
def test_hsa_id(value: str) -> None:
    ident = recognise(value)
    assert ident.kind == "hsa_id" and ident.valid and ident.masked == value


@pytest.mark.parametrize(
    "value", ["SE123-ABC", "SE1234567890-ÅÄÖ", "SE1234567890-a@b", "SE1234567890-" + "A" * 20]
)
def test_bad_hsa_id_is_invalid(value: str) -> None:
    ident = recognise(value)
    assert ident.kind == "hsa_id" and not ident.valid


@pytest.mark.parametrize("value", ["191212121212", "19121212-1212", "1212121212", "121212-1212"])
def test_personnummer_forms(value: str) -> None:
    ident = recognise(value)
    assert ident.kind == "personnummer" and ident.valid
    assert ident.masked.endswith("-****") and ident.masked.startswith(value[:6])
    assert "1212" not in ident.masked[len(value[:8]) :]


def test_personnummer_masked_like_spec() -> None:
    assert recognise("191212121212").masked == "19121212-****"


def test_luhn_rejects_wrong_check_digit() -> None:
    assert luhn_ok("1212121212")
    assert not luhn_ok("1212121213")
    ident = recognise("191212121213")
    assert ident.kind == "personnummer" and not ident.valid
    assert ident.masked == "19121212-****"


def test_samordningsnummer() -> None:
    number = synthetic_personnummer("19120461", "242")  # day 01 + 60
    ident = recognise(number)
    assert ident.kind == "samordningsnummer" and ident.valid
    assert ident.masked == "19120461-****"


def test_impossible_date_is_invalid() -> None:
    number = synthetic_personnummer("19121332", "123")
    assert not recognise(number).valid


def test_unknown_digits_still_masked() -> None:
    ident = recognise("99999999999999")
    assert ident.kind == "unknown" and "****" in ident.masked


@pytest.mark.parametrize(
    "text,expected",
    [
        ("pnr 191212121212 here", "pnr 19121212-**** here"),
        ("19121212-1212", "19121212-****"),
        ("x=121212-1212;", "x=121212-****;"),
        ("serial 9999622396583464 stays", "serial 9999622396583464 stays"),
        ("date 2026-11-29 stays", "date 2026-11-29 stays"),
        ("hex AB191212121212CD stays", "hex AB191212121212CD stays"),
    ],
)
def test_mask_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_log_filter_masks_args() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "subject %s", ("serialNumber=191212121212",), None
    )
    MaskingLogFilter().filter(record)
    assert record.getMessage() == "subject serialNumber=19121212-****"
