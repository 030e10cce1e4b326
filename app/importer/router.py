"""Routes: bulk import (asynchronous, with a status resource)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["import"])
