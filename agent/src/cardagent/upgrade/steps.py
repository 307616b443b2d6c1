"""The steps of a job in order, the progress each one stands for, and the step list the API
shows (names only: the PIN page's template titles them, templates/pin_texts.html)."""

from __future__ import annotations

from typing import Any

from cardagent.upgrade.job import JobStatus

STEPS: tuple[str, ...] = (
    "check_card",
    "login",
    "generate_keys",
    "enroll",
    "write_certificates",
    "verify",
    "remove_old",
)
STEP_INDEX = {name: i for i, name in enumerate(STEPS)}

# step -> (progress at its start, progress per item done in it: key, certificate, object)
PROGRESS: dict[str, tuple[int, int]] = {
    "check_card": (2, 0),
    "login": (8, 0),
    "generate_keys": (12, 5),
    "enroll": (32, 8),
    "write_certificates": (64, 5),
    "verify": (85, 0),
    "remove_old": (88, 2),
}


def progress(step: str, index: int = 0) -> int:
    """Percent done when item ``index`` (1, 2, ...; 0 = the step as a whole) of ``step`` starts."""
    base, per = PROGRESS[step]
    return base + per * max(index - 1, 0)


def checkpoint_label(step: str, index: int = 0) -> str:
    """The name of a checkpoint as a step hook sees it: ``generate_keys:3``, ``verify``."""
    return f"{step}:{index}" if index else step


def step_list(status: JobStatus, step: str | None) -> list[dict[str, Any]]:
    """Every step with ``pending``, ``running``, ``done`` or ``failed``."""
    current = STEP_INDEX.get(step or "", -1)
    out = []
    for i, name in enumerate(STEPS):
        if status == JobStatus.SUCCEEDED or i < current:
            s = "done"
        elif i == current and status == JobStatus.RUNNING:
            s = "running"
        elif i == current and status in (JobStatus.FAILED, JobStatus.ROLLED_BACK):
            s = "failed"
        else:
            s = "pending"
        out.append({"name": name, "status": s})
    return out
