"""Passwords for people who sign in to the web interface: Argon2id (argon2-cffi).

Only the Argon2 hash is stored (``users.password_hash``, with its salt and
parameters). Passwords are never logged, audited or shown again, except a
generated temporary password, shown once to the coordinator who reset it.
"""

from __future__ import annotations

import contextlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import FieldError, ValidationFailed
from app.models import User

MIN_LENGTH = 12
MAX_LENGTH = 256
"""Argon2 hashes any length; the cap only keeps a form post from being huge."""

# RFC 9106's second recommended profile (argon2-cffi's default): t=3, 64 MiB, p=4.
# Tests swap in a cheap hasher (see tests/web/conftest.py); a hash made with
# other parameters still verifies, and is re-hashed at the next sign-in.
hasher = PasswordHasher()

# Verified against when the username is unknown, so that an unknown user takes
# as long to reject as a wrong password (no user enumeration by timing).
_DUMMY_HASH: str | None = None


def hash_password(password: str) -> str:
    return hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """True when ``password`` is ``user``'s; constant work whether or not the
    user exists or has a password."""
    global _DUMMY_HASH
    if user is None or not user.password_hash:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY_HASH, password)
        return False
    try:
        return hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(user: User) -> bool:
    return bool(user.password_hash) and hasher.check_needs_rehash(user.password_hash or "")


def password_problems(password: str, pointer: str = "/password") -> list[FieldError]:
    """The rules a new password must meet (NIST SP 800-63B style: length, not composition)."""
    if len(password) < MIN_LENGTH:
        return [
            FieldError(
                pointer,
                "password_too_short",
                f"Lösenordet måste ha minst {MIN_LENGTH} tecken.",
                f"The password must have at least {MIN_LENGTH} characters.",
            )
        ]
    if len(password) > MAX_LENGTH:
        return [
            FieldError(
                pointer,
                "password_too_long",
                f"Lösenordet får ha högst {MAX_LENGTH} tecken.",
                f"The password may have at most {MAX_LENGTH} characters.",
            )
        ]
    if "\x00" in password:
        return [
            FieldError(
                pointer,
                "nul_character",
                "Lösenordet innehåller otillåtna tecken.",
                "The password contains forbidden characters.",
            )
        ]
    return []


def set_password(session: Session, user: User, password: str) -> None:
    """Store the hash of a new password for ``user`` (the caller audits)."""
    errors = password_problems(password)
    if errors:
        raise ValidationFailed(errors)
    user.password_hash = hash_password(password)
    session.flush()


def generate_password() -> str:
    """A temporary password a coordinator hands over: 4 groups of 4, easy to read aloud."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4)]
    return "-".join(groups)


# --- the demo (dev mode only) ----------------------------------------------

DEMO_PASSWORDS = {
    "demo-handlaggare": "demo-handlaggare-2026",
    "demo-samordnare": "demo-samordnare-2026",
}
"""Web passwords of the demo caseworker and coordinator. Published on purpose:
they exist only in a dev-mode demo database (``isu demo``)."""


def set_demo_passwords(session: Session) -> dict[str, str]:
    """Give the demo caseworker and coordinator their web passwords (for the
    demo loader, ``app.importer.demo``; dev mode only). Returns username ->
    password for the users that exist; the caller prints them."""
    done: dict[str, str] = {}
    for username, password in DEMO_PASSWORDS.items():
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            continue
        if not check_password(user, password):
            user.password_hash = hash_password(password)
        done[username] = password
    session.flush()
    return done
