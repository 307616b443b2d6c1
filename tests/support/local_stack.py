"""Start the real bot locally for tests and benchmarks: Rasa with the trained
model and the action server, on free loopback ports, with a private SQLite
tracker store and a debug log file that callers can inspect.

Also, for the scale-out and fault tests: per-test endpoints files
(:func:`write_endpoints`), a throwaway PostgreSQL cluster and Redis server on
loopback (:func:`postgres_server`, :func:`redis_server`), and stopping or
restarting one process of a running stack (:class:`BotServer` methods)."""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, Iterator, List, Mapping, Optional

import httpx
import yaml

from bot.site_config import ENV_VAR, SiteDates

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "current.tar.gz"
VENV_BIN = Path(sys.executable).parent

#: The site overrides (environment for Rasa and the action server, bot.site_config) a test
#: stack starts with by default: a last upgrade day far ahead, so the upgrade conversations
#: still offer the upgrade whatever today's date is. ``site=NO_SITE_OVERRIDES`` starts on
#: site.yml's own dates (the FAQ's: no upgrade after 31 december 2020).
TEST_SITE: Mapping[str, str] = MappingProxyType({"SITE_UPGRADE_LAST_DAY": "2099-12-31"})
NO_SITE_OVERRIDES: Mapping[str, str] = MappingProxyType({})
#: What a developer's shell may carry that would change the site under a test: the date
#: overrides and the production switch. The stacks drop them and set only ``site``.
SITE_ENV_VARS = (*SiteDates.env_names().values(), ENV_VAR)


def site_env(site: Mapping[str, str] = TEST_SITE) -> Dict[str, str]:
    """This process's environment without any site override of the developer's, plus ``site``."""
    env = {k: v for k, v in os.environ.items() if k not in SITE_ENV_VARS}
    return {**env, **site}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited early; see {log}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {timeout} s; see {log}")


class Managed:
    """One child process that can be stopped and started again with the same
    command, environment and log file (appended to on restart)."""

    def __init__(self, argv: List[str], env: Dict[str, str], log: Path, health: str,
                 timeout: float) -> None:
        self.argv, self.env, self.log, self.health, self.timeout = argv, env, log, health, timeout
        self.proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(  # noqa: S603
                self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        assert self.proc is not None
        wait_for(self.health, self.proc, self.timeout, self.log)

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def stop(self, *, kill: bool = False, timeout: float = 20) -> None:
        """SIGTERM (or SIGKILL with ``kill=True``) and wait for the exit."""
        if not self.running:
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)


@dataclass
class BotServer:
    url: str
    api_token: str
    tracker_db: Path
    log_file: Path
    stdout_file: Path
    pid: int = 0
    action_pid: int = 0
    action_url: str = ""
    action_token: str = ""
    session_secret: str = ""
    rasa: Optional[Managed] = field(default=None, repr=False)
    actions: Optional[Managed] = field(default=None, repr=False)

    def chat(self, sender: str, message: str) -> List[Dict[str, Any]]:
        reply = httpx.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=30,
        )
        reply.raise_for_status()
        return reply.json()

    def parse(self, text: str) -> Dict[str, Any]:
        reply = httpx.post(
            f"{self.url}/model/parse",
            params={"token": self.api_token},
            json={"text": text},
            timeout=30,
        )
        reply.raise_for_status()
        return reply.json()

    def tracker(self, sender: str) -> Dict[str, Any]:
        """The stored conversation (Rasa's HTTP API, all events) of a REST
        sender or of a socket.io session id (its conversation, ``sio-<random>``)."""
        if re.fullmatch(r"[0-9a-f]{32}\.[0-9a-f]{32}", sender):
            sender = "sio-" + sender.split(".")[0]
        reply = httpx.get(
            f"{self.url}/conversations/{sender}/tracker",
            params={"token": self.api_token, "include_events": "ALL"},
            timeout=30,
        )
        reply.raise_for_status()
        return reply.json()

    # --- one process at a time (fault tests) ---
    def stop_rasa(self, *, kill: bool = False) -> None:
        assert self.rasa is not None
        self.rasa.stop(kill=kill)

    def start_rasa(self) -> None:
        assert self.rasa is not None
        self.rasa.start()
        self.pid = self.rasa.pid

    def restart_rasa(self, *, kill: bool = False) -> None:
        self.stop_rasa(kill=kill)
        self.start_rasa()

    def stop_actions(self, *, kill: bool = False) -> None:
        assert self.actions is not None
        self.actions.stop(kill=kill)

    def start_actions(self) -> None:
        assert self.actions is not None
        self.actions.start()
        self.action_pid = self.actions.pid


def write_endpoints(
    path: Path,
    *,
    tracker_store: Optional[Dict[str, Any]] = None,
    lock_store: Optional[Dict[str, Any]] = None,
) -> Path:
    """The project's endpoints.yml with the tracker store and/or lock store
    replaced (e.g. PostgreSQL and Redis), written to ``path``."""
    config = yaml.safe_load((REPO / "endpoints.yml").read_text()) or {}
    if tracker_store is not None:
        config["tracker_store"] = tracker_store
    if lock_store is not None:
        config["lock_store"] = lock_store
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextmanager
def bot_stack(
    tmp: Path,
    *,
    debug: bool = True,
    endpoints: Optional[Path] = None,
    extra_env: Optional[Dict[str, str]] = None,
    rasa_port: Optional[int] = None,
    action_port: Optional[int] = None,
    with_actions: bool = True,
    cors: Optional[List[str]] = None,
    site: Mapping[str, str] = TEST_SITE,
) -> Iterator[BotServer]:
    """Rasa + action server running until the block ends.

    ``endpoints``: another endpoints file (default: the project's, with a
    private SQLite store in ``tmp``); ``extra_env``: more environment for both
    processes; ``with_actions=False`` starts Rasa alone (its action endpoint
    then points at a closed port); ``cors``: origins allowed to call Rasa from a
    browser (the widget's page: ``BOT_ALLOWED_ORIGINS``, Rasa's CORS and the
    channels' Origin check); ``site``: the site overrides for both processes
    (default :data:`TEST_SITE`; :data:`NO_SITE_OVERRIDES` for site.yml's own dates;
    ``SITHS_ENV`` too). Both processes start in parallel; no secret is on
    a command line (``BotServer.action_token`` is the action server's)."""
    if not MODEL.exists():
        raise RuntimeError("no trained model: run `make train`")
    rasa_port, action_port = rasa_port or free_port(), action_port or free_port()
    token = secrets.token_hex(16)
    # Secrets go through the environment, never the command line (bot/serve.py,
    # actions/server.py); the widget's origins are the one CORS/Origin setting.
    env = {
        **site_env(site),
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "RASA_TRACKER_DB": str(tmp / "tracker.db"),
        "RASA_TELEMETRY_ENABLED": "false",
        "SANIC_HOST": "127.0.0.1",
        "RASA_API_TOKEN": token,
        "ACTION_SERVER_TOKEN": secrets.token_hex(16),
        "BOT_SESSION_SECRET": secrets.token_hex(32),
        **({"BOT_ALLOWED_ORIGINS": " ".join(cors)} if cors else {}),
        **(extra_env or {}),
    }
    for name in ("RASA_API_TOKEN_FILE", "ACTION_SERVER_TOKEN_FILE", "BOT_SESSION_SECRET_FILE"):
        env.pop(name, None)
    actions_log = tmp / "actions.log"
    rasa_log, rasa_out = tmp / "rasa.log", tmp / "rasa.out"
    for f in (actions_log, rasa_out):
        f.write_text("")
    python = str(VENV_BIN / "python")
    actions = Managed(
        [python, "-m", "actions.server", "--port", str(action_port), "--actions", "actions"],
        env, actions_log, f"http://127.0.0.1:{action_port}/health", 60,
    )
    rasa = Managed(
        [python, "-m", "bot.serve", "--interface", "127.0.0.1", "--port", str(rasa_port),
         "--model", str(MODEL), "--credentials", "credentials.yml",
         "--endpoints", str(endpoints or "endpoints.yml"),
         *(["--debug"] if debug else []), "--log-file", str(rasa_log)],
        env, rasa_out, f"http://127.0.0.1:{rasa_port}/", 180,
    )
    try:
        if with_actions:
            actions.spawn()
        rasa.spawn()
        if with_actions:
            actions.wait_ready()
        rasa.wait_ready()
        yield BotServer(
            url=f"http://127.0.0.1:{rasa_port}", api_token=token,
            tracker_db=tmp / "tracker.db", log_file=rasa_log, stdout_file=rasa_out,
            pid=rasa.pid, action_pid=actions.pid, rasa=rasa, actions=actions,
            action_url=f"http://127.0.0.1:{action_port}", action_token=env["ACTION_SERVER_TOKEN"],
            session_secret=env["BOT_SESSION_SECRET"],
        )
    finally:
        for proc in (rasa, actions):
            if proc.running:
                proc.proc.terminate()
        for proc in (rasa, actions):
            proc.stop()


# --- Region-scale parts for tests: PostgreSQL and Redis on loopback ---

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class PgServer:
    host: str
    port: int
    user: str
    db: str
    data_dir: Path

    def tracker_store(self) -> Dict[str, Any]:
        """The endpoints.yml ``tracker_store`` section for this database."""
        return {"type": "SQL", "dialect": "postgresql", "url": self.host, "port": self.port,
                "db": self.db, "username": self.user, "password": ""}

    def query(self, sql: str, *args: Any) -> List[tuple]:
        import psycopg2

        with psycopg2.connect(host=self.host, port=self.port, user=self.user,
                              dbname=self.db) as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []


def _pg_bin() -> Path:
    if (PG_BIN / "initdb").exists():
        return PG_BIN
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (deps/apt-scale.txt: postgresql)")
    return found[-1].parent


@contextmanager
def postgres_server(db: str = "rasa") -> Iterator[PgServer]:
    """A private PostgreSQL cluster in a temp dir on a free loopback port
    (trust auth, loopback only), with database ``db``; removed afterwards.
    As root, the cluster runs as the ``postgres`` system user."""
    bindir = _pg_bin()
    data = Path(tempfile.mkdtemp(prefix="siths-pg-"))
    as_user: List[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    log = data / "server.log"

    def run(*argv: str) -> None:
        subprocess.run([*as_user, *argv], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    try:
        run(str(bindir / "initdb"), "-D", str(data / "pgdata"), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        run(str(bindir / "pg_ctl"), "-D", str(data / "pgdata"), "-l", str(log), "-w",
            "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=on",
            "start")
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", db)
        yield PgServer("127.0.0.1", port, "postgres", db, data)
    finally:
        if (data / "pgdata" / "postmaster.pid").exists():
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data / "pgdata"),
                            "-m", "fast", "-w", "stop"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class RedisServer:
    host: str
    port: int
    pid: int

    def lock_store(self, db: int = 1, *, atomic: bool = True) -> Dict[str, Any]:
        """The endpoints.yml ``lock_store`` section for this server: the
        project's multi-server-safe lock store (bot.lock_store), or with
        ``atomic=False`` Rasa's own ``redis`` type."""
        kind = "bot.lock_store.AtomicRedisLockStore" if atomic else "redis"
        return {"type": kind, "url": self.host, "port": self.port, "db": db}


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server on a free loopback port, no persistence."""
    exe = shutil.which("redis-server")
    if not exe:
        raise RuntimeError("redis-server is not installed (deps/apt-scale.txt: redis-server)")
    work = Path(tempfile.mkdtemp(prefix="siths-redis-"))
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(work), "--protected-mode", "yes"],
        stdout=(work / "redis.log").open("w"), stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (work / "redis.log").read_text()
                raise RuntimeError(f"redis-server did not start: {log}")
            time.sleep(0.2)
        yield RedisServer("127.0.0.1", port, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
