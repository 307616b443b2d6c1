"""Masking of message metadata and button payloads: every string in them, keys included.

Strings are masked with the running-text rules of :mod:`bot.mask_rules`; values
of :data:`IDENTIFIER_KEYS` that look like ids are kept. Re-exported by
:mod:`bot.masking`.
"""

from __future__ import annotations

import re
from typing import Any

from bot.mask_rules import mask_sensitive

#: Metadata keys whose values are ids and links made by programs (the card
#: agent's answers that the widget relays, Teams' ids): such a value is kept as
#: it is when it looks like an id (no spaces, URL characters only) and holds no
#: personnummer, so that ``PUK-20260115-123456`` or a job's page link still
#: work after masking (``{"id": "198001011234"}`` is masked all the same).
IDENTIFIER_KEYS = frozenset({
    "id", "request_id", "job_id", "order_id", "reference", "pin_page_url",
    "confirm_page_url", "session_id", "tenant", "tenantId", "aadObjectId",
})
_IDENTIFIER = re.compile(r"[A-Za-z0-9._~:/?#=&%+\-]{1,512}")


def _kept_identifier(key: Any, value: Any) -> bool:
    return (
        key in IDENTIFIER_KEYS
        and isinstance(value, str)
        and _IDENTIFIER.fullmatch(value) is not None
        and not mask_sensitive(value, bare_rule=False).personnummer
    )


def mask_payload(obj: Any) -> Any:
    """A copy of ``obj`` (message metadata, a button payload) with every string
    in it masked, in nested dicts, lists and tuples, keys included. Other values
    are returned as they are. Strings are masked with the running-text rules
    (a string without letters is not a code by itself here), so identifiers
    (``a1b2c3``, hex ids, UUIDs) and web addresses survive; values of
    :data:`IDENTIFIER_KEYS` that look like ids (and hold no personnummer) are
    kept. Callers drop oversized metadata first
    (:func:`bot.message_limits.metadata_too_large`)."""
    if isinstance(obj, str):
        return mask_sensitive(obj, bare_rule=False).text
    if isinstance(obj, dict):
        return {
            mask_payload(k): v if _kept_identifier(k, v) else mask_payload(v)
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(mask_payload(v) for v in obj)
    return obj
