"""The card work of one run of a job: build the new set, verify it, remove the old pair, or
roll back. What to touch is decided by the plan (cardagent/upgrade/plan.py).

Safety rules:
* the old pair is only touched after the new set is complete on the card and verified
  (``phase = new_set_complete`` is persisted before the first deletion);
* every step is idempotent and re-planned from what is on the card, so a job resumes after
  a pulled card, an agent restart or a crash at any point;
* a rollback deletes every object positively identified as made by this job and nothing
  else, so the card holds exactly the old set again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cardagent.cardobjects import TokenObject, modulus_hash
from cardagent.cardwriter import CardWriter, UnidentifiedObject
from cardagent.certinfo import parse_certificate
from cardagent.errors import TokenError
from cardagent.est import (
    CertificateCheckFailed,
    EnrollmentUnavailable,
    EstClient,
    check_issued,
    load_trust_anchors,
)
from cardagent.settings import Settings
from cardagent.upgrade import plan
from cardagent.upgrade.job import CardRef, JobState, Phase
from cardagent.upgrade.jobstore import JobStore
from cardagent.upgrade.plan import PLAN, Inventory, Planned

log = logging.getLogger("cardagent.upgrade")

Checkpoint = Callable[[str, int], None]  # (step, item index) before each action
EnsureCard = Callable[[CardRef], None]  # raises CardRemoved unless the job's card is in


class Procedure:
    def __init__(
        self,
        settings: Settings,
        jobs: JobStore,
        job_id: str,
        writer: CardWriter,
        *,
        checkpoint: Checkpoint,
        ensure_card: EnsureCard,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.job_id = job_id
        self.writer = writer
        self._checkpoint = checkpoint
        self._ensure_card = ensure_card

    def run(self) -> None:
        """Build and verify the new set (unless done already), then remove the old pair."""
        state = self.jobs.state(self.job_id)
        if state.phase != Phase.NEW_SET_COMPLETE:
            self.build_new_set(state)
        self.remove_old(state)

    # --- helpers ------------------------------------------------------------------------------

    def _save(self, state: JobState) -> None:
        self.jobs.save_state(self.job_id, state)

    def _inventory(self) -> Inventory:
        return {role: self.writer.objects(role) for role in plan.ROLES}

    def _destroy(self, obj: TokenObject, state: JobState) -> None:
        self._ensure_card(state.card)
        self.writer.destroy(obj)

    @staticmethod
    def _require_identified(inv: Inventory, state: JobState) -> None:
        bad = plan.unidentified(inv, state)
        if bad:
            raise UnidentifiedObject("cannot identify " + ", ".join(bad))

    def _take_stock(self, inv: Inventory, state: JobState) -> None:
        """Before the job first writes: remember the keys already on the card under a planned
        CKA_ID (never ours). Once it has written: adopt a key that was not there before (a
        crash between generating a key and recording its modulus)."""
        if not state.touched:
            state.before = plan.keys_before(inv)
            self._save(state)
            return
        found = plan.adopted_keys(inv, state)
        if found:
            state.new_moduli = sorted(set(state.new_moduli) | set(found))
            self._save(state)
            log.warning("job %s: adopted key(s) generated before a crash", self.job_id)

    # --- build ----------------------------------------------------------------------------------

    def build_new_set(self, state: JobState) -> None:
        self._checkpoint("generate_keys", 0)
        inv = self._inventory()
        self._require_identified(inv, state)  # before anything is written or deleted
        self._take_stock(inv, state)
        self._generate_keys(inv, state)
        inv = self._inventory()
        todo = []
        for item in PLAN:
            pair = plan.pair_on_card(inv, item, state)
            if pair.key is None:
                raise TokenError(f"generated key {item.key} not found on the card")
            if pair.cert is None:
                todo.append((item, pair.key))
        if todo:
            issued = self._enroll_all(todo, state)
            self._checkpoint("write_certificates", 0)
            for i, (item, cert) in enumerate(issued, 1):
                self._checkpoint("write_certificates", i)
                self._ensure_card(state.card)
                self.writer.write_certificate(
                    item.role, item.cka_id, state.label, cert.public_bytes(Encoding.DER)
                )
        self._checkpoint("verify", 0)
        self.verify_new_set(state)

    def _generate_keys(self, inv: Inventory, state: JobState) -> None:
        for i, item in enumerate(PLAN, 1):
            pair = plan.pair_on_card(inv, item, state)
            for obj in pair.stale:
                self._destroy(obj, state)
            if pair.key is not None:
                continue
            self._checkpoint("generate_keys", i)
            self._ensure_card(state.card)
            if not state.touched:
                state.touched = True
                self._save(state)
            pub = self.writer.generate_key(
                item.role, item.cka_id, state.label, self.settings.upgrade.key_bits
            )
            state.new_moduli.append(modulus_hash(pub.public_numbers().n))
            self._save(state)

    def _enroll_all(
        self, todo: list[tuple[Planned, TokenObject]], state: JobState
    ) -> list[tuple[Planned, x509.Certificate]]:
        """A certificate for each key: PKCS#10 signed on the card, EST, then checked."""
        up = self.settings.upgrade
        subject = plan.new_subject(state)
        issued: list[tuple[Planned, x509.Certificate]] = []
        self._checkpoint("enroll", 0)
        est = EstClient(self.settings)
        try:
            anchors = load_trust_anchors(self.settings, est)
            for i, (item, key) in enumerate(todo, 1):
                self._checkpoint("enroll", i)
                self._ensure_card(state.card)
                assert key.mod_hash is not None
                pub = self.writer.public_key_of(item.role, key.mod_hash)
                if pub is None:
                    raise TokenError(f"public key of {item.key} not found")
                csr = self.writer.make_csr(item.role, key, pub, subject)
                cert = self._enroll(est, up.est_labels.get(item.key, item.key), csr)
                check_issued(cert, pub, anchors, plan.expected(item, state), self.settings)
                issued.append((item, cert))
        finally:
            est.close()
        return issued

    def _enroll(self, est: EstClient, label: str, csr: bytes) -> x509.Certificate:
        """simpleenroll, retried with a doubling delay while the CA is unavailable."""
        up = self.settings.upgrade
        delay = up.est_backoff_s
        for attempt in range(1, max(up.est_attempts, 1) + 1):
            try:
                return est.simpleenroll(label, csr)
            except EnrollmentUnavailable as exc:
                if attempt >= up.est_attempts:
                    raise
                log.warning("EST attempt %d failed (%s); retrying in %.1f s", attempt, exc, delay)
                time.sleep(delay)
                delay *= 2
        raise EnrollmentUnavailable("no attempts")  # pragma: no cover

    # --- verify ---------------------------------------------------------------------------------

    def verify_new_set(self, state: JobState) -> None:
        """Read back: every planned pair has its key and a certificate that passes the checks."""
        inv = self._inventory()
        est = EstClient(self.settings) if not self.settings.upgrade.est_trust_anchors else None
        try:
            anchors = load_trust_anchors(self.settings, est)
        finally:
            if est:
                est.close()
        summaries = []
        for item in PLAN:
            pair = plan.pair_on_card(inv, item, state)
            key, cert = pair.key, pair.cert
            if key is None or cert is None or cert.der is None:
                raise CertificateCheckFailed(
                    f"{item.key}: key or certificate missing after writing"
                )
            assert key.mod_hash is not None
            pub = self.writer.public_key_of(item.role, key.mod_hash)
            parsed = x509.load_der_x509_certificate(cert.der)
            if pub is None:
                raise CertificateCheckFailed(f"{item.key}: public key missing")
            check_issued(parsed, pub, anchors, plan.expected(item, state), self.settings)
            info = parse_certificate(
                cert.der,
                token_label="",
                token_serial="",
                label=cert.label,
                id_hex=cert.id.hex(),
                mapping=self.settings.assurance,
            )
            summaries.append(plan.certificate_summary(item, cert, info))
        state.phase = Phase.NEW_SET_COMPLETE
        state.certificates = summaries
        self._save(state)

    # --- remove, roll back ----------------------------------------------------------------------

    def remove_old(self, state: JobState) -> None:
        self._checkpoint("remove_old", 0)
        inv = self._inventory()
        self._require_identified(inv, state)  # an unreadable object might be the old key
        for i, obj in enumerate(plan.old_objects(inv, state), 1):
            self._checkpoint("remove_old", i)
            self._destroy(obj, state)

    def rollback(self) -> int:
        """Delete every object positively identified as made by this job; leave the rest.

        Returns how many objects the plan concerns could not be identified (left alone)."""
        state = self.jobs.state(self.job_id)
        if state.phase == Phase.NEW_SET_COMPLETE:
            raise TokenError("refusing to roll back a complete new set")
        inv = self._inventory()
        self._take_stock(inv, state)
        targets = plan.new_objects(inv, state)
        unknown = plan.unidentified(inv, state)
        for obj in targets:
            self._destroy(obj, state)
        state.touched = False
        state.phase = Phase.NEW
        self._save(state)
        log.info("job %s rolled back: %d objects removed", self.job_id, len(targets))
        if unknown:
            log.warning(
                "job %s: left alone (identity unreadable): %s", self.job_id, ", ".join(unknown)
            )
        return len(unknown)
