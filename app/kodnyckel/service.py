"""Re-identification through the kodnyckel: coordinators only, every look-up audited.

The audit event names the pseudonym, the municipality and that a reason was
given (``fields=["reason"]``); neither the identifier nor the reason text is
stored anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.principal import Principal
from app.cases.service import kodnyckel_context
from app.config import Settings
from app.errors import NotFound
from app.models import KodnyckelEntry
from app.security.identifiers import LOCAL_PREFIX, SAMORDNING_DAY_OFFSET, IdentifierKind
from app.security.keyring import Keyring
from app.security.sealed import open_text


@dataclass(frozen=True)
class Reidentified:
    pseudonym: str
    identifier: str
    kind: IdentifierKind


def lookup(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    principal: Principal,
    client_pseudonym: str,
    *,
    request_id: str | None = None,
) -> Reidentified:
    """The identifier behind ``client_pseudonym`` in the coordinator's municipality.

    A pseudonym of another municipality, an unknown one, or a municipality
    without a kodnyckel are all the same 404.
    """
    municipality = principal.municipality_code
    if municipality is None or municipality not in settings.kodnyckel_municipalities:
        raise NotFound()
    client_pseudonym = client_pseudonym.lower()
    entry = session.scalar(
        select(KodnyckelEntry).where(
            KodnyckelEntry.municipality_code == municipality,
            KodnyckelEntry.client_pseudonym == client_pseudonym,
        )
    )
    if entry is None:
        raise NotFound()
    canonical = open_text(
        session,
        keyring,
        municipality,
        entry.identifier_ciphertext,
        entry.data_key_version,
        context=kodnyckel_context(municipality, client_pseudonym),
    )
    record(
        session,
        actor=principal.actor,
        action="kodnyckel.lookup",
        object_type="kodnyckel",
        object_id=client_pseudonym,
        fields=["reason"],
        municipality_code=municipality,
        request_id=request_id,
    )
    identifier, kind = display(canonical)
    return Reidentified(client_pseudonym, identifier, kind)


def display(canonical: str) -> tuple[str, IdentifierKind]:
    """The canonical form as a person reads it: ``ÅÅÅÅMMDD-NNNN`` or the local code."""
    if canonical.startswith(LOCAL_PREFIX):
        return canonical.removeprefix(LOCAL_PREFIX), "local"
    kind: IdentifierKind = (
        "samordningsnummer" if int(canonical[6:8]) > SAMORDNING_DAY_OFFSET else "personnummer"
    )
    return f"{canonical[:8]}-{canonical[8:]}", kind
