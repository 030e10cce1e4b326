"""Pseudonyms, key wrapping and field encryption."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.security.crypto import (
    IntegrityFailure,
    KeyConfigurationError,
    MasterKey,
    decrypt_text,
    encrypt_text,
    hash_token,
    new_data_key,
    new_token,
    pseudonym,
    recipient_pseudonym_key,
    unwrap_key,
    wrap_key,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CONTEXT = "0180:data:3"
PLAINTEXT = "Kommentar med åäö och emoji 🙂"
BLOB = encrypt_text(KEY, PLAINTEXT, context=CONTEXT)
CANONICAL = "191212121212"


# --- encryption --------------------------------------------------------------


@given(text=st.text())
def test_encrypt_roundtrip(text: str) -> None:
    blob = encrypt_text(KEY, text, context=CONTEXT)
    assert decrypt_text(KEY, blob, context=CONTEXT) == text


def test_blob_layout_and_fresh_nonce() -> None:
    assert BLOB[0] == 1  # version byte
    assert len(BLOB) == 1 + 12 + len(PLAINTEXT.encode()) + 16
    again = encrypt_text(KEY, PLAINTEXT, context=CONTEXT)
    assert again != BLOB  # random nonce
    assert PLAINTEXT.encode() not in BLOB


@given(
    position=st.integers(min_value=0, max_value=len(BLOB) - 1),
    mask=st.integers(min_value=1, max_value=255),
)
def test_flipping_any_byte_is_detected(position: int, mask: int) -> None:
    tampered = bytearray(BLOB)
    tampered[position] ^= mask
    with pytest.raises(IntegrityFailure):
        decrypt_text(KEY, bytes(tampered), context=CONTEXT)


@pytest.mark.parametrize("cut", [0, 1, 13, 28, len(BLOB) - 1])
def test_truncated_blob_is_detected(cut: int) -> None:
    with pytest.raises(IntegrityFailure):
        decrypt_text(KEY, BLOB[:cut], context=CONTEXT)


def test_wrong_key_or_context_is_detected() -> None:
    with pytest.raises(IntegrityFailure):
        decrypt_text(OTHER_KEY, BLOB, context=CONTEXT)
    with pytest.raises(IntegrityFailure):
        decrypt_text(KEY, BLOB, context="1480:data:3")
    with pytest.raises(IntegrityFailure):
        decrypt_text(KEY, BLOB, context="0180:data:4")


def test_integrity_failure_message_is_generic() -> None:
    with pytest.raises(IntegrityFailure) as exc_info:
        decrypt_text(OTHER_KEY, BLOB, context=CONTEXT)
    message = str(exc_info.value)
    assert CONTEXT not in message
    assert " / " in message
    assert exc_info.value.__cause__ is None


def test_encryption_requires_a_256_bit_key() -> None:
    with pytest.raises(KeyConfigurationError):
        encrypt_text(KEY[:16], PLAINTEXT, context=CONTEXT)


# --- key wrapping ------------------------------------------------------------


def test_wrap_unwrap_roundtrip() -> None:
    master = MasterKey.generate()
    data_key = new_data_key()
    assert len(data_key) == 32
    wrapped = wrap_key(master, data_key, context=CONTEXT)
    assert data_key not in wrapped
    assert unwrap_key(master, wrapped, context=CONTEXT) == data_key


def test_unwrap_with_wrong_master_key_fails() -> None:
    data_key = new_data_key()
    wrapped = wrap_key(MasterKey.generate(), data_key, context=CONTEXT)
    with pytest.raises(IntegrityFailure):
        unwrap_key(MasterKey.generate(), wrapped, context=CONTEXT)


def test_unwrap_with_wrong_context_fails() -> None:
    master = MasterKey.generate()
    wrapped = wrap_key(master, new_data_key(), context=CONTEXT)
    with pytest.raises(IntegrityFailure):
        unwrap_key(master, wrapped, context="0180:data:2")


def test_unwrap_tampered_blob_fails() -> None:
    master = MasterKey.generate()
    wrapped = bytearray(wrap_key(master, new_data_key(), context=CONTEXT))
    wrapped[-1] ^= 0x01
    with pytest.raises(IntegrityFailure):
        unwrap_key(master, bytes(wrapped), context=CONTEXT)


def test_new_data_keys_differ() -> None:
    assert new_data_key() != new_data_key()


# --- master key --------------------------------------------------------------


def test_master_key_text_roundtrip_and_alphabets() -> None:
    master = MasterKey(KEY)
    assert MasterKey.from_text(master.to_text()) == master
    assert MasterKey.from_text(base64.b64encode(KEY).decode()) == master
    assert MasterKey.from_text(base64.urlsafe_b64encode(KEY).decode().rstrip("=")) == master
    assert MasterKey.from_text("  " + master.to_text() + "\n") == master
    # A key whose encoding differs between the two alphabets.
    tricky = bytes([0xFB, 0xFF] * 16)
    assert MasterKey.from_text(base64.b64encode(tricky).decode()).raw == tricky
    assert MasterKey.from_text(base64.urlsafe_b64encode(tricky).decode()).raw == tricky


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        base64.b64encode(bytes(31)).decode(),
        base64.b64encode(bytes(33)).decode(),
        base64.b64encode(bytes(16)).decode(),
        "not base64 at all!",
        "a" * 43 + "*",
        KEY.hex(),  # hex is not accepted (64 chars decode to 48 bytes)
    ],
)
def test_master_key_from_text_rejects_invalid(text: str) -> None:
    with pytest.raises(KeyConfigurationError) as exc_info:
        MasterKey.from_text(text)
    message = str(exc_info.value)
    assert " / " in message
    if text.strip():
        assert text.strip() not in message


def test_master_key_requires_32_bytes() -> None:
    with pytest.raises(KeyConfigurationError):
        MasterKey(bytes(16))


def test_master_key_id() -> None:
    master = MasterKey(KEY)
    assert re.fullmatch(r"[0-9a-f]{16}", master.key_id)
    assert master.key_id == hashlib.sha256(b"isu-master-key-id:" + KEY).hexdigest()[:16]
    assert master.key_id != hashlib.sha256(KEY).hexdigest()[:16]
    assert MasterKey(OTHER_KEY).key_id != master.key_id


def test_master_key_repr_hides_key() -> None:
    master = MasterKey(KEY)
    text = repr(master)
    assert KEY.hex() not in text
    assert master.to_text() not in text
    assert repr(KEY) not in text


def test_generated_master_keys_differ() -> None:
    assert MasterKey.generate() != MasterKey.generate()


# --- pseudonyms --------------------------------------------------------------


def test_pseudonym_is_deterministic_per_key() -> None:
    first = pseudonym(KEY, CANONICAL)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert pseudonym(KEY, CANONICAL) == first
    assert pseudonym(OTHER_KEY, CANONICAL) != first
    assert pseudonym(KEY, "191212121213") != first


def test_pseudonym_is_not_an_unkeyed_hash() -> None:
    value = pseudonym(KEY, CANONICAL)
    for form in (CANONICAL, "19121212-1212", "121212-1212", "1212121212"):
        data = form.encode()
        assert value != hashlib.sha256(data).hexdigest()
        assert value != hashlib.md5(data).hexdigest()


def test_pseudonym_rejects_short_key() -> None:
    with pytest.raises(KeyConfigurationError):
        pseudonym(b"", CANONICAL)


def test_recipient_keys() -> None:
    r1 = recipient_pseudonym_key(KEY, "SKR")
    r2 = recipient_pseudonym_key(KEY, "Socialstyrelsen")
    assert len(r1) == 32
    assert r1 == recipient_pseudonym_key(KEY, "SKR")
    assert r1 != r2
    assert r1 != recipient_pseudonym_key(OTHER_KEY, "SKR")
    assert r1 != KEY
    assert pseudonym(r1, CANONICAL) != pseudonym(r2, CANONICAL)
    assert pseudonym(r1, CANONICAL) != pseudonym(KEY, CANONICAL)
    with pytest.raises(ValueError):
        recipient_pseudonym_key(KEY, "")


# --- tokens ------------------------------------------------------------------


def test_tokens() -> None:
    token = new_token()
    assert token.startswith("isu_")
    assert len(token) >= 4 + 43
    assert new_token() != token
    digest = hash_token(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert hash_token(token) == digest
    assert token not in digest
