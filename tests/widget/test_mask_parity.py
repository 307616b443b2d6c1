"""The widget masks codes like the bot does (widget/src/mask.js vs bot/masking.py),
so nothing the user typed is shown or stored unmasked in the browser."""

from __future__ import annotations

import json
import subprocess

from bot.masking import mask_payload, mask_sensitive
from tests.bot.test_masking import (
    CODE_FORMS,
    KEPT,
    PERSONNUMMER_FORMS,
    PERSONNUMMER_IN_CONTEXT,
)
from tests.support.local_stack import REPO

CASES = [
    "min pin är 123456",
    "PUK 12345678",
    "puk-koden: 1234 5678",
    "mitt personnummer är 19121212-1212",
    "pnr 121212+1212 och 198001011234",
    "pinkod 4321",
    "lösenordet är 9876",
    "losen 98765",
    "koden till kortet är 1111",
    "Kostar det 200 kr?",
    "Kan uppgradering göras efter 2020?",
    "ring 010-000 00 00",
    "123 456",
    "1234-5678",
    "Mitt kort går ut 2025-11-30",
    "kod för legitimering är alltså 246810",
    "ÅÄÖ-kod 4444",
    "inga siffror alls",
    "",
    # issue 10's forms (tests/bot/test_masking.py), each alone and in a sentence
    *(text for text, _ in CODE_FORMS.values()),
    *PERSONNUMMER_FORMS,
    *(f"mitt personnummer är {pnr} tack" for pnr in PERSONNUMMER_FORMS),
    *KEPT,
    "pin 𝟏𝟐𝟑𝟒",  # mathematical digits (outside the BMP: two UTF-16 units in JS)
    "𝐀123456 x",
    "x 123 - 456 y",
    "12 -  34",
    "Kostar 123456 kr?",
    # personnummer in any grouping, glued to a word, in a web address
    *(text for text, _ in PERSONNUMMER_IN_CONTEXT.values()),
    "ring 070-123 45 67",
    "30/11/2025 14:00 och 1980-01-01 12",
    "http://127.0.0.1:8765/pin/8001011234?t=x https://a.example/198001011234a",
    "𝐀8001011234",
]

PAYLOADS = [
    {"note": "min pin är 482913", "list": ["puk 12345678", 42, None, {"pnr": "19800101-1234"}],
     "pin 654321": "key too", "flag": True},
    {"cardagent_result": {"request_id": "Zk3-182736_4x9Q0aWnV1u2s6s7D8e9F0gH",
                          "answer": {"job_id": "3f2a9c1d8e7b6a50",
                                     "reference": "PUK-20260115-123456",
                                     "pin_page_url": "http://127.0.0.1:8765/pin/3f2a?t=abc1234567"}}},
    {"job_id": "min pin 123456"},
    {"id": "198001011234", "reference": "800101-1234", "request_id": "pnr8001011234",
     "order_id": "PUK-20260115-123456", "confirm_page_url": "https://x.example/?pnr=198001011234"},
    "/inform{\"pin\": \"482913\"}",
]


def test_widget_masks_like_the_bot():
    script = (
        "import { maskSensitive } from './src/mask.js';"
        "const cases = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(cases.map((c) => maskSensitive(c).text)));"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script, json.dumps(CASES)],
        cwd=REPO / "widget", check=True, capture_output=True, text=True,
    ).stdout
    assert json.loads(out) == [mask_sensitive(c).text for c in CASES]


def test_widget_masks_metadata_like_the_bot():
    script = (
        "import { maskPayload } from './src/mask.js';"
        "const cases = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(cases.map((c) => maskPayload(c))));"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script, json.dumps(PAYLOADS)],
        cwd=REPO / "widget", check=True, capture_output=True, text=True,
    ).stdout
    assert json.loads(out) == [mask_payload(c) for c in PAYLOADS]
