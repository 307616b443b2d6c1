"""`rasa data validate` on the training data, domain and config."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain

from tests.support.local_stack import REPO

pytestmark = pytest.mark.stack  # runs `rasa data validate` (about 10 s)


def sent_by_actions() -> set:
    """Responses that custom actions, forms and the bot's own code send (rasa cannot see
    them in rules): named in full, or a family named by its prefix in an f-string
    (``f"utter_card_pin_blocked_{key}"``: every response that starts so)."""
    files = [*(REPO / "actions").glob("*.py"), *(REPO / "bot").glob("*.py")]
    code = "\n".join(p.read_text() for p in files)
    domain = Domain.load(str(REPO / "domain.yml"))
    questions = {f"utter_ask_{slot}" for form in domain.forms.values()
                 for slot in form["required_slots"]}
    families = set(re.findall(r'f"(utter_\w+?_)\{', code))
    by_family = {r for r in domain.responses for prefix in families if r.startswith(prefix)}
    return set(re.findall(r'"(utter_\w+)"', code)) | questions | by_family


def test_rasa_data_validate_is_clean():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "data", "validate"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    unused = set(re.findall(r"The utterance '(\w+)' is not used in any story or rule", output))
    assert unused <= sent_by_actions(), unused - sent_by_actions()
    problems = [
        line for line in output.splitlines()
        if "UserWarning" in line and "is not used in any story or rule" not in line
        # reminders', the widget relay's, the length cap's and the widget's feedback
        # buttons' intents have no user examples (they are sent as payloads only)
        and "'EXTERNAL_" not in line and "'cardagent_result'" not in line
        and "'message_too_long'" not in line and "'feedback_helpful'" not in line
        and "'feedback_not_helpful'" not in line
    ]
    assert not problems, problems
    assert "No story structure conflicts found" in output
