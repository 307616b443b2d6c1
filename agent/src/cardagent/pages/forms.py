"""Form handling for the agent's pages: size checked before reading (the PIN format:
cardagent/upgrade/pins.py)."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

MAX_FORM_BYTES = 4096
MAX_FIELDS = 16
SESSION_COOKIE = "cardagent_page"


class FormRefused(Exception):
    """The body is not a small urlencoded form; ``kind`` names the error page."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


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
