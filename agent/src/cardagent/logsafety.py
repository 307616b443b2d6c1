"""Log filters that keep secrets out of the agent's log.

* :class:`PathOnlyAccessFilter` (on ``uvicorn.access``): the access log shows the request path
  only, never the query string - the one-time page link token travels as ``?t=...`` and
  whoever could read the log could otherwise open the PIN or order page first;
* :class:`SecretQueryFilter` (on every handler): a last-line net that replaces the value of a
  ``t=`` / ``token=`` query parameter in any message with ``<redacted>``.

Cookies and form bodies are never logged by uvicorn or the agent.
"""

from __future__ import annotations

import logging
import re

_SECRET_QUERY = re.compile(r"([?&](?:t|token)=)[^&\s\"'#]+", re.IGNORECASE)


def redact_query(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1<redacted>", text)


class PathOnlyAccessFilter(logging.Filter):
    """uvicorn's access record args are (client, method, path with query, http version,
    status): drop everything from the ``?``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2].split("?", 1)[0]
            record.args = args[:2] + (path,) + args[3:]
        return True


class SecretQueryFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logged as it is
            return True
        redacted = redact_query(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True
