"""The triage page's settings, declared once (pydantic ``BaseSettings``, environment
prefix ``TRIAGE_``); secrets come from the environment or a 0600 file
(:func:`bot.doors.load_secret`), never from a command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from pydantic import BaseSettings, validator

from bot.doors import LOOPBACK_HOSTS, is_loopback, load_secret

MIN_TOKEN_CHARS = 20


def _default_tracker_db() -> str:
    path = Path(os.environ.get("RASA_TRACKER_DB") or Path("var") / "rasa" / "tracker.db")
    # Read-only: the page never writes, and must not create an empty store.
    return f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"


class TriageWebSettings(BaseSettings):
    #: Loopback by default; any other address needs ``TRIAGE_ALLOW_REMOTE=1`` (behind the
    #: region's sign-in proxy, docs/triage.md).
    host: str = "127.0.0.1"
    port: int = 5080
    allow_remote: bool = False
    #: The running bot, whose ``/model/parse`` understands what the caller says.
    bot_url: str = f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}"
    #: The conversation store (SQLAlchemy URL): the bot's SQLite file or PostgreSQL.
    tracker_db_url: str = ""
    #: Where each reference lookup is written (who, when, which reference, found or not).
    audit_log: Path = Path(os.environ.get("DATA_DIR", "var")) / "logs" / "triage-audit.log"
    #: How long a sign-in lasts (seconds).
    session_seconds: int = 8 * 3600
    #: Host names the page answers to besides the loopback names (DNS rebinding), and,
    #: behind the region's sign-in proxy, the page's public origin (``https://...``): the
    #: origin forms must come from, and the cookie is then ``Secure``.
    allowed_hosts: str = ""
    public_origin: str = ""

    class Config:
        env_prefix = "TRIAGE_"

    @validator("tracker_db_url", always=True)
    def _tracker_db(cls, value: str) -> str:  # noqa: N805 - pydantic validator
        return value or _default_tracker_db()

    @validator("allow_remote", always=True)
    def _loopback_unless_allowed(cls, value: bool, values: dict) -> bool:  # noqa: N805
        host = values.get("host", "127.0.0.1")
        if not value and not is_loopback(host):
            raise ValueError(f"TRIAGE_HOST={host} is not a loopback address: the triage page "
                             "shows conversations; set TRIAGE_ALLOW_REMOTE=1 only behind "
                             "the region's sign-in")
        return value

    @validator("public_origin", always=True)
    def _origin_when_remote(cls, value: str, values: dict) -> str:  # noqa: N805
        if values.get("allow_remote") and not value.startswith("https://"):
            raise ValueError("TRIAGE_ALLOW_REMOTE needs TRIAGE_PUBLIC_ORIGIN=https://... "
                             "(the page's address behind the region's sign-in)")
        return value.rstrip("/")

    def hosts(self) -> set:
        """Host names (no port) the page answers to."""
        names = set(LOOPBACK_HOSTS)
        names |= {h.lower() for h in self.allowed_hosts.replace(",", " ").split()}
        if self.public_origin:
            names.add(self.public_origin.split("://", 1)[1].split(":")[0].lower())
        return names

    def token(self) -> str:
        """The agents' token (``TRIAGE_TOKEN`` or ``TRIAGE_TOKEN_FILE``), at least
        :data:`MIN_TOKEN_CHARS` characters."""
        token = load_secret("TRIAGE_TOKEN")
        if not token:
            raise RuntimeError("TRIAGE_TOKEN or TRIAGE_TOKEN_FILE must be set")
        if len(token) < MIN_TOKEN_CHARS:
            raise RuntimeError(f"TRIAGE_TOKEN is too short: at least {MIN_TOKEN_CHARS} "
                               "characters (make run creates one of 64)")
        return token

    def rasa_api_token(self) -> Optional[str]:
        return load_secret("RASA_API_TOKEN")


