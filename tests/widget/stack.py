"""The real bot for the widget and Teams tests: tests.support.local_stack.bot_stack with
Rasa's ``--cors`` for the widget's page and extra environment (e.g. Teams)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from tests.support.local_stack import BotServer, bot_stack

BotProcess = BotServer  # the name the widget and Teams tests use


@contextmanager
def start_bot(
    tmp: Path,
    *,
    cors: Optional[List[str]] = None,
    env: Optional[Dict[str, str]] = None,
    actions: bool = True,
) -> Iterator[BotServer]:
    with bot_stack(tmp, cors=cors, extra_env=env, with_actions=actions) as bot:
        yield bot
