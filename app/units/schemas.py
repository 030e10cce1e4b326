"""Request and response models of the administration API (units, users, keys)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.catalogue.models import SafeText

MunicipalityCode = Annotated[str, Field(pattern=r"^[0-9]{4}$", description="Kommunkod")]
CountyCode = Annotated[str, Field(pattern=r"^[0-9]{2}$", description="Länskod")]
Role = Literal["caseworker", "coordinator", "regional", "national", "admin"]
UnitKind = Literal["myndighet", "utforare", "bada", "annat"]
ExpiresInDays = Annotated[
    int, Field(ge=1, le=365, description="Tokens giltighet i dagar (token lifetime in days)")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitCreate(Strict):
    name: Annotated[SafeText, Field(min_length=1, max_length=200)]
    kind: UnitKind = "myndighet"
    municipality_code: MunicipalityCode
    district_code: Annotated[SafeText | None, Field(max_length=10)] = None


class UnitRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    municipality_code: str
    district_code: str | None
    is_active: bool
    created_at: datetime


class UnitPage(BaseModel):
    items: list[UnitRead]
    total: int
    limit: int
    offset: int


class UserCreate(Strict):
    username: Annotated[
        str,
        Field(
            min_length=3,
            max_length=100,
            pattern=r"^[A-Za-z0-9._@-]+$",
            description="Inloggningsnamn (letters, digits, . _ @ -)",
        ),
    ]
    role: Role
    municipality_code: MunicipalityCode | None = Field(
        default=None, description="Krävs för caseworker/coordinator (samordnare: egen kommun)"
    )
    unit_id: uuid.UUID | None = Field(default=None, description="Verksamhet (caseworker)")
    county_code: CountyCode | None = Field(default=None, description="Län (regional)")
    expires_in_days: ExpiresInDays = 90


class UserRead(BaseModel):
    id: uuid.UUID
    username: str
    role: str
    municipality_code: str | None
    county_code: str | None
    unit_id: uuid.UUID | None
    is_active: bool
    active_tokens: int = Field(description="Giltiga, ej spärrade token (valid tokens)")
    has_web_password: bool = Field(
        description="Har ett lösenord för webbgränssnittet (has a web password)"
    )
    created_at: datetime


class UserCreated(UserRead):
    token: str | None = Field(
        description="Åtkomsttoken; visas bara i det första svaret (null vid omsändning med "
        "samma Idempotency-Key). Shown once; null on an idempotent replay."
    )
    token_expires_at: datetime | None


class UserPage(BaseModel):
    items: list[UserRead]
    total: int
    limit: int
    offset: int


class TokenCreate(Strict):
    expires_in_days: ExpiresInDays = 90


class TokenIssued(BaseModel):
    user_id: uuid.UUID
    token: str | None = Field(
        description="Visas bara en gång (shown once; null on an idempotent replay)."
    )
    expires_at: datetime | None


class RevokeIn(Strict):
    deactivate: bool = Field(
        default=False, description="Stäng också av användaren (also deactivate the user)"
    )


class RevokeResult(BaseModel):
    user_id: uuid.UUID
    revoked_tokens: int
    is_active: bool


class KeyRead(BaseModel):
    """A key version: never the key itself, wrapped or not."""

    municipality_code: str
    purpose: Literal["pseudonym", "data"]
    version: int
    created_at: datetime
    retired_at: datetime | None


class KeyPage(BaseModel):
    items: list[KeyRead]
    total: int
    limit: int
    offset: int
