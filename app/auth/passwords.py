"""Passwords for people who sign in to the web interface: Argon2id (argon2-cffi).

This module is the one place that sets a password (``set_password``; the
re-hash at sign-in goes through the same ``_store``). Only the Argon2 hash is
stored (``users.password_hash``, with its salt and parameters). Passwords are
never logged, audited or shown again, except a generated temporary password,
shown once to the coordinator who reset it. A new password ends the person's
other browser sessions.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.principal import Principal
from app.clock import utcnow
from app.errors import FieldError, NotFound, ValidationFailed
from app.models import User, WebSession

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


def _store(user: User, password: str) -> None:
    user.password_hash = hash_password(password)


def end_web_sessions(
    session: Session, user_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> None:
    """End every live browser session of a user (a new password, a
    deactivation), except ``keep`` (the browser that changed its own password)."""
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(WebSession.id != keep)
    session.execute(query.values(ended_at=utcnow()))


def set_password(
    session: Session, user: User, password: str, *, keep_session: uuid.UUID | None = None
) -> None:
    """Store the hash of a new password for ``user`` and sign the person out
    everywhere else (the caller audits)."""
    errors = password_problems(password)
    if errors:
        raise ValidationFailed(errors)
    _store(user, password)
    end_web_sessions(session, user.id, keep=keep_session)
    session.flush()


def refresh_hash(user: User, password: str) -> None:
    """At sign-in, with the right password: re-hash when the parameters changed."""
    if user.password_hash and hasher.check_needs_rehash(user.password_hash):
        _store(user, password)


def generate_password() -> str:
    """A temporary password a coordinator hands over: 4 groups of 4, easy to read aloud."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4)]
    return "-".join(groups)


def change_own_password(
    session: Session,
    principal: Principal,
    *,
    current: str,
    new: str,
    confirm: str,
    keep_session: uuid.UUID | None,
    request_id: str | None,
) -> None:
    """A signed-in person changes their own password: every problem at once
    (wrong current password, a new one too short, a confirmation that differs)."""
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound()
    errors: list[FieldError] = []
    if not check_password(user, current):
        errors.append(
            FieldError(
                "/current", "wrong_password", "Lösenordet stämmer inte.", "The password is wrong."
            )
        )
    problems = password_problems(new)
    errors += problems
    if not problems and new != confirm:
        errors.append(
            FieldError("/confirm", "mismatch", "Lösenorden är inte lika.", "The passwords differ.")
        )
    if errors:
        raise ValidationFailed(errors)
    # Other browsers signed in as this person are signed out; this one stays.
    set_password(session, user, new, keep_session=keep_session)
    record(
        session,
        actor=principal.actor,
        action="user.password_change",
        object_type="user",
        object_id=user.id,
        fields=["password"],
        request_id=request_id,
    )


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
            set_password(session, user, password)
        done[username] = password
    session.flush()
    return done


def demo_accounts(session: Session) -> list[tuple[str, str]]:
    """The demo accounts that have their web password (the dev sign-in page lists them)."""
    with_password = set(
        session.scalars(
            select(User.username).where(
                User.username.in_(list(DEMO_PASSWORDS)), User.password_hash.is_not(None)
            )
        ).all()
    )
    return [(u, p) for u, p in DEMO_PASSWORDS.items() if u in with_password]
