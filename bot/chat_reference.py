"""Chat references: the short code (``K-4F7Q-9XZ2``) a user gives Servicecenter so that
an agent can find the conversation on the triage page.

* The reference is derived from the conversation's sender id with an HMAC, so nobody can
  work out a conversation's reference, nor a reference's conversation, without the key:
  40 bits, eight characters of Crockford's base32 (no I, L, O or U: easy to read out on
  the phone). The key is derived from the socket.io session key
  (``BOT_SESSION_SECRET[_FILE]``), the one secret the bot process already holds.
* The chat shows it in every answer that points to Servicecenter, in the words of the
  domain's response ``utter_chat_reference`` (:func:`with_chat_reference`, used by
  :mod:`bot.nlg`); the widget shows it in its header (``chat_reference`` event,
  :mod:`bot.channels`).
* The triage page finds a reference's conversation by computing the references of the
  stored conversations (:class:`bot.triage_web.conversations.ReferenceIndex`); nothing
  extra is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache
from typing import Any, Mapping, Optional, Sequence

from rasa.core.nlg.interpolator import interpolate_text

from bot.doors import session_secret

REFERENCE_RESPONSE = "utter_chat_reference"
SERVICECENTER_PLACEHOLDER = "{servicecenter_contact}"
PREFIX = "K-"
#: Crockford's base32 alphabet: digits and letters without I, L, O, U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8  # 40 bits
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_TYPED = re.compile(r"^(?:K)?([0-9A-Z]{8})$")

Responses = Mapping[str, Sequence[Mapping[str, Any]]]


class ChatReferences:
    """Makes and reads chat references with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = hmac.new(key, b"siths-chat-reference|v1", hashlib.sha256).digest()

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> ChatReferences:
        return cls(session_secret(env))

    def reference(self, sender_id: str) -> str:
        """``K-XXXX-XXXX`` for the conversation ``sender_id``."""
        digest = hmac.new(self._key, sender_id.encode("utf-8"), hashlib.sha256).digest()
        number = int.from_bytes(digest[:5], "big")
        chars = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(LENGTH)))
        return f"{PREFIX}{chars[:4]}-{chars[4:]}"


def normalise(typed: str) -> Optional[str]:
    """A reference as typed or read out (any case, with or without ``K-`` and dashes,
    O for 0, I or L for 1) in its canonical form; None when it cannot be one."""
    compact = re.sub(r"[\s\-–]", "", typed or "").upper()[:16].translate(_READ_AS)
    match = _TYPED.match(compact)
    if not match or any(c not in ALPHABET for c in match.group(1)):
        return None
    chars = match.group(1)
    return f"{PREFIX}{chars[:4]}-{chars[4:]}"


@lru_cache(maxsize=1)
def references() -> ChatReferences:
    """This process's references (the key read once from the environment)."""
    return ChatReferences.from_env()


def refers_to_servicecenter(template: str) -> bool:
    return SERVICECENTER_PLACEHOLDER in (template or "")


def reference_line(responses: Responses, reference: str) -> str:
    """The domain's words telling the user to give ``reference``."""
    variants = responses.get(REFERENCE_RESPONSE) or []
    text = (variants[0].get("text") or "").strip() if variants else ""
    if not text:
        raise ValueError(f"the domain has no response {REFERENCE_RESPONSE}")
    return interpolate_text(text, {"chat_reference": reference})


def with_chat_reference(text: str, template: str, responses: Responses, reference: str) -> str:
    """``text`` (a rendered response) with the reference line after it when its template
    (``template``) points to Servicecenter; unchanged otherwise."""
    if not text or not refers_to_servicecenter(template):
        return text
    return f"{text}\n\n{reference_line(responses, reference)}"
