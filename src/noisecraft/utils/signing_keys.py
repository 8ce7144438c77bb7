"""The key that signs generated images' content credentials, and the certificates a verifier trusts.

By default a key is created on first use in the user's config folder (`config_dir()/credentials`, never in
a checkout): a private EC P-256 key (file mode 0600), its certificate and the self-made authority that
issued it (C2PA wants a signing certificate issued by a CA, not a self-signed one). The authority is the
trust anchor `noisecraft verify` accepts by default. A user-supplied key (an organisation's, a key whose
certificate a public CA issued) is named by two environment variables:

    NOISECRAFT_SIGNING_KEY=key.pem      PEM private key: EC P-256/384/521, Ed25519 or RSA
    NOISECRAFT_SIGNING_CERT=chain.pem   PEM certificates: the signing certificate first, then its issuers
"""

from __future__ import annotations

import datetime
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from noisecraft.errors import ConfigError
from noisecraft.utils.paths import config_dir

KEY_ENV, CERT_ENV = "NOISECRAFT_SIGNING_KEY", "NOISECRAFT_SIGNING_CERT"
KEY_FILE, CHAIN_FILE, AUTHORITY_FILE = "signing-key.pem", "signing-chain.pem", "authority.pem"
VALID_DAYS = 3650


@dataclass(frozen=True)
class SigningKey:
    key_pem: bytes
    chain_pem: bytes  # the signing certificate, then its issuers
    alg: str  # C2PA's name of the signature algorithm: es256, ed25519, ps256 ...
    serial: int  # of the signing certificate: tells "your key" from another key with the same anchor
    source: str  # where it came from, for messages


def credentials_dir() -> Path:
    return config_dir() / "credentials"


def signing_key() -> SigningKey:
    """The user's key (environment), else this installation's (created on first use)."""
    key_path, cert_path = os.environ.get(KEY_ENV), os.environ.get(CERT_ENV)
    if bool(key_path) != bool(cert_path):
        raise ConfigError(f"{KEY_ENV} and {CERT_ENV}: set both (a private key and its certificate chain), or neither")
    if key_path:
        key_file, chain_file = Path(key_path).expanduser(), Path(cert_path).expanduser()
    else:
        folder = credentials_dir()
        if not (folder / KEY_FILE).is_file():
            create_local_key(folder)
        key_file, chain_file = folder / KEY_FILE, folder / CHAIN_FILE
    stamp = tuple(f.stat().st_mtime_ns if f.is_file() else None for f in (key_file, chain_file))
    return load_key(key_file, chain_file, stamp)


@lru_cache(maxsize=4)
def load_key(key_path: Path, chain_path: Path, stamp: tuple = ()) -> SigningKey:
    """Read a PEM key and chain (once per process and file version: `stamp`); the chain's first certificate
    must hold the key's public half."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise ConfigError(f"{key_path}: not a readable unencrypted PEM private key ({e})") from None
    try:
        chain = x509.load_pem_x509_certificates(chain_path.read_bytes())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{chain_path}: not a readable PEM certificate chain ({e})") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if chain[0].public_key().public_bytes(serialization.Encoding.DER, public) != \
            key.public_key().public_bytes(serialization.Encoding.DER, public):
        raise ConfigError(f"{chain_path}: its first certificate is not the certificate of the key in {key_path}")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return SigningKey(key_pem, chain_path.read_bytes(), algorithm(key, key_path), chain[0].serial_number, str(key_path))


def algorithm(key, where: Path) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    curves = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in curves:
        return curves[key.curve.name]
    raise ConfigError(f"{where}: C2PA signs with EC P-256/384/521, Ed25519 or RSA keys, not {type(key).__name__}")


def create_local_key(folder: Path, name: str = "noisecraft") -> None:
    """A local authority and a signing key it certifies, written atomically (a temp folder renamed in)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def subject(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{name} user {os.environ.get('USER', '')}".strip())])

    def usage(sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=not sign, crl_sign=not sign,
                             encipher_only=False, decipher_only=False)

    now = datetime.datetime.now(datetime.timezone.utc)
    authority_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(common_name: str, public, issuer: x509.Name, ca: bool) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject(common_name)).issuer_name(issuer).public_key(public)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
                .add_extension(usage(sign=not ca), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))

    authority_name = subject(f"{name} local authority")
    authority = certificate(f"{name} local authority", authority_key.public_key(), authority_name, True) \
        .sign(authority_key, hashes.SHA256())
    leaf = (certificate(f"{name} signer", key.public_key(), authority_name, False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()), critical=False)
            .sign(authority_key, hashes.SHA256()))
    pem = lambda cert: cert.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".credentials-", dir=folder.parent))
    key_file = tmp / KEY_FILE
    key_file.touch(mode=0o600)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    (tmp / CHAIN_FILE).write_bytes(pem(leaf) + pem(authority))
    (tmp / AUTHORITY_FILE).write_bytes(pem(authority))
    try:
        tmp.rename(folder)
    except OSError:  # another process created it first: theirs is as good
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


def trust_anchors(extra: list[Path] = ()) -> str:
    """PEM certificates whose signatures `verify` accepts: this installation's authority (when it exists), the
    last certificate of a user-supplied chain, and `extra` files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pems = []
    if (local := credentials_dir() / AUTHORITY_FILE).is_file():
        pems.append(local.read_text())
    if cert_path := os.environ.get(CERT_ENV):
        chain = x509.load_pem_x509_certificates(Path(cert_path).expanduser().read_bytes())
        pems.append(chain[-1].public_bytes(serialization.Encoding.PEM).decode())
    for path in extra:
        try:
            pems += [c.public_bytes(serialization.Encoding.PEM).decode() for c in x509.load_pem_x509_certificates(path.read_bytes())]
        except (OSError, ValueError) as e:
            raise ConfigError(f"--trust {path}: not a readable PEM certificate file ({e})") from None
    return "".join(pems)
