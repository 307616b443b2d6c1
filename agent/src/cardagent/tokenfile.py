"""The agent's bearer token: ``CARDAGENT_TOKEN`` or ``<data_dir>/token`` (mode 0600).

Local clients (the action server) are given the token or the file's path
(``python -m cardagent --print-token-file``) and check the file the same way
(``actions/agent_client.py``).

Whoever knows the token can act on the card, and whoever can plant the token file can
impersonate the agent (the token also keys the agent's proof of identity, ``GET /v1/proof``).
So the file is handled defensively:

* it is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600 in one call: never
  written through a pre-planted symlink, never into a file someone else created first (if the
  file appears between our check and our ``open``, ``O_EXCL`` fails and the file that won the
  race is read with the checks below, like any existing file);
* an existing file is used only if it is a regular file (not a symlink), owned by the current
  user and not readable or writable by group/others; otherwise :class:`TokenFileError` says
  what is wrong and what to do (the agent prints it on stderr and does not start);
* the data folder is created 0700 and tightened to 0700 if it is ours; a data folder that is a
  symlink or belongs to another user is refused.

POSIX only for the owner/mode checks: on Windows there is no ``os.getuid``/``O_NOFOLLOW`` and
mode bits mean little (``os.chmod`` only sets the read-only flag). There the file is protected
by where it lives: the default data folder is ``%LOCALAPPDATA%\\cardagent`` (platformdirs), inside
the user's own profile, whose ACL (the user, SYSTEM, Administrators) every file created below it
inherits. No explicit ACL is set: the standard library has no ACL API and no small, well-kept
library for it was found. On Windows the checks are therefore: the data folder and the token file
are no symlink or junction (name-surrogate reparse point), the file is a regular file and not
empty. A ``CARDAGENT_DATA_DIR`` outside the user's profile must get a user-only ACL
from whoever sets it (docs/cardagent-windows.md). Not run on Windows.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

TOKEN_BYTES = 32

_POSIX = os.name == "posix" and hasattr(os, "getuid")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


# IsReparseTagNameSurrogate (Windows ntifs.h): the reparse point names another entry
# (symlink, junction, mount point), unlike tags that only store the file's data elsewhere
# (cloud placeholders, deduplication), which must not stop the agent.
_NAME_SURROGATE = 0x20000000


def _is_link(st: os.stat_result) -> bool:
    """A symlink, or on Windows a junction or other name-surrogate reparse point (lstat)."""
    if stat.S_ISLNK(st.st_mode):
        return True
    attrs = getattr(st, "st_file_attributes", 0)  # these two exist on Windows only
    tag = getattr(st, "st_reparse_tag", 0)
    return bool(attrs & stat.FILE_ATTRIBUTE_REPARSE_POINT) and bool(tag & _NAME_SURROGATE)


class TokenFileError(Exception):
    """The token file or data folder is unsafe; the message says what to do (sv + en)."""


def _refuse(path: Path, sv: str, en: str) -> TokenFileError:
    return TokenFileError(
        f"Kortprogrammet startar inte: {path}: {sv} / The card agent will not start: {path}: {en}"
    )


def ensure_private_dir(folder: Path) -> None:
    """Create ``folder`` 0700, or check an existing one: a real folder, ours, then 0700."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(folder)
    if _is_link(st) or not stat.S_ISDIR(st.st_mode):
        raise _refuse(
            folder,
            "datamappen är en symbolisk länk eller ingen mapp. Ta bort den.",
            "the data folder is a symlink or not a folder. Remove it.",
        )
    if not _POSIX:
        return
    if st.st_uid != os.getuid():
        raise _refuse(
            folder,
            "datamappen ägs av en annan användare. Använd en egen datamapp (CARDAGENT_DATA_DIR).",
            "the data folder belongs to another user. Use your own (CARDAGENT_DATA_DIR).",
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(folder, 0o700)


def check_token_file(path: Path, st: os.stat_result) -> None:
    """Raise :class:`TokenFileError` unless ``st`` (an ``lstat``) is a safe token file."""
    if _is_link(st) or not stat.S_ISREG(st.st_mode):
        raise _refuse(
            path,
            "tokenfilen är en symbolisk länk eller ingen vanlig fil. Ta bort den; "
            "en ny skapas vid nästa start.",
            "the token file is a symlink or not a regular file. Delete it; "
            "a new one is created at the next start.",
        )
    if not _POSIX:
        return
    if st.st_uid != os.getuid():
        raise _refuse(
            path,
            "tokenfilen ägs av en annan användare. Ta bort den; en ny skapas vid nästa start.",
            "the token file belongs to another user. Delete it; a new one is created "
            "at the next start.",
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise _refuse(
            path,
            "tokenfilen kan läsas eller ändras av andra. Ta bort den; en ny skapas vid nästa "
            "start (den gamla kan ha lästs av någon annan).",
            "the token file is readable or writable by others. Delete it; a new one is "
            "created at the next start (the old one may have been read).",
        )


def _read_checked(path: Path) -> str:
    """Read the token file after checking it; the checks are redone on the open descriptor."""
    check_token_file(path, os.lstat(path))  # FileNotFoundError if absent
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise _refuse(path, "tokenfilen kan inte läsas.", "cannot read the token file.") from exc
    with os.fdopen(fd, "r", encoding="utf-8") as fh:
        check_token_file(path, os.fstat(fh.fileno()))  # the file we opened, not a swapped one
        return fh.read().strip()


def load_or_create_token(token_file: Path, env_token: str | None = None) -> str:
    """Return the configured token, creating ``token_file`` (0600) at first start.

    Raises :class:`TokenFileError` if the folder or an existing file is unsafe.
    """
    if env_token:
        return env_token
    ensure_private_dir(token_file.parent)
    try:
        existing = _read_checked(token_file)
        if existing:
            return existing
        raise _refuse(
            token_file,
            "tokenfilen är tom. Ta bort den; en ny skapas vid nästa start.",
            "the token file is empty. Delete it; a new one is created at the next start.",
        )
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(TOKEN_BYTES)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(token_file, flags, 0o600)
    except FileExistsError:
        # Created between our check and our open (another agent/client, or someone else):
        # never write into it; use it only if it passes the same checks.
        existing = _read_checked(token_file)
        if not existing:
            raise _refuse(token_file, "tokenfilen är tom.", "the token file is empty.") from None
        return existing
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        if _POSIX:
            os.fchmod(fh.fileno(), 0o600)  # whatever the umask
        fh.write(token + "\n")
    return token
