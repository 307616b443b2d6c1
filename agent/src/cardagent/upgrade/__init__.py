"""Upgrade jobs: old SITHS pair -> SITHS e-id HSA-id pair + personnummer pair, on the card.

The parts, one job each:

* ``job.py``       the job as a typed record (:class:`JobStatus`, :class:`JobState`);
* ``jobstore.py``  jobs in the agent's database, and the transitions that end a run;
* ``plan.py``      the key and certificate plan, as pure functions (what is old, what is
                   ours, what to make, what a rollback deletes);
* ``procedure.py`` the card work: build, verify, remove the old pair, roll back;
* ``pins.py``      PIN policy: counters first, the final try only when confirmed;
* ``runner.py``    threads, one run per card, card pulled out, failures, restart recovery;
* ``manager.py``   start, view and submit (the API and the PIN page);
* ``steps.py``     the steps in order and their progress.

No Swedish here: the API gives codes and facts; the PIN page's words are in its templates.

The PIN page itself (tokens, page sessions, Jinja2 templates) is in cardagent/pages/.
"""

from cardagent.service import card_key_of
from cardagent.upgrade.errors import JobNotFound, UpgradeRefused
from cardagent.upgrade.job import ACTIVE, FINAL, Job, JobState, JobStatus
from cardagent.upgrade.manager import UpgradeManager
from cardagent.upgrade.runner import StepHook

__all__ = [
    "ACTIVE",
    "FINAL",
    "Job",
    "JobNotFound",
    "JobState",
    "JobStatus",
    "StepHook",
    "UpgradeManager",
    "UpgradeRefused",
    "card_key_of",
]
