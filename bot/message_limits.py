"""The size caps applied before masking: a message's length and its metadata's size.

Masking is linear, but its cost still grows with the input: what is over the
caps is not masked at all (the channel passes :data:`TOO_LONG_MESSAGE` or ``{}``
instead, :func:`bot.channels.masking_handler`). Re-exported by :mod:`bot.masking`.
"""

from __future__ import annotations

import json
from typing import Any, List, Tuple

#: Longer messages are not processed at all: the channel passes
#: :data:`TOO_LONG_MESSAGE` instead (intent ``message_too_long`` in domain.yml).
MAX_MESSAGE_CHARS = 2000
TOO_LONG_INTENT = "message_too_long"
TOO_LONG_MESSAGE = f"/{TOO_LONG_INTENT}"
#: Message metadata whose JSON encoding is longer than this, or that is nested
#: deeper than :data:`MAX_METADATA_DEPTH`, is dropped (the channel passes ``{}``).
MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_DEPTH = 32


def metadata_too_large(obj: Any, limit: int = MAX_METADATA_BYTES) -> bool:
    """Whether ``json.dumps(obj)`` would be longer than ``limit`` characters
    (bytes: it is ASCII), or ``obj`` is nested deeper than
    :data:`MAX_METADATA_DEPTH`. The work is bounded by ``limit``, not by the
    size of ``obj``: it stops as soon as the limit is passed and never encodes
    a string or walks a container that alone could not fit."""
    size = 0
    stack: List[Tuple[Any, int]] = [(obj, 0)]
    while stack:
        item, depth = stack.pop()
        left = limit - size
        if isinstance(item, str):
            if len(item) + 2 > left:  # its encoding is at least this long
                return True
            size += len(json.dumps(item))
        elif isinstance(item, dict):
            # "{}", ": " per item, ", " between items; each key and value adds >= 1
            overhead = 4 * len(item) if item else 2
            if depth >= MAX_METADATA_DEPTH or overhead + len(item) > left:
                return True
            size += overhead
            for key, value in item.items():
                stack.append((key if isinstance(key, str) else str(key), depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(item, (list, tuple)):
            overhead = 2 * len(item) if item else 2  # "[]", ", " between items
            if depth >= MAX_METADATA_DEPTH or overhead + len(item) > left:
                return True
            size += overhead
            stack.extend((value, depth + 1) for value in item)
        else:  # numbers, true/false/null (anything else as its str)
            try:
                size += len(json.dumps(item, default=str))
            except ValueError:  # e.g. an int too long to print
                return True
        if size > limit:
            return True
    return False


def limit_length(text: str) -> str:
    """``text``, or :data:`TOO_LONG_MESSAGE` when it is longer than
    :data:`MAX_MESSAGE_CHARS` (such a message is not processed, not even masked)."""
    if len(text) > MAX_MESSAGE_CHARS:
        return TOO_LONG_MESSAGE
    return text
