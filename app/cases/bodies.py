"""Request bodies of the case API, read so that every error is found at once.

FastAPI takes a case body as any JSON object (:func:`as_body`; the OpenAPI
schema is still the catalogue-generated model's, so the documentation, the
examples and Schemathesis see the real contract). :func:`read_body` then
validates it with that model and keeps the part that is valid: the services
check the rules across values, dates and records on that part and answer with
the type errors and the rule errors together, in one problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, GetJsonSchemaHandler, RootModel, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.errors import FieldError, errors_from_pydantic, escape_pointer_segment, field_error


@dataclass(frozen=True)
class Submitted:
    """The valid part of a body (as the model dumps it: only what was given)
    and the errors of the rest."""

    data: dict[str, Any]
    errors: tuple[FieldError, ...] = ()

    def failed(self, pointer: str) -> bool:
        """Whether the field at ``pointer`` (or anything under it) failed."""
        return any(e.pointer == pointer or e.pointer.startswith(pointer + "/") for e in self.errors)


def as_body(model: type[BaseModel]) -> type[RootModel[dict[str, Any]]]:
    """A body parameter that accepts any JSON object but documents ``model``."""

    def schema(
        cls: type[RootModel[dict[str, Any]]], core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        del cls, core
        return handler(model.__pydantic_core_schema__)

    body: type[RootModel[dict[str, Any]]] = type(
        model.__name__,
        (RootModel[dict[str, Any]],),
        {
            "__module__": __name__,
            "__doc__": model.__doc__,
            "__get_pydantic_json_schema__": classmethod(schema),
        },
    )
    return body


@cache
def _field_adapters(model: type[BaseModel]) -> dict[str, TypeAdapter[Any]]:
    return {
        name: TypeAdapter(Annotated[info.annotation, info])  # type: ignore[arg-type]
        for name, info in model.model_fields.items()
    }


def _dump(value: Any) -> Any:
    return value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value


def read_body(model: type[BaseModel], raw: Any) -> Submitted:
    """Validate ``raw`` with ``model``: every type error (in the register's
    vocabulary) and the fields that passed, as the services take them."""
    if not isinstance(raw, Mapping):
        return Submitted({}, (field_error("", "wrong_type", expected="object"),))
    try:
        return Submitted(model.model_validate(dict(raw)).model_dump(exclude_unset=True))
    except ValidationError as exc:
        found = exc.errors(include_url=False)
    errors = tuple(errors_from_pydantic(found))
    # Which fields failed: a whole field, or some keys of an object field
    # (``values/sex``: the other values are still checked).
    failed: dict[str, set[str] | None] = {}
    for err in found:
        loc = err.get("loc", ())
        if not loc:
            return Submitted({}, errors)
        top, rest = str(loc[0]), loc[1:]
        keys = failed.get(top, set())
        if rest and isinstance(rest[0], str) and keys is not None:
            keys.add(rest[0])
            failed[top] = keys
        else:
            failed[top] = None
    data: dict[str, Any] = {}
    adapters = _field_adapters(model)
    for name, value in raw.items():
        adapter = adapters.get(name)
        if adapter is None:
            continue
        if name in failed:
            keys = failed[name]
            if keys is None or not isinstance(value, Mapping):
                continue
            value = {k: v for k, v in value.items() if k not in keys}
        try:
            data[name] = _dump(adapter.validate_python(value))
        except ValidationError:
            continue
    return Submitted(data, errors)


def pointer(*parts: object) -> str:
    """A JSON pointer from its segments."""
    return "".join("/" + escape_pointer_segment(p) for p in parts)
