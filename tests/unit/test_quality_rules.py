"""The data-quality rules, from the catalogue alone (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.catalogue.loader import Catalogue, load_catalogue
from app.catalogue.spec import LocalVariable, Phase, Storage
from app.config import PROJECT_ROOT
from app.models import STATUSES
from app.quality.rules import AppliesTo, Source, build_checks
from app.quality.service import FUNNEL, RECORD_COLUMNS


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(Path(PROJECT_ROOT) / "variables")


def local(key: str, phase: str = "bakgrund", **extra: object) -> LocalVariable:
    return LocalVariable.model_validate(
        {
            "key": key,
            "phase": phase,
            "type": "single",
            "label": {"sv": "Lokal", "en": "Local"},
            "question": {"sv": "Fråga?", "en": "Question?"},
            "options": [{"code": 1, "label": {"sv": "Ja", "en": "Yes"}}],
            **extra,
        }
    )


def test_every_catalogue_variable_is_reported_or_deliberately_left_out(
    catalogue: Catalogue,
) -> None:
    checks = {c.key: c for c in build_checks(catalogue)}
    left_out = set(catalogue.variables) - set(checks)
    # Required at registration (1, 2, 4, 5), the funnel's "Avslutade" (256),
    # free text stored encrypted (217).
    assert left_out == {
        "unit_kind",
        "municipality",
        "client_id",
        "actualised_on",
        "closed_on",
        "survey_suggestions",
    }
    assert {k: (c.source, c.applies_to) for k, c in checks.items()} == {
        "caseworker_ref": (Source.structural, AppliesTo.all),
        "sex": (Source.values, AppliesTo.all),
        "age": (Source.values, AppliesTo.all),
        "age_basis": (Source.values, AppliesTo.all),
        "disability": (Source.values, AppliesTo.all),
        "origin": (Source.values, AppliesTo.all),
        "child_followup": (Source.values, AppliesTo.all),
        "contact_initiative": (Source.values, AppliesTo.all),
        "perpetrator": (Source.values, AppliesTo.all),
        "honour_context": (Source.values, AppliesTo.all),
        "violence_severity": (Source.values, AppliesTo.all),
        "risk_instrument": (Source.risk_assessment, AppliesTo.all),
        "change_goal": (Source.values, AppliesTo.all),
        "intervention_start_on": (Source.intervention, AppliesTo.past_actualisation),
        "intervention_type": (Source.intervention, AppliesTo.past_actualisation),
        "intervention_grounds": (Source.intervention, AppliesTo.past_actualisation),
        "collaboration": (Source.values, AppliesTo.past_actualisation),
        "implementation": (Source.values, AppliesTo.closed),
        "goal_followup": (Source.values, AppliesTo.closed),
        "closing_reason": (Source.values, AppliesTo.closed),
        "survey_violence_change": (Source.survey, AppliesTo.closed),
        "survey_support_importance": (Source.survey, AppliesTo.closed),
        "survey_positive": (Source.survey, AppliesTo.closed),
        "survey_influence": (Source.survey, AppliesTo.closed),
    }


def test_skip_logic_comes_from_the_catalogue(catalogue: Catalogue) -> None:
    checks = {c.key: c for c in build_checks(catalogue)}
    conditioned = {k: c for k, c in checks.items() if c.condition is not None}
    assert list(conditioned) == ["survey_support_importance"]
    check = conditioned["survey_support_importance"]
    assert check.condition == catalogue.variables["survey_support_importance"].applies_when
    assert check.condition_source is Source.survey
    assert check.condition_possible


def test_every_reported_record_variable_has_a_column(catalogue: Catalogue) -> None:
    """A new group variable in the catalogue needs its record column here."""
    for check in build_checks(catalogue):
        if check.source in RECORD_COLUMNS:
            _model, fields = RECORD_COLUMNS[check.source]
            assert check.key in fields, check.key


def test_funnel_is_the_status_order() -> None:
    assert [s.step for s in FUNNEL] == list(STATUSES)
    assert [s.base for s in FUNNEL] == [
        None,
        "aktualiserad",
        "aktualiserad",
        "avslutad",
        "avslutad",
        "avslutad",
    ]


@pytest.mark.parametrize(
    ("phase", "rule"),
    [
        ("bakgrund", AppliesTo.all),
        ("fore", AppliesTo.all),
        ("under", AppliesTo.past_actualisation),
        ("efter", AppliesTo.closed),
        ("brukarenkat", AppliesTo.closed),
    ],
)
def test_local_variables_follow_their_phase(
    catalogue: Catalogue, phase: str, rule: AppliesTo
) -> None:
    checks = build_checks(catalogue, [local("k0180.b"), local("k0180.a", phase)])
    locals_ = [c for c in checks if c.is_local]
    assert [c.key for c in locals_] == ["k0180.a", "k0180.b"]
    assert locals_[0].phase is Phase(phase)
    assert (locals_[0].source, locals_[0].applies_to) == (Source.values, rule)
    assert not any(c.is_local for c in checks if "." not in c.key)


def test_retired_variables_and_impossible_conditions(catalogue: Catalogue) -> None:
    retired = local("k0180.old", retired=True)
    on_multi = local("k0180.cond", applies_when={"variable": "disability", "any_of": [1]})
    checks = {c.key: c for c in build_checks(catalogue, [retired, on_multi])}
    assert "k0180.old" not in checks
    # A condition on a multi-choice never holds (validation compares one code).
    assert catalogue.variables["disability"].storage is Storage.values
    assert checks["k0180.cond"].condition_possible is False
