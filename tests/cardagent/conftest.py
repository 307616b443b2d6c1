"""Session fixtures: the real card stack in temp dirs.

* pcscd with vsmartcard-vpcd (reused if one already runs, e.g. from `make demo-card`;
  otherwise started here and stopped at the end);
* SoftHSM2 tokens for every fixture card (devtools.cards.PROFILES), two per card,
  certificates from the TEST PKI;
* the card emulator in reader "Virtual PCD 00 01" (port 35964) - the demo card uses
  "Virtual PCD 00 00", so a running demo does not disturb the tests;
* the agent app, configured to look only at the test reader.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cardagent import pcsc
from cardagent.api import create_app
from cardagent.settings import ProbeSettings, Settings
from devtools.cards import PROFILES
from devtools.emulator import TEST_APPLET_AID, VirtualCard
from devtools.pcscd import pcscd_running, start_pcscd
from devtools.pki import TestPKI
from devtools.softhsm import SOFTHSM2_MODULE, ProvisionedCard, provision_card, write_softhsm_conf

TEST_PORT = 35964
TEST_READER = "Virtual PCD 00 01"
TEST_TOKEN = "test-token-0123456789abcdef"
ALLOWED_ORIGIN = "https://chat.example.test"
BASE_URL = "http://127.0.0.1:8765"
# The raw identifiers on the fixture cards: these must never appear in any output.
SECRET_NUMBERS = sorted({p.personnummer for p in PROFILES.values()})


def forbidden_forms(pnr: str) -> list[str]:
    """Every way a full personnummer could leak: 12 digits, 10 digits, with a hyphen."""
    return [pnr, pnr[2:], f"{pnr[:8]}-{pnr[8:]}", f"{pnr[2:8]}-{pnr[8:]}"]


def assert_no_personnummer(text: str) -> None:
    for pnr in SECRET_NUMBERS:
        for form in forbidden_forms(pnr):
            assert form not in text, f"unmasked personnummer {form[:8]}... in output"


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cardstack")


@pytest.fixture(scope="session")
def pcscd_service(stack_dir: Path) -> Iterator[None]:
    if pcscd_running():
        yield  # reuse (e.g. started by make demo-card); not ours to stop
        return
    proc = start_pcscd(log_file=stack_dir / "pcscd.log")
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def softhsm_conf(stack_dir: Path) -> Path:
    return write_softhsm_conf(stack_dir / "softhsm")


@pytest.fixture(scope="session")
def test_pki(stack_dir: Path) -> TestPKI:
    return TestPKI(stack_dir / "pki")


@pytest.fixture(scope="session")
def fixture_cards(softhsm_conf: Path, test_pki: TestPKI) -> dict[str, ProvisionedCard]:
    now = dt.datetime.now(dt.UTC)
    return {
        name: provision_card(softhsm_conf, test_pki, p, now=now) for name, p in PROFILES.items()
    }


@pytest.fixture(scope="session")
def agent_settings(stack_dir: Path, softhsm_conf: Path, fixture_cards: dict) -> Settings:
    return Settings(
        data_dir=stack_dir / "agent-data",
        pkcs11_module=SOFTHSM2_MODULE,
        softhsm2_conf=str(softhsm_conf),
        token=TEST_TOKEN,
        allowed_origins=(ALLOWED_ORIGIN,),
        reader_filter=TEST_READER,
        probe=ProbeSettings(enabled=True, aid=TEST_APPLET_AID),
    )


def in_process_peer(scope) -> bool:  # noqa: ANN001
    """Peer check for in-process TestClient apps: their caller is this test process (the
    agent's own user); there is no TCP connection for the real check to inspect."""
    return scope.get("client", ("",))[0] == "testclient"


@pytest.fixture(scope="session")
def app(agent_settings: Settings, pcscd_service: None):  # noqa: ANN201
    return create_app(agent_settings, peer_check=in_process_peer)


@pytest.fixture()
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app, base_url=BASE_URL, headers={"Authorization": f"Bearer {TEST_TOKEN}"}) as c:
        yield c


@pytest.fixture(scope="session")
def test_reader(pcscd_service: None) -> Iterator[VirtualCard]:
    card = VirtualCard(
        {"atr": "3B 00", "card_serial": "", "tokens": [], "pins": {}}, port=TEST_PORT
    )
    yield card
    card.remove()


class CardSlot:
    """Puts fixture cards in the test reader and waits until PC/SC has seen the change."""

    def __init__(self, reader: VirtualCard, cards: dict[str, ProvisionedCard]) -> None:
        self.reader = reader
        self.cards = cards

    def insert(self, name: str, **overrides: object) -> VirtualCard:
        self.remove()
        data = copy.deepcopy(self.cards[name].emulator_card())
        data.update(overrides)
        self.reader.load(data)
        self.reader.insert()
        assert pcsc.wait_for_change(TEST_READER, True, timeout_s=5), (
            "emulated card not seen by pcscd"
        )
        return self.reader

    def remove(self) -> None:
        was_in = self.reader._thread is not None
        self.reader.remove()
        self.reader.remove_after_apdus = None
        if was_in:
            assert pcsc.wait_for_change(TEST_READER, False, timeout_s=5), "card removal not seen"


@pytest.fixture()
def card_slot(test_reader: VirtualCard, fixture_cards: dict) -> Iterator[CardSlot]:
    slot = CardSlot(test_reader, fixture_cards)
    yield slot
    slot.remove()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def agent_env(stack_dir: Path, softhsm_conf: Path, tmp_path: Path) -> Callable[..., dict[str, str]]:
    """Environment for `python -m cardagent` subprocesses on the test stack."""

    def make(**extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARDAGENT_")}
        env.update(
            CARDAGENT_DATA_DIR=str(tmp_path / "data"),
            CARDAGENT_PKCS11_MODULE=SOFTHSM2_MODULE,
            CARDAGENT_SOFTHSM2_CONF=str(softhsm_conf),
            CARDAGENT_PCSC_PROBE="1",
            CARDAGENT_PCSC_PROBE_AID=TEST_APPLET_AID,
            CARDAGENT_READER_FILTER=TEST_READER,
            CARDAGENT_PORT=str(free_port()),
        )
        env.update(extra)
        return env

    return make


# --- write side (issue 4): EST test CA, order receiver, fresh cards ----------------------------

from devtools.est_ca import EstTestCA  # noqa: E402
from devtools.order_receiver import OrderReceiver  # noqa: E402
from devtools.pki import TlsFiles, tls_server_files  # noqa: E402
from devtools.servers import ThreadedServer  # noqa: E402


@pytest.fixture(scope="session")
def tls_files(stack_dir: Path) -> TlsFiles:
    return tls_server_files(stack_dir / "tls")


@pytest.fixture(scope="session")
def est_server(test_pki: TestPKI, tls_files: TlsFiles) -> Iterator[tuple[EstTestCA, str]]:
    ca = EstTestCA(test_pki)
    server = ThreadedServer(ca.app, free_port(), tls_files).start()
    yield ca, f"{server.url}/.well-known/est"
    server.stop()


@pytest.fixture()
def est_ca(est_server: tuple[EstTestCA, str]) -> Iterator[EstTestCA]:
    ca = est_server[0]
    ca.fail_next, ca.wrong_issuer = 0, False
    yield ca
    ca.fail_next, ca.wrong_issuer = 0, False


@pytest.fixture(scope="session")
def trust_anchors(stack_dir: Path, est_server: tuple[EstTestCA, str]) -> Path:
    path = stack_dir / "est-trust.pem"
    path.write_bytes(est_server[0].trust_anchors_pem())
    return path


@pytest.fixture(scope="session")
def session_receiver(stack_dir: Path, tls_files: TlsFiles) -> Iterator[tuple[OrderReceiver, str]]:
    receiver = OrderReceiver(stack_dir / "session-orders.db")
    server = ThreadedServer(receiver.app, free_port(), tls_files).start()
    yield receiver, f"{server.url}/orders"
    server.stop()


def write_settings(
    base: Settings,
    data_dir: Path,
    est_url: str,
    tls: TlsFiles,
    anchors: Path | None,
    webhook: str | None,
) -> Settings:
    from cardagent.settings import OrderSettings, UpgradeSettings

    return base.with_overrides(
        data_dir=data_dir,
        upgrade=UpgradeSettings(
            est_url=est_url,
            est_tls_ca=str(tls.ca),
            est_trust_anchors=str(anchors) if anchors else None,
            est_attempts=2,
            est_backoff_s=0.1,
            card_wait_s=10.0,
        ),
        orders=OrderSettings(
            webhook_url=webhook,
            webhook_tls_ca=str(tls.ca),
            retry_initial_s=0.2,
            retry_max_s=1.0,
        ),
    )


_fresh_counter = iter(range(1, 10**6))


@pytest.fixture()
def fresh_card(
    softhsm_conf: Path, test_pki: TestPKI, card_slot: CardSlot
) -> Callable[..., ProvisionedCard]:
    """Provision a brand-new card (own tokens, own card serial) and put it in the test reader."""

    def make(name: str = "old", insert: bool = True) -> ProvisionedCard:
        card = provision_card(softhsm_conf, test_pki, PROFILES[name])
        serial = f"8888{os.getpid() % 10000:04d}{next(_fresh_counter):08d}"
        card_slot.cards = {**card_slot.cards, f"fresh-{serial}": card}
        if insert:
            card_slot.insert(f"fresh-{serial}", card_serial=serial)
        card.__dict__["serial"] = serial  # frozen dataclass: remember the emulated serial
        return card

    return make
