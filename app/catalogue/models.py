"""Pydantic models generated from the catalogue.

The OpenAPI schema of every case body comes from here, so codes, labels and
limits are never repeated in code. Type-level checks (unknown variable, code
not in the list, wrong type, too many items) happen in these models; rules
that span variables (exclusive options, skip logic, dates) live in
:mod:`app.catalogue.validation`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from app.catalogue.loader import Catalogue
from app.catalogue.spec import ExtraField, Variable, VariableType
from app.patterns import ISO_DATE, unstorable

COMMENT_MAX_LENGTH = 4000


def no_nul(value: str) -> str:
    """Reject NUL characters and lone surrogates (never quoting the text)."""
    problem = unstorable(value)
    if problem is not None:
        raise PydanticCustomError(problem, "The text cannot be stored")
    return value


SafeText = Annotated[str, AfterValidator(no_nul)]


def _integer_only(value: Any) -> Any:
    """A code is a JSON integer: ``true`` and ``1.0`` are not code 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("code_type", "Give an integer code")
    return value


def _iso_date_only(value: Any) -> Any:
    """A date is ``YYYY-MM-DD``: no timestamps, datetimes or numbers."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_parsing", "Give a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def _codes(options: Any) -> Any:
    codes = tuple(o.code for o in options if not o.retired)
    return Annotated[Literal[codes], BeforeValidator(_integer_only)]


def annotation_for(variable: Variable | ExtraField) -> Any:
    """The Python type of one variable's value (without None)."""
    kind = variable.type
    if kind is VariableType.single:
        return _codes(variable.options)
    if kind is VariableType.multi:
        return Annotated[list[_codes(variable.options)], Field(max_length=len(variable.options))]  # type: ignore[misc]
    if kind is VariableType.integer:
        return Annotated[int, Field(strict=True, ge=variable.minimum, le=variable.maximum)]
    if kind is VariableType.date:
        return IsoDate
    max_length = getattr(variable, "max_length", None) or 2000
    return Annotated[SafeText, Field(max_length=max_length)]


def _describe(variable: Variable) -> str:
    suv = f"SUV {variable.suv}. " if variable.suv else ""
    return f"{suv}{variable.question.sv} ({variable.question.en})"


def values_model(name: str, variables: list[Variable]) -> type[BaseModel]:
    """A model with one optional field per variable; ``null`` clears a value."""
    fields: dict[str, Any] = {
        v.key: (
            annotation_for(v) | None,
            Field(default=None, title=v.label.sv, description=_describe(v)),
        )
        for v in variables
    }
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def comments_model(name: str, variables: list[Variable]) -> type[BaseModel]:
    """``{variable_key: comment}`` for variables that allow a comment."""
    text = Annotated[SafeText, Field(max_length=COMMENT_MAX_LENGTH)]
    fields: dict[str, Any] = {
        v.key: (
            text | None,
            Field(default=None, title=f"Kommentar: {v.label.sv}", description=v.comment.label.en),
        )
        for v in variables
        if v.comment is not None
    }
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def value_variables(catalogue: Catalogue) -> list[Variable]:
    """Variables stored in the case's values (every phase but the survey group)."""
    return [
        v for v in catalogue.variables.values() if v.storage.value == "values" and not v.retired
    ]


def group_model(
    catalogue: Catalogue,
    group: str,
    name: str,
    *,
    required: frozenset[str] = frozenset(),
    partial: bool = False,
    extra: dict[str, Any] | None = None,
) -> type[BaseModel]:
    """A repeated record: its SUV variables (``required`` ones must be given)
    and the group's extra fields."""
    fields: dict[str, Any] = {}
    for field in catalogue.groups[group].extra_fields:
        annotation = annotation_for(field)
        if field.required and not partial:
            fields[field.key] = (
                annotation,
                Field(title=field.label.sv, description=field.label.en),
            )
        else:
            fields[field.key] = (annotation | None, Field(default=None, title=field.label.sv))
    for variable in catalogue.group_variables(group):
        if variable.key in required:
            fields[variable.key] = (
                annotation_for(variable),
                Field(title=variable.label.sv, description=_describe(variable)),
            )
        else:
            fields[variable.key] = (
                annotation_for(variable) | None,
                Field(default=None, title=variable.label.sv, description=_describe(variable)),
            )
    fields.update(extra or {})
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)
