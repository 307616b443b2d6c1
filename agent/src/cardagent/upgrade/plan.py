"""The key and certificate plan of an upgrade, as pure functions: no card, no token, no CA.

The plan: on each PIN token (``legitimering``, ``underskrift``) one new key pair and
certificate for the HSA-id and one for the personnummer (:data:`PLAN`); then the old pair goes.

Identity of objects. Deleting is irreversible, so a job only ever deletes an object it
positively identifies (CardWriter.destroy re-reads it right before C_DestroyObject):

* old pair: a certificate whose DER fingerprint was recorded at job start, a key whose
  modulus is one of the old certificates' and whose CKA_ID is one of theirs;
* new set: a planned CKA_ID and a modulus recorded when this job generated the key (a
  certificate: its public key's modulus). Labels are not used: cards may shorten them.

Anything else is left alone. An object the plan could concern (planned or old CKA_ID, or an
unreadable CKA_ID) whose identity cannot be read stops the job: nothing is deleted while such
an object is on the card, except what rollback positively identifies as new.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from cardagent.assurance import FAMILY_LEGACY
from cardagent.cardobjects import TokenObject, cert_modulus_hash, fingerprint
from cardagent.certinfo import CertInfo
from cardagent.est import Expected
from cardagent.service import CardReading, card_key_of, token_role
from cardagent.upgrade.errors import UpgradeRefused
from cardagent.upgrade.job import CardRef, JobState, NewCertificate, OldSet

ROLES: tuple[str, ...] = ("legitimering", "underskrift")
Inventory = dict[str, list[TokenObject]]  # role -> the objects on that token
DELETE_ORDER = {"cert": 0, "private": 1, "public": 2}


@dataclass(frozen=True)
class Planned:
    key: str  # also the default EST label
    identifier_kind: str
    purpose: str
    role: str
    cka_id: bytes


PLAN: tuple[Planned, ...] = (
    Planned("hsaid-auth", "hsa_id", "authentication", "legitimering", b"IdentificationC"),
    Planned("hsaid-sign", "hsa_id", "signature", "underskrift", b"SignatureC"),
    Planned("pnr-auth", "personnummer", "authentication", "legitimering", b"IdentificationCP"),
    Planned("pnr-sign", "personnummer", "signature", "underskrift", b"SignatureCP"),
)


@dataclass(frozen=True)
class PairOnCard:
    """What of one planned pair this job has on the card."""

    key: TokenObject | None  # its private key
    cert: TokenObject | None  # the certificate for that key
    stale: list[TokenObject]  # other objects of ours under its CKA_ID (a crashed attempt)


# --- the job's starting point --------------------------------------------------------------


def initial_state(reading: CardReading) -> JobState:
    """What a job records at its start: the card, the old pair, the new subject.

    Raises :class:`UpgradeRefused` for a card without both PIN tokens or whose old
    certificates carry no HSA-id."""
    serials: dict[str, str] = {}
    old = []
    for view in reading.tokens:
        role = token_role(view.data.label)
        if role:
            serials[role] = view.data.serial
        for raw, info in zip(view.data.certificates, view.certificates, strict=False):
            if info.ca_family == FAMILY_LEGACY:
                old.append((raw, info))
    if set(serials) != set(ROLES):
        raise UpgradeRefused("missing_pin_token")
    auth = next((o for o in old if o[1].purpose == "authentication"), None) or (
        old[0] if old else None
    )
    if auth is None or auth[1].identifier.kind != "hsa_id":
        raise UpgradeRefused("old_without_hsa_id")
    cert = x509.load_der_x509_certificate(auth[0].der)

    def first(oid: x509.ObjectIdentifier) -> str:
        vals = cert.subject.get_attributes_for_oid(oid)
        return str(vals[0].value) if vals else ""

    hsa_id = auth[1].identifier.raw
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, first(NameOID.COUNTRY_NAME) or "SE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, first(NameOID.ORGANIZATION_NAME)),
        x509.NameAttribute(NameOID.GIVEN_NAME, first(NameOID.GIVEN_NAME)),
        x509.NameAttribute(NameOID.SURNAME, first(NameOID.SURNAME)),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, hsa_id),
        x509.NameAttribute(NameOID.COMMON_NAME, first(NameOID.COMMON_NAME)),
    ]
    subject = x509.Name([a for a in attrs if a.value])
    assert reading.card_reader is not None
    return JobState(
        card=CardRef(
            reader=reading.card_reader.name,
            atr=reading.card_reader.atr,
            serial=reading.card_serial,
            key=card_key_of(reading),
            tokens=serials,
        ),
        old=OldSet(
            fingerprints=[fingerprint(raw.der) for raw, _ in old],
            moduli=[m for m in (cert_modulus_hash(raw.der) for raw, _ in old) if m],
            ids=sorted({raw.id_hex for raw, _ in old}),
        ),
        hsa_id=hsa_id,
        label=auth[0].label or f"{first(NameOID.GIVEN_NAME)} {first(NameOID.SURNAME)}",
        subject=base64.b64encode(subject.public_bytes()).decode(),
    )


def new_subject(state: JobState) -> x509.Name:
    """The subject of the new certificates' requests (recorded at job start)."""
    from asn1crypto import x509 as ax509

    attrs = []
    for rdn in ax509.Name.load(base64.b64decode(state.subject)).chosen:
        for ava in rdn:
            oid = x509.ObjectIdentifier(ava["type"].dotted)
            attrs.append(x509.NameAttribute(oid, str(ava["value"].native)))
    return x509.Name(attrs)


def expected(item: Planned, state: JobState) -> Expected:
    """What the CA must have issued for ``item`` (cardagent.est.check_issued)."""
    return Expected(item.identifier_kind, item.purpose, state.hsa_id)


# --- identity of objects ---------------------------------------------------------------------


def planned_ids(role: str) -> set[bytes]:
    return {item.cka_id for item in PLAN if item.role == role}


def is_old(obj: TokenObject, old: OldSet) -> bool:
    if not obj.identified:
        return False
    if obj.kind == "cert":
        assert obj.der is not None
        return fingerprint(obj.der) in old.fingerprints
    return obj.mod_hash in old.moduli and (old.ids is None or obj.id.hex() in old.ids)


def is_new(obj: TokenObject, role: str, state: JobState) -> bool:
    return (
        obj.identified
        and obj.id in planned_ids(role)
        and not is_old(obj, state.old)
        and obj.mod_hash in state.new_moduli
    )


def concerns_plan(obj: TokenObject, role: str, state: JobState) -> bool:
    return (
        not obj.id_readable or obj.id in planned_ids(role) or obj.id.hex() in (state.old.ids or [])
    )


def unidentified(inv: Inventory, state: JobState) -> list[str]:
    """The objects the plan could concern whose identity cannot be read (``role/kind/id``)."""
    return [
        f"{role}/{o.kind}/{o.id.hex() or '?'}"
        for role, objs in inv.items()
        for o in objs
        if not o.identified and concerns_plan(o, role, state)
    ]


# --- taking stock: keys under a planned CKA_ID ---------------------------------------------


def _planned_keys(inv: Inventory) -> set[str]:
    return {
        o.mod_hash
        for role, objs in inv.items()
        for o in objs
        if o.kind != "cert" and o.identified and o.id in planned_ids(role) and o.mod_hash
    }


def keys_before(inv: Inventory) -> list[str]:
    """Before the job first writes: the keys already under a planned CKA_ID (never ours)."""
    return sorted(_planned_keys(inv))


def adopted_keys(inv: Inventory, state: JobState) -> list[str]:
    """Once the job has written: keys under a planned CKA_ID that were not there before, are
    not old and are not yet recorded as the job's (a crash between generating a key and
    recording its modulus). Empty when the job never took stock."""
    if state.before is None:
        return []
    known = set(state.before) | set(state.old.moduli) | set(state.new_moduli)
    return sorted(m for m in _planned_keys(inv) if m not in known)


# --- what to do -----------------------------------------------------------------------------


def pair_on_card(inv: Inventory, item: Planned, state: JobState) -> PairOnCard:
    """This job's key and certificate for one planned pair, and its stale objects."""
    objs = [o for o in inv[item.role] if o.id == item.cka_id and is_new(o, item.role, state)]
    certs = [o for o in objs if o.kind == "cert"]
    privs = [o for o in objs if o.kind == "private"]
    # prefer a key that already has its certificate
    key = next((k for k in privs if any(c.mod_hash == k.mod_hash for c in certs)), None)
    if key is None and privs:
        key = privs[0]
    cert = next((c for c in certs if key and c.mod_hash == key.mod_hash), None)
    keep = {id(key), id(cert)}
    keep |= {id(o) for o in objs if o.kind == "public" and key and o.mod_hash == key.mod_hash}
    stale = [o for o in objs if id(o) not in keep]
    return PairOnCard(key, cert, stale)


def _in_delete_order(objs: Iterable[TokenObject]) -> list[TokenObject]:
    return sorted(objs, key=lambda o: DELETE_ORDER[o.kind])


def old_objects(inv: Inventory, state: JobState) -> list[TokenObject]:
    """The old pair's objects on the card, certificates first (removal after the new set)."""
    return _in_delete_order(o for objs in inv.values() for o in objs if is_old(o, state.old))


def new_objects(inv: Inventory, state: JobState) -> list[TokenObject]:
    """The objects this job made, certificates first (what a rollback deletes)."""
    return _in_delete_order(o for role, objs in inv.items() for o in objs if is_new(o, role, state))


def certificate_summary(item: Planned, cert: TokenObject, info: CertInfo) -> NewCertificate:
    """A verified new certificate as the job's API shows it (identifier masked)."""
    return NewCertificate(
        token=item.role,
        label=cert.label,
        id=item.cka_id.decode(),
        issuer=info.issuer_cn,
        identifier={"kind": info.identifier.kind, "value": info.identifier.masked},
        purpose=info.purpose,
        not_after=info.not_after.isoformat(),
        fingerprint_sha256=info.fingerprint_sha256,
    )
