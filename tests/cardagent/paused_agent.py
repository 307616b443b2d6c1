"""Test support: the card agent as a real process whose upgrade jobs stop at a checkpoint.

    .venv-agent/bin/python -m tests.cardagent.paused_agent --pause-at write_certificates:3 \\
        --marker /tmp/x/paused

(cwd = the repo root). Configured like ``python -m cardagent`` (environment ``CARDAGENT_*``
and the settings file); the app gets a step hook that, when a job reaches the checkpoint
``--pause-at`` (labels: cardagent/upgrade/steps.py), writes ``<job id> <label>`` to the
marker file and sleeps for good, so a test can ``kill -9`` the agent right there. The hook
lives here, not in the product: the agent itself reads no test setting.
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
import time
from pathlib import Path

from cardagent.upgrade import StepHook

log = logging.getLogger("cardagent.tests.paused_agent")


def pause_hook(pause_at: str, marker: Path) -> StepHook:
    """A step hook that stops the job thread for good at ``pause_at``."""

    def hook(job_id: str, label: str) -> None:
        if label != pause_at:
            return
        marker.write_text(f"{job_id} {label}\n", encoding="utf-8")
        log.warning("paused job %s at %s (test launcher)", job_id, label)
        while True:
            time.sleep(3600)

    return hook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cardagent.paused_agent")
    parser.add_argument("--pause-at", required=True, help="checkpoint label, e.g. remove_old:2")
    parser.add_argument("--marker", required=True, type=Path, help="file written on pausing")
    args = parser.parse_args(argv)
    if os.name == "posix":
        os.umask(0o077)

    from cardagent.__main__ import serve
    from cardagent.settings import load_settings

    serve(load_settings(), step_hook=pause_hook(args.pause_at, args.marker))
    return 0


if __name__ == "__main__":
    sys.exit(main())
