"""rasa-webchat (Botfront's Rasa chat widget, Apache-2.0) from the npm registry, for the
test that a standard Rasa chat client holds a conversation with the bot.

Only its standalone bundle ``lib/index.js`` is used (React is inside it), so the
package is fetched with ``npm pack`` rather than installed with its dependency tree.
The version and the registry's sha512 are pinned here; a download that does not
match is refused."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import tarfile
from pathlib import Path

from tests.support.local_stack import REPO

VERSION = "1.0.1"
INTEGRITY = (
    "sha512-Ld1zVJvTAaTrs6A5p8t70agNNrKYRyXlvqXZRgBoDvKKUXbA0jhJKECi5bdPGlaR6jsmqWtVylHS+YqIqo0x8w=="
)
CACHE = REPO / "var" / "cache" / "rasa-webchat"


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def bundle() -> Path:
    """``lib/index.js`` of rasa-webchat ``VERSION``, fetched once into var/cache/."""
    target = CACHE / VERSION / "index.js"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"rasa-webchat-{VERSION}.tgz"
    if not tarball.exists():
        subprocess.run(
            ["npm", "pack", f"rasa-webchat@{VERSION}", "--pack-destination", str(CACHE)],
            check=True, capture_output=True,
        )
    if _integrity(tarball) != INTEGRITY:
        tarball.unlink()
        raise RuntimeError(f"rasa-webchat {VERSION}: the download does not match its sha512")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/lib/index.js")
        assert member is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(member.read())
    return target
