"""Form handling for the agent's pages: size checked before reading, ASCII-only PINs."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.requests import Request

MAX_FORM_BYTES = 4096
MAX_FIELDS = 16
PIN_MIN = 4
PIN_MAX = 12
# Only the ASCII digits 0-9: str.isdigit() also accepts e.g. Arabic-Indic or fullwidth digits,
# which a card would see as other bytes and count as a wrong try.
PIN_RE = re.compile(rf"[0-9]{{{PIN_MIN},{PIN_MAX}}}", re.ASCII)
SESSION_COOKIE = "cardagent_page"


class FormRefused(Exception):
    """The body is not a small urlencoded form; ``kind`` names the error page."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def valid_pin(pin: str | None) -> bool:
    return pin is not None and PIN_RE.fullmatch(pin) is not None


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The urlencoded form of a page POST, never reading more than ``limit`` bytes.

    A ``Content-Length`` over the limit is refused before a byte of the body is read; a body
    without a length (chunked) is read in pieces and refused as soon as it passes the limit.
    """
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise FormRefused("bad_form")
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isascii() or not length.isdigit():
            raise FormRefused("bad_form")
        if int(length) > limit:
            raise FormRefused("too_large")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            chunks[:] = b"\0" * len(chunks)
            raise FormRefused("too_large")
    try:
        text = bytes(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormRefused("bad_form") from exc
    finally:
        chunks[:] = b"\0" * len(chunks)
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError as exc:
        raise FormRefused("bad_form") from exc
    return {k: v[0] for k, v in parsed.items()}
