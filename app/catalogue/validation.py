"""Rules that span values: exclusive options, duplicates, "registered as none",
skip logic. Pure functions over plain dicts; every problem is a FieldError
with a JSON pointer, in Swedish with English."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from app.catalogue.spec import Variable, VariableType
from app.errors import FieldError, field_error
from app.patterns import ISO_DATE, unstorable


def _err(pointer: str, code: str, sv: str, en: str) -> FieldError:
    return FieldError(pointer, code, sv, en)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_value(variable: Variable, value: Any, pointer: str) -> list[FieldError]:
    """Type and code checks for one value, with the same codes and messages as
    the catalogue-generated models (local variables have no generated model;
    multi-choice rules live only here)."""
    if value is None:
        return []
    kind = variable.type
    if kind is VariableType.single:
        if not _is_integer(value):
            return [field_error(pointer, "wrong_type", expected="code")]
        if value not in variable.active_codes:
            return [field_error(pointer, "unknown_code")]
        return []
    if kind is VariableType.multi:
        return check_multi(variable, value, pointer)
    if kind is VariableType.integer:
        if not _is_integer(value):
            return [field_error(pointer, "wrong_type", expected="integer")]
        if variable.minimum is not None and value < variable.minimum:
            return [field_error(pointer, "too_small", limit=variable.minimum)]
        if variable.maximum is not None and value > variable.maximum:
            return [field_error(pointer, "too_large", limit=variable.maximum)]
        return []
    if kind is VariableType.date:
        if isinstance(value, str) and ISO_DATE.fullmatch(value):
            try:
                date.fromisoformat(value)
            except ValueError:
                pass
            else:
                return []
        return [field_error(pointer, "invalid_date")]
    if not isinstance(value, str):
        return [field_error(pointer, "wrong_type", expected="text")]
    problem = unstorable(value)
    if problem is not None:
        return [field_error(pointer, problem)]
    limit = variable.max_length or 2000
    if len(value) > limit:
        return [field_error(pointer, "too_long", limit=limit)]
    return []


def _labels(variable: Variable, codes: frozenset[int], lang: str) -> str:
    quote = ("”", "”") if lang == "sv" else ("“", "”")
    names = [
        f"{quote[0]}{getattr(o.label, lang)}{quote[1]}" for o in variable.options if o.code in codes
    ]
    joiner = " eller " if lang == "sv" else " or "
    return joiner.join(names)


def check_multi(variable: Variable, value: Any, pointer: str) -> list[FieldError]:
    if not isinstance(value, list):
        return [field_error(pointer, "wrong_type", expected="list")]
    if len(value) > len(variable.options):
        return [field_error(pointer, "too_many", limit=len(variable.options))]
    exclusive_codes = variable.exclusive_codes
    if not value and not variable.empty_allowed:
        sv, en = "Välj minst ett alternativ.", "Choose at least one option."
        if exclusive_codes:  # name the options that say "none" (e.g. Nej, Vet ej)
            sv = f"Välj minst ett alternativ, t.ex. {_labels(variable, exclusive_codes, 'sv')}."
            en = f"Choose at least one option, e.g. {_labels(variable, exclusive_codes, 'en')}."
        return [_err(pointer, "empty", sv, en)]
    errors = []
    as_single = variable.model_copy(update={"type": VariableType.single})
    for i, code in enumerate(value):
        errors += check_value(as_single, code, f"{pointer}/{i}")
    if errors:
        return errors
    if len(set(value)) != len(value):
        return [
            _err(
                pointer,
                "duplicate",
                "Samma alternativ är valt flera gånger.",
                "The same option is chosen twice.",
            )
        ]
    chosen = exclusive_codes & set(value)
    if chosen and len(value) > 1:
        return [
            _err(
                pointer,
                "exclusive",
                f"{_labels(variable, frozenset(chosen), 'sv')} kan inte kombineras med andra alternativ.",
                f"{_labels(variable, frozenset(chosen), 'en')} cannot be combined with other options.",
            )
        ]
    return []


def check_skip_logic(
    variables: Mapping[str, Variable],
    values: Mapping[str, Any],
    pointer_prefix: str,
    undecided: Collection[str] = (),
) -> list[FieldError]:
    """A variable asked only under a condition must be empty when it does not
    hold. ``undecided``: keys whose submitted value failed its own check, so
    the conditions on them cannot be judged (their error is reported already)."""
    errors = []
    for variable in variables.values():
        cond = variable.applies_when
        if cond is None or values.get(variable.key) is None or cond.variable in undecided:
            continue
        if values.get(cond.variable) not in cond.any_of:
            source = variables[cond.variable]
            allowed_sv = ", ".join(o.label.sv for o in source.options if o.code in cond.any_of)
            allowed_en = ", ".join(o.label.en for o in source.options if o.code in cond.any_of)
            errors.append(
                _err(
                    f"{pointer_prefix}/{variable.key}",
                    "skip_logic",
                    f"Besvaras bara när ”{source.label.sv}” är: {allowed_sv}.",
                    f"Only answered when “{source.label.en}” is: {allowed_en}.",
                )
            )
    return errors


def normalise_multi(variable: Variable, value: Any) -> Any:
    """Multi-choice values are stored sorted, so equal sets compare equal."""
    if variable.type is VariableType.multi and isinstance(value, list):
        return sorted(value)
    return value
