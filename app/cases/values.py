"""Merging submitted values into a case's stored values, with the checks that
span variables. Missing (key absent) and "registered as none" (``[]``) stay
distinct; ``null`` in a request clears a value."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from app.catalogue.loader import Catalogue
from app.catalogue.spec import LocalVariable, Phase, Variable, VariableType
from app.catalogue.validation import check_multi, check_skip_logic, check_value, normalise_multi
from app.errors import FieldError


def merge_values(
    catalogue: Catalogue,
    stored: Mapping[str, Any],
    incoming: Mapping[str, Any],
    *,
    is_closed: bool,
    pointer: str = "/values",
    undecided: Collection[str] = (),
) -> tuple[dict[str, Any], list[FieldError]]:
    """``undecided``: keys whose submitted value failed its type check (not in
    ``incoming``); rules that read them are not judged."""
    merged = dict(stored)
    errors: list[FieldError] = []
    for key, value in incoming.items():
        variable = catalogue.variables[key]
        if value is None:
            merged.pop(key, None)
            continue
        if variable.type is VariableType.multi:
            errors += check_multi(variable, value, f"{pointer}/{key}")
        if variable.phase is Phase.efter and not is_closed:
            errors.append(
                FieldError(
                    f"{pointer}/{key}",
                    "case_not_closed",
                    "Uppgiften registreras när ärendet avslutas.",
                    "This is registered when the case is closed.",
                )
            )
        merged[key] = normalise_multi(variable, value)
    errors += check_skip_logic(catalogue.variables, merged, pointer, undecided)
    return merged, errors


def merge_local(
    local: Mapping[str, LocalVariable],
    stored: Mapping[str, Any],
    incoming: Mapping[str, Any],
    *,
    pointer: str = "/local_values",
) -> tuple[dict[str, Any], list[FieldError]]:
    merged = dict(stored)
    errors: list[FieldError] = []
    for key, value in incoming.items():
        variable: Variable | None = local.get(key)
        escaped = key.replace("~", "~0").replace("/", "~1")
        if variable is None:
            errors.append(
                FieldError(
                    f"{pointer}/{escaped}",
                    "unknown_variable",
                    "Okänd variabel för kommunen.",
                    "Unknown variable for this municipality.",
                )
            )
            continue
        if value is None:
            merged.pop(key, None)
            continue
        errors += check_value(variable, value, f"{pointer}/{escaped}")
        merged[key] = normalise_multi(variable, value)
    return merged, errors


def merge_texts(stored: Mapping[str, str], incoming: Mapping[str, str | None]) -> dict[str, str]:
    merged = dict(stored)
    for key, text in incoming.items():
        if text is None or not text.strip():
            merged.pop(key, None)
        else:
            merged[key] = text
    return merged


def split_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(shared, local): local keys are namespaced with a dot."""
    shared = {k: v for k, v in values.items() if "." not in k}
    local = {k: v for k, v in values.items() if "." in k}
    return shared, local
