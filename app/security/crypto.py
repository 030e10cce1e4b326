"""Pseudonymisation, key wrapping and field encryption.

All primitives come from the ``cryptography`` package (or the standard
library for plain hashing and randomness); nothing is hand-rolled.

Blob layout for both wrapped keys and encrypted text::

    version (1 byte, = 1) | nonce (12 bytes) | AES-256-GCM ciphertext + tag

The ``context`` string (e.g. ``"0180:data:3"``) is bound as associated data,
so a blob cannot be moved to another unit, purpose or key version unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "KEY_BYTES",
    "TOKEN_PREFIX",
    "IntegrityFailure",
    "KeyConfigurationError",
    "MasterKey",
    "decrypt_text",
    "encrypt_text",
    "hash_token",
    "new_data_key",
    "new_token",
    "pseudonym",
    "recipient_pseudonym_key",
    "unwrap_key",
    "wrap_key",
]

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
BLOB_VERSION: Final = 1
TOKEN_PREFIX: Final = "isu_"
_KEY_ID_DOMAIN: Final = b"isu-master-key-id:"
_RECIPIENT_DOMAIN: Final = b"isu-recipient:"
_TAG_BYTES: Final = 16


class KeyConfigurationError(ValueError):
    """A key is missing, malformed or of the wrong length."""


class IntegrityFailure(Exception):
    """Decryption failed: wrong key, wrong context, or the data was altered."""

    def __init__(self) -> None:
        super().__init__(
            "Dekryptering misslyckades: fel nyckel eller kontext, eller så har datat ändrats. "
            "/ Decryption failed: wrong key or context, or the data has been altered."
        )


def _require_key(key: bytes, what: str) -> None:
    if len(key) != KEY_BYTES:
        raise KeyConfigurationError(
            f"{what} måste vara exakt {KEY_BYTES} byte. / {what} must be exactly {KEY_BYTES} bytes."
        )


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The 32-byte master key that wraps per-unit data keys.

    The raw bytes are excluded from ``repr``; identify a key by ``key_id``.
    """

    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _require_key(self.raw, "Huvudnyckeln / The master key")

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """Parse standard or URL-safe base64 (padding optional) of 32 bytes."""
        cleaned = text.strip().replace("-", "+").replace("_", "/")
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            raw = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            # `from None`: the underlying error could quote part of the key.
            raise KeyConfigurationError(
                "Huvudnyckeln är inte giltig base64. / The master key is not valid base64."
            ) from None
        if len(raw) != KEY_BYTES:
            raise KeyConfigurationError(
                f"Huvudnyckeln måste vara base64 av exakt {KEY_BYTES} byte. "
                f"/ The master key must be base64 of exactly {KEY_BYTES} bytes."
            )
        return cls(raw)

    def to_text(self) -> str:
        """URL-safe base64 with padding; round-trips through :meth:`from_text`."""
        return base64.urlsafe_b64encode(self.raw).decode("ascii")

    @property
    def key_id(self) -> str:
        """Public, non-secret identifier: 16 hex chars of a domain-separated SHA-256."""
        return hashlib.sha256(_KEY_ID_DOMAIN + self.raw).hexdigest()[:16]


def pseudonym(key: bytes, canonical_identifier: str) -> str:
    """Keyed pseudonym of a canonical client identifier (HMAC-SHA256, 64 hex chars)."""
    _require_key(key, "Pseudonymnyckeln / The pseudonym key")
    mac = crypto_hmac.HMAC(key, hashes.SHA256())
    mac.update(canonical_identifier.encode("utf-8"))
    return mac.finalize().hex()


def new_data_key() -> bytes:
    """A fresh random 32-byte data key."""
    return AESGCM.generate_key(bit_length=256)


def wrap_key(master: MasterKey, data_key: bytes, *, context: str) -> bytes:
    """Encrypt ``data_key`` under the master key, bound to ``context``."""
    _require_key(data_key, "Datanyckeln / The data key")
    return _seal(master.raw, data_key, context)


def unwrap_key(master: MasterKey, wrapped: bytes, *, context: str) -> bytes:
    """Inverse of :func:`wrap_key`; raises :class:`IntegrityFailure` on any mismatch."""
    data_key = _open(master.raw, wrapped, context)
    if len(data_key) != KEY_BYTES:
        raise IntegrityFailure()
    return data_key


def encrypt_text(key: bytes, plaintext: str, *, context: str) -> bytes:
    """Encrypt UTF-8 text with AES-256-GCM, bound to ``context``."""
    _require_key(key, "Datanyckeln / The data key")
    return _seal(key, plaintext.encode("utf-8"), context)


def decrypt_text(key: bytes, blob: bytes, *, context: str) -> str:
    """Inverse of :func:`encrypt_text`; raises :class:`IntegrityFailure` on any mismatch."""
    _require_key(key, "Datanyckeln / The data key")
    return _open(key, blob, context).decode("utf-8")


def hash_token(token: str) -> str:
    """SHA-256 hex of an opaque, high-entropy token (no salt or stretching needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A new opaque bearer token, ``isu_`` + 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def recipient_pseudonym_key(master_or_data_key: bytes, recipient: str) -> bytes:
    """Derive a per-recipient pseudonym key (HKDF-SHA256) for re-keyed exports."""
    _require_key(master_or_data_key, "Nyckeln / The key")
    if not recipient:
        raise ValueError("Mottagare saknas. / Recipient is missing.")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=_RECIPIENT_DOMAIN + recipient.encode("utf-8"),
    )
    return hkdf.derive(master_or_data_key)


def _seal(key: bytes, data: bytes, context: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, data, context.encode("utf-8"))
    return bytes([BLOB_VERSION]) + nonce + ciphertext


def _open(key: bytes, blob: bytes, context: str) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + _TAG_BYTES or blob[0] != BLOB_VERSION:
        raise IntegrityFailure()
    nonce = blob[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[1 + NONCE_BYTES :], context.encode("utf-8"))
    except InvalidTag:
        raise IntegrityFailure() from None
