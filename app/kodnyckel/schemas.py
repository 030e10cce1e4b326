"""Request and response bodies of the kodnyckel look-up."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

REASON_MIN = 10
REASON_MAX = 500


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pseudonym: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] = Field(
        description="Klientens pseudonym (64 hex-tecken) från ärendet. "
        "(The client pseudonym of the case, 64 hex characters.)"
    )
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=REASON_MIN, max_length=REASON_MAX),
    ] = Field(
        description="Varför identiteten behövs (10–500 tecken). Sparas inte; granskningsloggen "
        "noterar bara att ett skäl angavs. (Why the identity is needed; not stored, the audit "
        "log only notes that a reason was given.)"
    )


class LookupRead(BaseModel):
    pseudonym: str
    identifier: str = Field(
        description="Personnummer/samordningsnummer som ÅÅÅÅMMDD-NNNN, annars verksamhetens kod "
        "(normaliserad: gemener, enkla mellanslag). (The identifier, normalised.)"
    )
    kind: Literal["personnummer", "samordningsnummer", "local"]
