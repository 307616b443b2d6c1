"""The FAQ questions behind the bot's FAQ intents (``bot/faq_questions.yml``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Tuple

import yaml

CATALOG_PATH = Path(__file__).with_name("faq_questions.yml")


@dataclass(frozen=True)
class FaqEntry:
    intent: str
    title: str
    questions: Tuple[str, ...]

    @property
    def response(self) -> str:
        return f"utter_{self.intent}"


@lru_cache(maxsize=1)
def faq_catalog() -> Dict[str, FaqEntry]:
    """FAQ intent name -> entry, in the FAQ page's order."""
    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    return {
        intent: FaqEntry(intent, item["title"], tuple(item["questions"]))
        for intent, item in raw.items()
    }
