"""Rules that span values: exclusive options, duplicates, "registered as none",
skip logic. Pure functions over plain dicts; every problem is a FieldError
with a JSON pointer, in Swedish with English."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from app.catalogue.spec import Variable, VariableType
from app.errors import FieldError

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _err(pointer: str, code: str, sv: str, en: str) -> FieldError:
    return FieldError(pointer, code, sv, en)


def check_value(variable: Variable, value: Any, pointer: str) -> list[FieldError]:
    """Type and code checks for one value (used for local variables, which have
    no generated model, and as the single place for multi-choice rules)."""
    if value is None:
        return []
    kind = variable.type
    if kind is VariableType.single:
        if isinstance(value, bool) or not isinstance(value, int):
            return [_err(pointer, "type", "Ange en kod (heltal).", "Give a code (integer).")]
        if value not in variable.active_codes:
            return [
                _err(
                    pointer,
                    "unknown_code",
                    "Koden finns inte i kodlistan.",
                    "Code not in the code list.",
                )
            ]
        return []
    if kind is VariableType.multi:
        return check_multi(variable, value, pointer)
    if kind is VariableType.integer:
        if isinstance(value, bool) or not isinstance(value, int):
            return [_err(pointer, "type", "Ange ett heltal.", "Give an integer.")]
        if variable.minimum is not None and value < variable.minimum:
            return [
                _err(
                    pointer,
                    "too_small",
                    f"Värdet måste vara minst {variable.minimum}.",
                    f"Must be at least {variable.minimum}.",
                )
            ]
        if variable.maximum is not None and value > variable.maximum:
            return [
                _err(
                    pointer,
                    "too_large",
                    f"Värdet får vara högst {variable.maximum}.",
                    f"Must be at most {variable.maximum}.",
                )
            ]
        return []
    if kind is VariableType.date:
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            try:
                date.fromisoformat(value)
            except ValueError:
                pass
            else:
                return []
        return [_err(pointer, "date", "Ogiltigt datum (ÅÅÅÅ-MM-DD).", "Invalid date (YYYY-MM-DD).")]
    if not isinstance(value, str):
        return [_err(pointer, "type", "Ange en text.", "Give a text.")]
    if "\x00" in value:
        return [
            _err(
                pointer,
                "nul_character",
                "Texten innehåller otillåtna tecken (NUL).",
                "The text contains forbidden characters (NUL).",
            )
        ]
    if _SURROGATE.search(value):
        return [
            _err(
                pointer,
                "string_unicode",
                "Texten är inte giltig UTF-8.",
                "The text is not valid UTF-8.",
            )
        ]
    if len(value) > (variable.max_length or 2000):
        return [_err(pointer, "string_too_long", "Texten är för lång.", "The text is too long.")]
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
        return [_err(pointer, "type", "Ange en lista med koder.", "Give a list of codes.")]
    if len(value) > len(variable.options):
        return [_err(pointer, "too_long", "För många val.", "Too many choices.")]
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
    variables: Mapping[str, Variable], values: Mapping[str, Any], pointer_prefix: str
) -> list[FieldError]:
    """A variable asked only under a condition must be empty when it does not hold."""
    errors = []
    for variable in variables.values():
        cond = variable.applies_when
        if cond is None or values.get(variable.key) is None:
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
