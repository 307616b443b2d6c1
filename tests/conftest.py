"""Two virtual environments run this suite, one per deployable's dependencies:

* ``.venv`` (the bot and the action server: Rasa, rasa-sdk) runs everything but
  ``tests/cardagent``; it starts the card agent and the developer tools as processes of
  ``.venv-agent`` when a test needs a card (tests/support/card_stack.py);
* ``.venv-agent`` (the card agent's own lock plus its test tools) runs ``tests/cardagent``,
  which drives the agent in-process.

``make test`` runs both; each venv skips the folders that belong to the other.
"""

from __future__ import annotations

import importlib.util

AGENT_VENV = importlib.util.find_spec("cardagent") is not None
BOT_VENV = importlib.util.find_spec("rasa") is not None

collect_ignore: list[str] = []
if not AGENT_VENV:
    collect_ignore.append("cardagent")
if not BOT_VENV:
    collect_ignore += [
        "actions", "bot", "faults", "scale", "security", "support", "teams", "triage", "widget",
    ]

if BOT_VENV:
    # The bot's test stacks start with a last upgrade day far ahead (local_stack.TEST_SITE),
    # so the upgrade conversations are offered whatever today's date is. The test process
    # renders the expected answers with the same site dates. Tests of site.yml's own dates
    # clear these (tests/bot/test_site_*.py, tests/bot/test_card_site_dates.py).
    import os

    from tests.support.local_stack import TEST_SITE

    os.environ.update(TEST_SITE)
    # `make test` inherits the Makefile's secret files for `make run` (var/secrets/, which a
    # fresh clone does not have); tests give every process they start its own secrets.
    for name in ("ACTION_SERVER_TOKEN_FILE", "BOT_SESSION_SECRET_FILE", "RASA_API_TOKEN_FILE",
                 "TRIAGE_TOKEN_FILE"):
        os.environ.pop(name, None)
