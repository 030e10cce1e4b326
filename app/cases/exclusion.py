"""Why a coordinator excludes a case from statistics (never deleted)."""

from __future__ import annotations

from enum import StrEnum


class ExclusionReason(StrEnum):
    perpetrator = "perpetrator"
    """Registrerad som våldsutsatt men visade sig vara utövare."""
    duplicate = "duplicate"
    """Dubbelregistrering av samma ärende."""
    not_target_group = "not_target_group"
    """Tillhör inte målgruppen (t.ex. inte våld i nära relation)."""
    registration_error = "registration_error"
    """Felregistrering som inte kan rättas."""
