"""The agent's bearer token: ``CARDAGENT_TOKEN`` or ``<data_dir>/token`` (mode 0600).

The Rasa action server (and any other local client) reads it with :func:`read_token`,
the same way the agent does, so both sides agree without extra configuration.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

TOKEN_BYTES = 32


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def load_or_create_token(token_file: Path, env_token: str | None = None) -> str:
    """Return the configured token, creating ``token_file`` (0600) at first start."""
    if env_token:
        return env_token
    try:
        existing = token_file.read_text(encoding="utf-8").strip()
        if existing:
            _tighten(token_file)
            return existing
    except FileNotFoundError:
        pass
    token_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    tmp = token_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, token_file)
    return token


def _tighten(path: Path) -> None:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def read_token(environ: Mapping[str, str] | None = None) -> str | None:
    """How clients find the token: ``CARDAGENT_TOKEN``, else the token file in the data dir."""
    from cardagent.config import load_settings

    env = _env(environ)
    if env.get("CARDAGENT_TOKEN"):
        return env["CARDAGENT_TOKEN"]
    settings = load_settings(env)
    try:
        return settings.token_file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
