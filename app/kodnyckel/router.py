"""Routes: Kodnyckel (re-identification)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["kodnyckel"])
