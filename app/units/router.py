"""Routes: Användare, verksamheter och nycklar (users, units, keys)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["units"])
