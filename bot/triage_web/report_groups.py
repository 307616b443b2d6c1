"""The report's groups: messages the bot could not answer, grouped by similarity, and
each group as a YAML snippet for ``data/nlu/`` or the held-out file, for a person to
review (nothing is trained automatically).

Similarity: TF-IDF over character n-grams within words (robust to typos and Swedish
compounds), cosine; a message joins the most similar group whose first message is at
least :data:`MIN_SIMILARITY` alike, else starts a group. Messages are taken most frequent
first, so each group is named by its commonest wording. Identical texts are one row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from sklearn.feature_extraction.text import TfidfVectorizer

from bot.masking import mask_sensitive
from bot.triage_web.report import NONE_OF_THESE, Failed

MIN_SIMILARITY = 0.5
#: At most this many distinct texts are grouped; the rarest beyond it are counted only.
MAX_TEXTS = 2000
EXAMPLES_SHOWN = 5


@dataclass
class Group:
    number: int
    texts: Counter = field(default_factory=Counter)  # masked text -> how often
    outcomes: Counter = field(default_factory=Counter)
    intents: Counter = field(default_factory=Counter)  # what the NLU thought
    picked: Counter = field(default_factory=Counter)  # suggestions picked after asking back

    @property
    def count(self) -> int:
        return sum(self.texts.values())

    @property
    def title(self) -> str:
        return self.texts.most_common(1)[0][0]

    def examples(self, n: int = EXAMPLES_SHOWN) -> List[str]:
        return [t for t, _ in self.texts.most_common(n)]

    def label(self) -> Optional[str]:
        """The intent a reviewer most likely wants: the suggestion people picked, or
        out_of_scope for declined messages; None when nothing says."""
        picked = [(i, n) for i, n in self.picked.most_common() if i != NONE_OF_THESE]
        if picked:
            return picked[0][0]
        if self.outcomes.most_common(1)[0][0] == "declined":
            return "out_of_scope"
        return None


def group_failed(failed: List[Failed]) -> List[Group]:
    """Groups of ``failed``, largest first, numbered from 1."""
    by_text: Dict[str, List[Failed]] = {}
    for item in failed:
        by_text.setdefault(" ".join(item.text.lower().split()), []).append(item)
    # Masked again (the channel masked them before they were stored), once per wording.
    masked: Dict[str, str] = {}
    for item in failed:
        if item.text not in masked:
            masked[item.text] = mask_sensitive(item.text).text
        item.text = masked[item.text]
    by_text.pop("", None)
    ordered = sorted(by_text, key=lambda k: (-len(by_text[k]), k))
    grouped, rest = ordered[:MAX_TEXTS], ordered[MAX_TEXTS:]
    groups: List[Group] = []
    if grouped:
        vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5),
                                  sublinear_tf=True).fit_transform(grouped)
        leaders: List[int] = []
        assignment: List[int] = []
        for row in range(len(grouped)):
            best, best_score = -1, MIN_SIMILARITY
            if leaders:
                scores = (vectors[leaders] @ vectors[row].T).toarray().ravel()
                top = int(scores.argmax())
                if scores[top] >= best_score:
                    best, best_score = top, scores[top]
            if best < 0:
                leaders.append(row)
                groups.append(Group(0))
                best = len(leaders) - 1
            assignment.append(best)
        for row, g in enumerate(assignment):
            _add(groups[g], by_text[grouped[row]])
    if rest:
        other = Group(0)
        for key in rest:
            _add(other, by_text[key])
        groups.append(other)
    groups.sort(key=lambda g: -g.count)
    for number, group in enumerate(groups, 1):
        group.number = number
    return groups


def _add(group: Group, items: List[Failed]) -> None:
    for item in items:
        group.texts[item.text] += 1
        group.outcomes[item.outcome] += 1
        if item.intent:
            group.intents[item.intent] += 1
        if item.picked:
            group.picked[item.picked] += 1


def group_yaml(group: Group, period: str) -> str:
    """The group as an NLU training snippet for a person to review."""
    label = group.label()
    header = [
        f"# Group {group.number}: {group.count} messages the bot did not answer at once "
        f"({period}); outcomes: " + ", ".join(f"{k} {v}" for k, v in group.outcomes.items()),
        "# The NLU thought: " + ", ".join(f"{k} {v}" for k, v in group.intents.most_common(3)),
        "# Review before use: set the intent, drop what does not belong, and keep messages",
        "# that go to the held-out file out of data/nlu/. Nothing here is trained by itself.",
    ]
    if label is None:
        header.append("# No intent is suggested: people picked none of the bot's suggestions.")
    examples = "".join(f"    - {' '.join(text.split())}\n" for text in group.texts)
    body = (f'version: "3.1"\nnlu:\n- intent: {label or "CHOOSE_AN_INTENT"}\n'
            f"  examples: |\n{examples}")
    return "\n".join(header) + "\n" + body
