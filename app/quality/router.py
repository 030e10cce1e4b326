"""Routes: Datakvalitet (data quality)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["quality"])
