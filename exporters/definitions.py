"""Analytical definitions of the national compilation (Kapitel 2).

Catalogue codes are immutable once published, so a definition may name codes;
their *labels* always come from the codebook. A unit test checks every code
named here against the catalogue, so a renamed or retired option cannot slip
by. Pass a modified :class:`Definitions` to the table functions to change one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporters.codebook import Label

# Age bands of Diagram 3 (whole years at aktualisering): (lowest, highest, key).
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (18, 24, "18–24"),
    (25, 34, "25–34"),
    (35, 44, "35–44"),
    (45, 54, "45–54"),
    (55, 64, "55–64"),
    (65, 74, "65–74"),
    (75, None, "75–"),
)


def duration_bins(
    width: int = 90, last_closed: int = 720
) -> tuple[tuple[int, int | None, str], ...]:
    """Diagram 16's bins: 1–90, 91–180, …, 631–720, and 721– for anything longer.

    A case opened and closed on the same day lasted one day, so the duration in
    days counts both the first and the last day (closed_on − actualised_on + 1).
    """
    bins: list[tuple[int, int | None, str]] = []
    low = 1
    while low + width - 1 <= last_closed:
        bins.append((low, low + width - 1, f"{low}–{low + width - 1}"))
        low += width
    bins.append((low, None, f"{low}–"))
    return tuple(bins)


DURATION_BINS = duration_bins()
# Diagram 17 shows the first four bins only (1–360 days).
DURATION_BINS_BY_REASON = tuple(b[2] for b in DURATION_BINS[:4])

NOT_REGISTERED = "ej_registrerad"
NOT_REGISTERED_LABEL = Label("Ej registrerat", "Not registered")
REGISTERED = "registrerad"
REGISTERED_LABEL = Label("Registrerat", "Registered")
OTHER = "ovriga"
OTHER_LABEL = Label("Övriga", "Other")
YES = "ja"
NO = "nej"
YES_LABEL = Label("Ja", "Yes")
NO_LABEL = Label("Nej", "No")


@dataclass(frozen=True)
class Condition:
    """A case belongs to a group when ``column`` has one of ``codes`` (a
    Categorical of catalogue codes), or is true (a boolean column, ``codes=()``)."""

    column: str
    codes: tuple[int | str, ...] = ()
    negate: bool = False


@dataclass(frozen=True)
class GroupDef:
    key: str
    condition: Condition | None
    label: Label | None = None
    """None: the label is composed from the codebook (variable: option)."""


@dataclass(frozen=True)
class Definitions:
    housing_intervention_codes: tuple[int, ...] = (10, 11, 12, 13)
    """SUV 118: skyddat boende, hjälp med ny bostad, byte av kommun, tillfälligt boende."""
    risk_no_method_codes: tuple[int, ...] = (6,)
    """SUV 90: "Annat samtal med klient utan bedömningsmetod"."""
    main_closing_reasons: tuple[int, ...] = (1, 3, 4)
    """SUV 257 reasons of Diagram 17: goal reached, declined, did not come back."""
    top_goal_codes: tuple[int, ...] = (1,)
    """SUV 192: positive change and goal achieved."""
    top_survey_codes: tuple[int, ...] = (1,)
    """SUV 202: improved a lot."""
    honour_groups: tuple[int, ...] = (1, 2)
    """SUV 59 groups of the HRV deep dive: Ja (HRV) and Nej (Ej HRV)."""
    sex_groups: tuple[int, ...] = (1, 2)
    collaboration_count_cap: int = 4
    """Diagram 13: 0, 1, 2, 3 and 4 or more partners."""
    top_profile: tuple[GroupDef, ...] = field(
        default_factory=lambda: (
            GroupDef("perpetrator_former_partner", Condition("perpetrator__2")),
            GroupDef("perpetrator_current_partner", Condition("perpetrator__1")),
            GroupDef("disability_no", Condition("disability__4")),
            GroupDef(
                "has_intervention",
                Condition("has_intervention"),
                Label("Fått insats", "Received an intervention"),
            ),
            GroupDef("grounds_decision", Condition("intervention_grounds__1")),
            GroupDef(
                "risk_assessed",
                Condition("risk_assessed"),
                Label("Riskbedömning gjord", "Risk assessed"),
            ),
            GroupDef(
                "no_collaboration",
                Condition("collaboration_count", (0,)),
                Label("Ingen samverkan", "No collaboration"),
            ),
        )
    )
    """The top-group comparison ("Vilka klienter går det bäst för?")."""
    diagram10_groups: tuple[GroupDef, ...] = field(
        default_factory=lambda: (
            GroupDef("honour_yes", Condition("honour_context", (1,))),
            GroupDef("goal_met", Condition("goal_followup", (1,))),
            GroupDef("origin_outside_europe", Condition("origin", (4,))),
            GroupDef(
                "age_18_24", Condition("age_band", ("18–24",)), Label("Ålder 18–24 år", "Age 18–24")
            ),
            GroupDef("violence_very_severe", Condition("violence_severity", (3,))),
            GroupDef(
                "risk_assessed",
                Condition("risk_assessed"),
                Label("Bedömningsinstrument har använts", "An assessment instrument was used"),
            ),
            GroupDef("disability_intellectual", Condition("disability__3")),
            GroupDef("all", None, Label("Genomsnitt", "Average")),
            GroupDef("honour_no", Condition("honour_context", (2,))),
            GroupDef("origin_sweden", Condition("origin", (1,))),
            GroupDef("violence_not_severe", Condition("violence_severity", (1,))),
            GroupDef(
                "risk_not_assessed",
                Condition("risk_assessed", negate=True),
                Label("Bedömningsinstrument har ej använts", "No assessment instrument was used"),
            ),
            GroupDef(
                "age_65_74", Condition("age_band", ("65–74",)), Label("Ålder 65–74 år", "Age 65–74")
            ),
        )
    )


DEFAULT_DEFINITIONS = Definitions()
