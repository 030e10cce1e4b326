"""GET /api/v1/variables: the catalogue as documented JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.deps import CatalogueDep

router = APIRouter(tags=["catalogue"])


@router.get(
    "/variables",
    summary="Variabelkatalogen (the variable catalogue)",
    response_description="Every variable with SUV number, phase, type, codes and labels.",
)
def list_variables(catalogue: CatalogueDep) -> dict[str, Any]:
    """The shared catalogue: the 29 SU-Kvinnofrid variables (Bilaga 2) and the
    repeated groups. Public reference data: no authentication, no case content."""
    return catalogue.as_json()
