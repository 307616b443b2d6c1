"""NLU evaluation on a held-out file: accuracy, macro-F1 and the confusions.

Used by the test suite (a floor on accuracy) and by ``make bench``. The
held-out file (tests/nlu/heldout.yml) was written separately from the
training data, from the FAQ page alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from rasa.shared.nlu.training_data.loading import load_data
from sklearn.metrics import f1_score

HELDOUT = Path(__file__).resolve().parent.parent / "tests" / "nlu" / "heldout.yml"


def load_examples(path: Path = HELDOUT) -> List[Tuple[str, str]]:
    """(text, intent) pairs of an NLU YAML file."""
    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


@dataclass
class NluReport:
    total: int
    correct: int
    macro_f1: float
    confusions: List[Tuple[str, str, str]] = field(default_factory=list)
    fallback: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def as_dict(self) -> Dict[str, object]:
        return {
            "examples": self.total,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "fallback": self.fallback,
            "confusions": [
                {"text": t, "expected": e, "predicted": p} for t, e, p in self.confusions
            ],
        }


def evaluate(
    predict: Callable[[str], str], examples: List[Tuple[str, str]]
) -> NluReport:
    """Score ``predict`` (text -> intent name). ``nlu_fallback`` counts as wrong:
    the bot asked back instead of answering."""
    expected, predicted, confusions = [], [], []
    for text, intent in examples:
        guess = predict(text)
        expected.append(intent)
        predicted.append(guess)
        if guess != intent:
            confusions.append((text, intent, guess))
    correct = sum(e == p for e, p in zip(expected, predicted, strict=True))
    labels = sorted(set(expected))
    return NluReport(
        total=len(examples),
        correct=correct,
        macro_f1=float(f1_score(expected, predicted, labels=labels, average="macro",
                                zero_division=0)),
        confusions=confusions,
        fallback=Counter(predicted)["nlu_fallback"],
    )
