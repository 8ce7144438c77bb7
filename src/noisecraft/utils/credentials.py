"""Content credentials (C2PA, through `c2pa-python`) on the PNGs noisecraft writes, and checking them.

A signed PNG carries a C2PA manifest (a `caBX` chunk) that states: created by noisecraft
(`c2pa.actions`, digitalSourceType trainedAlgorithmicMedia: AI-generated), which model (family, SHA-256
of its weights) and the settings that made it (`org.noisecraft.generation`), signed with the key of
`signing_keys`. The signature covers a hash of every other byte of the file, pixels and the `noisecraft`
text chunk included, so any later change shows. Everything runs offline: no timestamp authority, no
remote manifests, no thumbnails.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from noisecraft.utils.signing_keys import SigningKey, signing_key, trust_anchors

AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"  # real beside generated
GENERATION = "org.noisecraft.generation"  # our assertion: model and settings
_lock = threading.Lock()  # one signature at a time per process (the server signs from several threads)


@lru_cache(maxsize=4)
def _signer(key: SigningKey):
    """Building a signer parses the key and chain: once per process and key."""
    import c2pa

    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(key.alg, key.chain_pem, key.key_pem, None))


@lru_cache(maxsize=8)
def _context(anchors: str | None = None):
    """Settings: no thumbnail when signing; when reading, trust exactly `anchors` (PEM)."""
    import c2pa

    settings: dict[str, Any] = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"verify_trust": True}}
    if anchors:
        settings["trust"] = {"user_anchors": anchors}
    return c2pa.Context(settings=c2pa.Settings.from_dict(settings))


def manifest(claims: dict[str, Any], title: str) -> dict[str, Any]:
    from noisecraft.utils.version import __version__

    agent = {"name": "noisecraft", "version": __version__}
    return {
        "claim_generator_info": [agent],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": COMPOSITE if claims.get("composite") else AI_GENERATED,
                 "softwareAgent": agent}]}},
            {"label": GENERATION, "data": claims},
        ],
    }


def sign_png(png: bytes, claims: dict[str, Any], title: str = "image.png") -> bytes:
    """The same PNG with a signed C2PA manifest stating `claims` ({"model": ..., "settings": ...}, and
    "composite": true where real images stand beside generated ones)."""
    import c2pa

    key = signing_key()
    out = io.BytesIO()
    with _lock:
        c2pa.Builder(manifest(claims, title), context=_context()).sign(_signer(key), "image/png", io.BytesIO(png), out)
    return out.getvalue()


@dataclass
class Verification:
    """What `noisecraft verify` says about one file.

    status: verified (valid signature from a trusted key, content as signed) | untrusted (valid signature,
    content as signed, but a key nobody here trusts) | altered (the file changed after signing) | invalid
    (a broken manifest or signature) | none (no credentials: unsigned, or stripped)."""

    file: str
    status: str
    message: str
    signer: dict[str, Any] | None = None
    yours: bool = False  # signed by this installation's (or the configured) key
    ai_generated: bool | None = None
    source_type: str | None = None  # IPTC digital source type: trainedAlgorithmicMedia, compositeWith...
    generator: str | None = None
    model: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    failures: list[str] = field(default_factory=list)
    unsigned_settings: Any = None  # the `noisecraft` text chunk of a file without credentials (JSON, or as written)

    @property
    def ok(self) -> bool:
        return self.status == "verified"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def verify_png(data: bytes, name: str = "image.png", trust: list[Path] = ()) -> Verification:
    """Read and validate the credentials of a PNG's bytes."""
    import c2pa

    try:
        reader = c2pa.Reader("image/png", io.BytesIO(data), context=_context(trust_anchors(list(trust)) or None))
    except c2pa.C2paError.ManifestNotFound:
        return Verification(name, "none", "no credentials: never signed, or the manifest was stripped "
                            "(which proves nothing about where the image came from)", unsigned_settings=_json(text_chunk(data)))
    except c2pa.C2paError as e:
        return Verification(name, "invalid", f"unreadable credentials: {e}")
    active = reader.get_active_manifest() or {}
    results = (reader.get_validation_results() or {}).get("activeManifest") or {}
    failures = [f["code"] for f in results.get("failure", [])]
    assertions = {a["label"]: a.get("data") for a in active.get("assertions", [])}
    actions = (assertions.get("c2pa.actions.v2") or assertions.get("c2pa.actions") or {}).get("actions", [])
    generation = assertions.get(GENERATION) or {}
    signer = active.get("signature_info") or {}
    found = Verification(
        name, "verified", "", signer=signer, generator=", ".join(f"{g.get('name')} {g.get('version', '')}".strip()
                                                           for g in active.get("claim_generator_info", [])),
        ai_generated=any(a.get("digitalSourceType") in (AI_GENERATED, COMPOSITE) for a in actions),
        source_type=next((a["digitalSourceType"].rsplit("/", 1)[-1] for a in actions if a.get("digitalSourceType")), None),
        model=generation.get("model"), settings=generation.get("settings"), failures=failures,
        yours=_is_yours(signer))
    state = reader.get_validation_state()
    who = f"{signer.get('common_name', '?')} (issuer {signer.get('issuer', '?')})"
    if any("dataHash.mismatch" in f or "hashedURI.mismatch" in f for f in failures):
        found.status, found.message = "altered", "the file was changed after it was signed (pixels or metadata)"
    elif state == "Trusted" and not failures:
        found.message = f"signed by {'your key' if found.yours else 'a trusted key'}: {who}; unchanged since signing"
    elif state in ("Valid", "Trusted") and set(failures) <= {"signingCredential.untrusted"}:
        found.status = "untrusted"
        found.message = (f"signed by another key: {who}; unchanged since signing, but not a key you trust "
                         "(trust its authority with --trust CERT.pem)")
    else:
        found.status, found.message = "invalid", f"invalid credentials ({state}): {', '.join(failures) or 'no detail'}"
    return found


def _is_yours(signer: dict[str, Any]) -> bool:
    """The signing certificate is the one the configured key signs with (without creating a key to find out)."""
    import os

    from noisecraft.errors import ConfigError
    from noisecraft.utils.signing_keys import CERT_ENV, KEY_FILE, credentials_dir

    if not (os.environ.get(CERT_ENV) or (credentials_dir() / KEY_FILE).is_file()):
        return False
    try:
        return str(signing_key().serial) == str(signer.get("cert_serial_number"))
    except (ConfigError, OSError):  # a broken configured key is reported when signing, not here
        return False


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def text_chunk(data: bytes) -> str | None:
    """The `noisecraft` iTXt chunk (settings as JSON) of a PNG, if any."""
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(io.BytesIO(data)).info.get("noisecraft")
    except (UnidentifiedImageError, OSError):
        return None
