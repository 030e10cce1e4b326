"""The funnel status of a case (Diagram 1), derived, never typed in."""

from __future__ import annotations

from app.models import Case

PHASE_STATUSES: dict[str, tuple[str, ...]] = {
    "fore": ("aktualiserad",),
    "under": ("fatt_insats",),
    "efter": ("avslutad", "avslutsorsak_angiven", "maluppfoljning_angiven"),
    "brukarenkat": ("brukarenkat_genomford",),
}
"""The phase a case is in, by its funnel status (the case list's phase filter)."""


def derive_status(case: Case) -> str:
    if case.survey is not None:
        return "brukarenkat_genomford"
    if case.closed_on is not None:
        if case.values.get("goal_followup") is not None:
            return "maluppfoljning_angiven"
        if case.values.get("closing_reason") is not None:
            return "avslutsorsak_angiven"
        return "avslutad"
    if case.interventions:
        return "fatt_insats"
    return "aktualiserad"
