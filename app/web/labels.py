"""Swedish names of the web interface's own things: the funnel statuses, the
phases, roles and exclusion reasons. Variables, options and questions are never
named here: they come from the catalogue."""

from __future__ import annotations

from app.cases.exclusion import ExclusionReason

STATUS_LABELS = {
    "aktualiserad": "Aktualiserad",
    "fatt_insats": "Fått insats",
    "avslutad": "Avslutad",
    "avslutsorsak_angiven": "Avslutsorsak angiven",
    "maluppfoljning_angiven": "Måluppföljning angiven",
    "brukarenkat_genomford": "Brukarenkät genomförd",
}
"""The funnel of Diagram 1, in order (app.models.STATUSES)."""

PHASE_LABELS = {
    "bakgrund": "Bakgrund",
    "fore": "Före stöd/insats",
    "under": "Under stöd/insats",
    "efter": "Efter stöd/insats",
    "brukarenkat": "Brukarenkät",
}
"""The phases of Figur 2 (app.catalogue.spec.Phase), as the case page's tabs."""

CASE_PHASE_LABELS = {
    "fore": "Före insats",
    "under": "Under insats",
    "efter": "Avslutade",
    "brukarenkat": "Brukarenkät gjord",
}
"""The case list's phase filter (app.cases.status.PHASE_STATUSES)."""

ROLE_LABELS = {
    "caseworker": "Handläggare",
    "coordinator": "Kommunal samordnare",
    "regional": "Regional utvecklingsledare",
    "national": "Nationell",
    "admin": "Administratör",
}

EXCLUSION_LABELS = {
    ExclusionReason.perpetrator.value: "Registrerad som våldsutsatt men visade sig vara utövare",
    ExclusionReason.duplicate.value: "Dubbelregistrering av samma ärende",
    ExclusionReason.not_target_group.value: "Tillhör inte målgruppen",
    ExclusionReason.registration_error.value: "Felregistrering som inte kan rättas",
}

UNIT_KIND_LABELS = {
    "myndighet": "Myndighet",
    "utforare": "Utförare",
    "bada": "Både myndighet och utförare",
    "annat": "Annat",
}

OTHER_FIELD_LABELS = {
    "is_excluded": "Undantag från statistiken",
    "exclusion_reason": "Orsak till undantag",
    "tokens": "Token",
    "token": "Token",
}
"""Names of the few recorded fields that are not catalogue variables (the
history names every other field by its catalogue label)."""
