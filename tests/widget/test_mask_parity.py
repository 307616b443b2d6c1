"""The widget masks codes like the bot does (widget/src/mask.js vs bot/masking.py),
so nothing the user typed is shown or stored unmasked in the browser."""

from __future__ import annotations

import json
import subprocess

from bot.local_stack import REPO
from bot.masking import mask_sensitive

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
