"""A second opinion for the triage page: Okapi BM25 (``rank_bm25``) over the bot's own FAQ
answers, each document being an FAQ question with its answer text from ``domain.yml``.

It shows the agent which answers share the caller's words, next to what the bot's NLU
understood; it decides nothing on its own. Stop words are dropped and å, ä, ö folded
(callers and agents often type without them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Mapping, Sequence

from rank_bm25 import BM25Okapi

from bot.faq_catalog import faq_catalog

WORD = re.compile(r"[^\W_]+", re.UNICODE)
FOLD = str.maketrans("åäöéü", "aaoeu")


@lru_cache(maxsize=1)
def _stop_words() -> frozenset:
    from spacy.lang.sv.stop_words import STOP_WORDS

    return frozenset(w.translate(FOLD) for w in STOP_WORDS)


def tokens(text: str) -> List[str]:
    stop = _stop_words()
    folded = (w.translate(FOLD) for w in WORD.findall(text.lower()))
    return [w for w in folded if w not in stop]


@dataclass(frozen=True)
class Hit:
    intent: str
    title: str
    score: float


class FaqSearch:
    """Search over the FAQ: ``search(text)`` -> the best hits, best first."""

    def __init__(self, responses: Mapping[str, Sequence[Mapping[str, object]]]) -> None:
        self.entries = list(faq_catalog().values())
        docs = []
        for entry in self.entries:
            variants = responses.get(entry.response) or [{}]
            answer = str(variants[0].get("text") or "")
            docs.append(tokens(" ".join([entry.title, *entry.questions, answer])))
        self.index = BM25Okapi(docs)

    def search(self, text: str, top: int = 3) -> List[Hit]:
        query = tokens(text)
        if not query:
            return []
        scores = self.index.get_scores(query)
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])[:top]
        return [Hit(self.entries[i].intent, self.entries[i].title, float(scores[i]))
                for i in ranked if scores[i] > 0]
