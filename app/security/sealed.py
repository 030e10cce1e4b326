"""Free text at rest: a dict of texts sealed with the municipality's data key.

The AAD binds the blob to its row (``context``), so a ciphertext copied to
another case does not open. A blob that fails authentication raises the
domain IntegrityError and is audited by the caller; it is never shown.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from app.errors import IntegrityError
from app.security.crypto import IntegrityFailure, decrypt_text, encrypt_text
from app.security.keyring import Keyring


def seal(
    session: Session,
    keyring: Keyring,
    municipality_code: str,
    texts: dict[str, str],
    *,
    context: str,
) -> tuple[bytes | None, int | None]:
    """Encrypt ``texts``; an empty dict is stored as no blob at all."""
    if not texts:
        return None, None
    version, key = keyring.current(session, municipality_code, "data")
    blob = encrypt_text(key, json.dumps(texts, ensure_ascii=False, sort_keys=True), context=context)
    return blob, version


def open_sealed(
    session: Session,
    keyring: Keyring,
    municipality_code: str,
    blob: bytes | None,
    version: int | None,
    *,
    context: str,
) -> dict[str, str]:
    if blob is None or version is None:
        return {}
    texts: dict[str, str] = json.loads(
        open_text(session, keyring, municipality_code, blob, version, context=context)
    )
    return texts


def open_text(
    session: Session,
    keyring: Keyring,
    municipality_code: str,
    blob: bytes,
    version: int,
    *,
    context: str,
) -> str:
    """Decrypt one text with the municipality's data key of ``version``."""
    try:
        key = keyring.version(session, municipality_code, "data", version)
        return decrypt_text(key, blob, context=context)
    except (IntegrityFailure, UnicodeDecodeError):
        raise IntegrityError(
            "Krypterad text kunde inte verifieras och visas inte. Kontakta systemförvaltaren.",
            "Encrypted text failed verification and is not shown. Contact the administrator.",
        ) from None
