"""Find and hide PIN codes, PUK codes and personnummer in what users send.

Used at the channel boundary (:mod:`bot.channels`, :mod:`bot.teams`) so that
nothing after it - NLU, the tracker store, the logs, the action server - ever
sees the digits. This module is the public face; each job has its own module:

* :mod:`bot.mask_rules`: the text rules (what is a code or a personnummer and
  what is kept), in linear time: :func:`mask_sensitive`, :func:`mask_text`;
* :mod:`bot.mask_metadata`: every string in message metadata or a button
  payload masked (:func:`mask_payload`), program-made ids kept;
* :mod:`bot.message_limits`: the caps applied before masking: a message over
  :data:`MAX_MESSAGE_CHARS` becomes :data:`TOO_LONG_MESSAGE`
  (:func:`limit_length`), metadata over :data:`MAX_METADATA_BYTES` is dropped
  (:func:`metadata_too_large`);
* :mod:`bot.html_text`: Teams' HTML reduced to text first
  (:func:`html_to_text`), so that ``12<b>34</b>56`` is masked as ``123456``.

widget/src/mask.js is a line-by-line copy of the text and metadata rules for
the browser (tests/widget/test_mask_parity.py checks they agree).
"""

from __future__ import annotations

from bot.html_text import html_to_text
from bot.mask_metadata import IDENTIFIER_KEYS, mask_payload
from bot.mask_rules import (
    CODE_PLACEHOLDER,
    KEYWORD_WINDOW,
    PERSONNUMMER_PLACEHOLDER,
    MaskResult,
    contains_placeholder,
    mask_sensitive,
    mask_text,
)
from bot.message_limits import (
    MAX_MESSAGE_CHARS,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    TOO_LONG_INTENT,
    TOO_LONG_MESSAGE,
    limit_length,
    metadata_too_large,
)

__all__ = [
    "CODE_PLACEHOLDER",
    "IDENTIFIER_KEYS",
    "KEYWORD_WINDOW",
    "MAX_MESSAGE_CHARS",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "PERSONNUMMER_PLACEHOLDER",
    "TOO_LONG_INTENT",
    "TOO_LONG_MESSAGE",
    "MaskResult",
    "contains_placeholder",
    "html_to_text",
    "limit_length",
    "mask_payload",
    "mask_sensitive",
    "mask_text",
    "metadata_too_large",
]
