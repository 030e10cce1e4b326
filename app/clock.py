"""The one place the application reads the clock (tests may patch it)."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    # Dates of support are Swedish calendar dates; UTC is within two hours of it.
    return utcnow().date()
