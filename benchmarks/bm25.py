"""The baseline the bot has to beat: what a user does instead of asking the
bot, i.e. search the FAQ page. Okapi BM25 over the page's question-answer
pairs (question + answer text as one document), top-1 hit.

To be fair to BM25 several Swedish tokenisations are tried (plain words;
spaCy's Swedish lookup lemmas, the same table the bot uses; plus stop words
removed and å/ä/ö folded, since users leave them out), and the benchmark
reports the best of them next to the bot.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from bot.faq_catalog import faq_catalog

REPO = Path(__file__).resolve().parent.parent
SEED = Path("/work/shared/seed/000_4d32d3477e7fc93f.txt")
LOCAL_SEED = REPO / "benchmarks" / "faq_page.txt"
SPACY_DIR = REPO / "build" / "spacy" / "sv_lookup"

WORD = re.compile(r"[^\W_]+", re.UNICODE)
FOLD = str.maketrans("åäöéü", "aaoeu")


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split()).strip()


@dataclass(frozen=True)
class FaqDoc:
    intent: str
    question: str
    answer: str

    @property
    def text(self) -> str:
        return f"{self.question}\n{self.answer}"


def faq_page_text() -> str:
    for path in (LOCAL_SEED, SEED):
        if path.exists():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"the FAQ page: neither {LOCAL_SEED} nor {SEED}")


def faq_documents(page: Optional[str] = None) -> List[FaqDoc]:
    """The FAQ page split into its question-answer pairs, each mapped to the
    bot's intent for that question (bot/faq_questions.yml)."""
    page = page if page is not None else faq_page_text()
    by_question = {
        _norm(q).rstrip("?").lower(): entry.intent
        for entry in faq_catalog().values() for q in entry.questions
    }
    body = page.split("Frågor och svar", 1)[-1].split("Senast ändrad", 1)[0]
    docs = []
    for block in re.split(r"\n\s*\u00a0\s*\n", body):
        lines = [_norm(line) for line in block.splitlines() if _norm(line)]
        if not lines:
            continue
        question, answer = lines[0], " ".join(lines[1:])
        intent = by_question.get(question.rstrip("?").lower())
        if intent is None:
            raise ValueError(f"FAQ question not in bot/faq_questions.yml: {question!r}")
        docs.append(FaqDoc(intent, question, answer))
    return docs


@lru_cache(maxsize=1)
def _lemmatizer():
    import spacy

    return spacy.load(SPACY_DIR)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset:
    from spacy.lang.sv.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def tokens_plain(text: str) -> List[str]:
    return WORD.findall(text.lower())


def tokens_lemma(text: str) -> List[str]:
    doc = _lemmatizer()(" ".join(tokens_plain(text)))
    return [(t.lemma_ or t.text).lower() for t in doc]


def tokens_lemma_stop_fold(text: str) -> List[str]:
    stop = _stop_words()
    return [t.translate(FOLD) for t in tokens_lemma(text) if t not in stop]


def tokens_plain_stop_fold(text: str) -> List[str]:
    stop = _stop_words()
    return [t.translate(FOLD) for t in tokens_plain(text) if t not in stop]


TOKENISERS: Dict[str, Callable[[str], List[str]]] = {
    "words": tokens_plain,
    "words-stop-fold": tokens_plain_stop_fold,
    "lemmas": tokens_lemma,
    "lemmas-stop-fold": tokens_lemma_stop_fold,
}


class BM25:
    """Okapi BM25 (k1 = 1.5, b = 0.75; idf as in Lucene, never negative)."""

    def __init__(self, docs: Sequence[List[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tf = [Counter(d) for d in docs]
        self.len = [len(d) for d in docs]
        self.avg = sum(self.len) / len(docs)
        df = Counter(t for d in docs for t in set(d))
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: List[str]) -> List[float]:
        out = []
        for tf, length in zip(self.tf, self.len, strict=True):
            s = 0.0
            for t in query:
                f = tf.get(t, 0)
                if f:
                    s += self.idf[t] * f * (self.k1 + 1) / (
                        f + self.k1 * (1 - self.b + self.b * length / self.avg))
            out.append(s)
        return out


class FaqSearch:
    """The FAQ page as a search box: query -> (intent of the top hit, score)."""

    def __init__(self, tokenise: Callable[[str], List[str]],
                 docs: Optional[List[FaqDoc]] = None) -> None:
        self.docs = docs or faq_documents()
        self.tokenise = tokenise
        self.index = BM25([tokenise(d.text) for d in self.docs])

    def top(self, query: str) -> Tuple[str, float]:
        scores = self.index.scores(self.tokenise(query))
        best = max(range(len(scores)), key=lambda i: scores[i])
        return self.docs[best].intent, scores[best]
