"""`make shell`: chat with the running bot in a terminal, through the REST channel.

Goes through the same channel as everyone else, so codes typed here are masked
too. Buttons are shown numbered; type the number to press one.
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from typing import Any, Dict, List

import httpx

_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def render(text: str) -> str:
    """Markdown links as 'text (url)' for a terminal."""
    return _LINK.sub(r"\1 (\2)", text)


def show(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    buttons: List[Dict[str, str]] = []
    for message in messages:
        if message.get("text"):
            print(f"\nBot: {render(message['text'])}")
        for button in message.get("buttons") or []:
            buttons.append(button)
            print(f"  [{len(buttons)}] {button.get('title')}")
    return buttons


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    args = parser.parse_args()
    webhook = f"{args.url}/webhooks/rest/webhook"
    sender = f"shell-{uuid.uuid4().hex[:8]}"
    print("Chatta med SITHS-boten. Avsluta med Ctrl-D eller /stop.")
    buttons: List[Dict[str, str]] = []
    with httpx.Client(timeout=30) as client:
        while True:
            try:
                text = input("\nDu: ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if text == "/stop":
                return 0
            if text.isdigit() and 1 <= int(text) <= len(buttons):
                text = buttons[int(text) - 1]["payload"]
            try:
                reply = client.post(webhook, json={"sender": sender, "message": text})
                reply.raise_for_status()
            except httpx.HTTPError:
                print(f"Boten svarar inte på {args.url}. Är den startad med `make run`?")
                continue
            buttons = show(reply.json())


if __name__ == "__main__":
    sys.exit(main())
