"""Encrypting a package to the recipient's public key (X25519 + AES-256-GCM).

A sealed package may travel by any channel (e-mail, a USB stick): only the
holder of the recipient's private key can open it, and any change to it is
detected. Layout::

    MAGIC (8) | key id (8) | ephemeral X25519 public key (32) | nonce (12) | ciphertext + tag

The AES key is HKDF-SHA256 of the X25519 shared secret, bound to both public
keys; the header is authenticated as associated data. The key id (the first
8 bytes of SHA-256 of the recipient's raw public key) says which key opens it.
All primitives come from ``cryptography``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC: Final = b"ISUSEAL1"
_INFO: Final = b"isu-skr-package-v1"
_HEADER = len(MAGIC) + 8 + 32 + 12


class SealError(ValueError):
    """The package cannot be opened: wrong key, altered, or not sealed."""


def is_sealed(blob: bytes) -> bool:
    return blob.startswith(MAGIC)


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: X25519PublicKey) -> bytes:
    return hashlib.sha256(_raw(public)).digest()[:8]


def _derive(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + ephemeral + recipient
    ).derive(shared)


def seal(data: bytes, recipient: X25519PublicKey) -> bytes:
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw(ephemeral.public_key())
    key = _derive(ephemeral.exchange(recipient), ephemeral_public, _raw(recipient))
    nonce = os.urandom(12)
    header = MAGIC + key_id(recipient) + ephemeral_public
    return header + nonce + AESGCM(key).encrypt(nonce, data, header)


def open_sealed(blob: bytes, private: X25519PrivateKey) -> bytes:
    if not is_sealed(blob) or len(blob) < _HEADER + 16:
        raise SealError("not a sealed package")
    recipient = private.public_key()
    if blob[8:16] != key_id(recipient):
        raise SealError("sealed to another key")
    ephemeral_public = blob[16:48]
    nonce = blob[48:60]
    try:
        key = _derive(
            private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public)),
            ephemeral_public,
            _raw(recipient),
        )
        return AESGCM(key).decrypt(nonce, blob[60:], blob[:48])
    except (InvalidTag, ValueError):
        raise SealError("the sealed package is altered or the key is wrong") from None


def generate() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def private_pem(private: X25519PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(public: X25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public(pem: bytes) -> X25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise SealError("not a PEM public key") from None
    if not isinstance(key, X25519PublicKey):
        raise SealError("not an X25519 public key")
    return key


def load_private(pem: bytes) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise SealError("not an unencrypted PEM private key") from None
    if not isinstance(key, X25519PrivateKey):
        raise SealError("not an X25519 private key")
    return key


def write_private(path: Path, private: X25519PrivateKey) -> None:
    """A new file readable by its owner only; never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem(private))
