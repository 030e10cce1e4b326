"""Rules across a case's records: dates in order, nothing in the future, adults only.

Pure functions returning FieldErrors (pointer into the request body).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from app.errors import FieldError

ADULT_AGE = 18
AGE_KEY = "age"
"""The catalogue variable the adult rule and the personnummer check read (SUV 15)."""
AGE_BASIS_KEY = "age_basis"
AGE_BASIS_ACTUAL = 1
"""``age_basis`` code for an age computed from a personnummer ("Faktisk ålder")."""


def not_in_future(day: date | None, today: date, pointer: str) -> list[FieldError]:
    if day is not None and day > today:
        return [
            FieldError(
                pointer,
                "future_date",
                "Datumet får inte ligga i framtiden.",
                "The date cannot be in the future.",
            )
        ]
    return []


def case_dates(
    *,
    actualised_on: date,
    closed_on: date | None,
    intervention_starts: Iterable[date],
    today: date,
    pointers: dict[str, str],
) -> list[FieldError]:
    """aktualisering ≤ every intervention start ≤ avslut ≤ today."""
    errors = not_in_future(actualised_on, today, pointers["actualised_on"])
    errors += not_in_future(closed_on, today, pointers["closed_on"])
    starts = sorted(intervention_starts)
    if starts:
        errors += not_in_future(starts[-1], today, pointers["intervention"])
    if starts and starts[0] < actualised_on:
        errors.append(
            FieldError(
                pointers["intervention"],
                "before_actualisation",
                "Insatsen kan inte börja före aktualiseringen.",
                "An intervention cannot start before the case was opened.",
            )
        )
    if closed_on is not None and closed_on < actualised_on:
        errors.append(
            FieldError(
                pointers["closed_on"],
                "closed_before_actualised",
                "Avslutsdatum kan inte ligga före aktualiseringsdatum.",
                "The closing date cannot be before the date the case was opened.",
            )
        )
    if closed_on is not None and starts and starts[-1] > closed_on:
        errors.append(
            FieldError(
                pointers["intervention"],
                "after_closing",
                "Insatsen kan inte börja efter att ärendet avslutats.",
                "An intervention cannot start after the case was closed.",
            )
        )
    return errors


def adult(age: int | None, pointer: str) -> list[FieldError]:
    if age is not None and age < ADULT_AGE:
        return [
            FieldError(
                pointer,
                "under_18",
                "Registret gäller vuxna: klienten måste vara minst 18 år vid aktualiseringen.",
                "The register covers adults: the client must be 18 or older when the case opened.",
            )
        ]
    return []
