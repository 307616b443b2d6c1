"""Issue 10, the card agent's own doors, attacked the way a local attacker would.

* token file: a planted symlink, a world-readable or foreign-owned file, a file slipped in
  between the agent's check and its open;
* proof of identity: a squatter on a loopback port (garbage proofs, or proofs it relays from the
  real agent) never receives the bearer token;
* card safety: a PKCS#11 object whose modulus cannot be read is never deleted;
* the outbox: a 4xx from the order system is terminal, backoff never overflows, no row starves.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cardagent import tokenfile
from cardagent.tokenfile import load_or_create_token, read_token
from tests.cardagent.conftest import free_port

# getattr: the same file also runs against the code before issue 10 (to show it fails there)
TokenFileError = getattr(tokenfile, "TokenFileError", OSError)

REPO = Path(__file__).resolve().parents[2]
ATTACKER_TOKEN = "attacker-knows-this-token-0123456789"

# --- the token file ------------------------------------------------------------------------


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture()
def attacker_file(tmp_path: Path) -> Path:
    """A file the attacker owns and can read (world-writable, as in /tmp)."""
    f = tmp_path / "attacker"
    f.write_text(ATTACKER_TOKEN + "\n")
    os.chmod(f, 0o666)
    return f


def test_planted_symlink_token_is_refused(data_dir: Path, attacker_file: Path) -> None:
    """The attacker plants data_dir/token -> a file with a token they know."""
    (data_dir / "token").symlink_to(attacker_file)
    with pytest.raises(TokenFileError, match="symbolisk länk"):
        load_or_create_token(data_dir / "token")
    # the client side (action server) does not take it either
    assert read_token({"CARDAGENT_DATA_DIR": str(data_dir)}) is None
    assert attacker_file.read_text() == ATTACKER_TOKEN + "\n"


def test_dangling_symlink_is_not_written_through(data_dir: Path, tmp_path: Path) -> None:
    drop = tmp_path / "attacker-drop"
    (data_dir / "token").symlink_to(drop)
    with pytest.raises(TokenFileError):
        load_or_create_token(data_dir / "token")
    assert not drop.exists()


def test_planted_tmp_symlink_never_receives_the_token(data_dir: Path, attacker_file: Path) -> None:
    """Old code wrote the new token to token.tmp (O_TRUNC, follows symlinks) first."""
    (data_dir / "token.tmp").symlink_to(attacker_file)
    token = load_or_create_token(data_dir / "token")
    assert token not in attacker_file.read_text()
    st = os.lstat(data_dir / "token")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_token_file_readable_by_others_is_refused(data_dir: Path, mode: int) -> None:
    f = data_dir / "token"
    token = load_or_create_token(f)
    os.chmod(f, mode)
    with pytest.raises(TokenFileError, match="andra"):
        load_or_create_token(f)
    assert read_token({"CARDAGENT_DATA_DIR": str(data_dir)}) is None
    os.chmod(f, 0o600)
    assert load_or_create_token(f) == token


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_token_file_owned_by_another_user_is_refused(data_dir: Path) -> None:
    f = data_dir / "token"
    f.write_text(ATTACKER_TOKEN + "\n")
    os.chmod(f, 0o600)
    os.chown(f, 65534, 65534)  # nobody planted it
    with pytest.raises(TokenFileError, match="annan användare"):
        load_or_create_token(f)


def test_file_slipped_in_between_check_and_open(
    data_dir: Path, attacker_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attacker wins the race: whatever path the agent is about to create appears as a
    symlink to the attacker's file just before the agent's open(O_CREAT)."""
    real_open = os.open

    def racing_open(path, flags, *args, **kwargs):  # noqa: ANN001, ANN202
        if flags & os.O_CREAT and not os.path.lexists(path):
            os.symlink(attacker_file, path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(tokenfile.os, "open", racing_open)
    with pytest.raises(TokenFileError):
        load_or_create_token(data_dir / "token")
    monkeypatch.undo()
    assert attacker_file.read_text() == ATTACKER_TOKEN + "\n"  # nothing written through


def test_benign_race_uses_the_file_that_won(data_dir: Path, monkeypatch) -> None:
    """Two processes start at once: the loser reads the winner's (safe) file."""
    real_open = os.open
    winner = "winner-token-" + "x" * 30

    def racing_open(path, flags, *args, **kwargs):  # noqa: ANN001, ANN202
        if flags & os.O_CREAT and not os.path.lexists(path):
            fd = real_open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, (winner + "\n").encode())
            os.close(fd)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(tokenfile.os, "open", racing_open)
    assert load_or_create_token(data_dir / "token") == winner


def test_data_folder_is_made_private(tmp_path: Path) -> None:
    d = tmp_path / "open-data"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    load_or_create_token(d / "token")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    fresh = tmp_path / "new" / "data"
    load_or_create_token(fresh / "token")
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o700


def test_data_folder_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "attacker-dir"
    target.mkdir()
    (tmp_path / "data").symlink_to(target)
    with pytest.raises(TokenFileError):
        load_or_create_token(tmp_path / "data" / "token")
    assert not (target / "token").exists()


def test_agent_refuses_to_start_with_a_planted_token(data_dir: Path, attacker_file: Path) -> None:
    """Start the real agent process: a clear error on stderr (sv + en), exit code 2."""
    (data_dir / "token").symlink_to(attacker_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDAGENT_")}
    env.update(
        CARDAGENT_DATA_DIR=str(data_dir), CARDAGENT_PORT=str(free_port()), PYTHONPATH=str(REPO)
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cardagent"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the agent started with a planted token file")
    assert proc.returncode == 2, proc.stderr
    assert "Kortagenten startar inte" in proc.stderr and "symlink" in proc.stderr
    assert "Traceback" not in proc.stderr
