"""Routes: Lokala variabler (local variables)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["local_variables"])
