"""Request and response models of the local-variable API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class LocalVariableCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] = Field(
        description="Variabeln i katalogens format (se docs/local-variables.md); "
        "nyckel `k<kommunkod>.<namn>` eller `l<länskod>.<namn>`."
    )
    export_opt_in: bool = Field(
        default=False,
        description="Får variabeln följa med i export utanför kommunen/länet?",
    )


class LocalVariableRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    key: str
    owner_kind: Literal["municipality", "county"]
    owner_code: str
    definition: dict[str, Any]
    export_opt_in: bool
    is_retired: bool = Field(description="Avregistrerad: tar inga nya värden, gamla kan läsas")
    created_at: datetime
    updated_at: datetime


class LocalVariableList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[LocalVariableRead]
