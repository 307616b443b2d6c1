import pytest

from bot.masking import CODE_PLACEHOLDER, PERSONNUMMER_PLACEHOLDER, mask_sensitive


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


@pytest.mark.parametrize(
    "pnr", ["19121212-1212", "121212-1212", "121212+1212", "191212121212", "19800161-1234"]
)
def test_personnummer_and_samordningsnummer_are_masked(pnr):
    result = mask_sensitive(f"mitt personnummer är {pnr} tack")
    assert pnr not in result.text
    assert result.text == f"mitt personnummer är {PERSONNUMMER_PLACEHOLDER} tack"
    assert result.personnummer == 1


@pytest.mark.parametrize(
    "text",
    [
        "Kan uppgradering av kort göras efter 2020?",
        "Vad händer om jag kommer tillbaks 2021 med ett gammalt kort?",
        "Kostar det 200 kr?",
        "Ca 30 000 kort har uppgraderats",
        "ISO/IEC 29115",
        "Ring 010-000 00 00",
        "",
        "inga siffror alls",
    ],
)
def test_ordinary_numbers_are_kept(text):
    result = mask_sensitive(text)
    assert result.text == text
    assert not result.found


def test_several_secrets_in_one_message():
    result = mask_sensitive("pin 111222 och puk 33334444, pnr 19121212-1212")
    assert result.codes == 2 and result.personnummer == 1
    assert not any(ch.isdigit() for ch in result.text)
