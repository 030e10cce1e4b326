"""The bulk import line format (JSON Lines), generated from the catalogue.

One case per line: the body of ``POST /api/v1/cases`` (without ``unit_id``)
plus the case's own id in the sending system (``source_ref``), where it
belongs (``municipality``, ``unit``) and its later phases (``interventions``,
``risk_assessments``, ``close``, ``survey``) in the bodies of their API calls.
See ``docs/data.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from app.cases.schemas import CaseSchemas
from app.catalogue.models import SafeText
from app.errors import FieldError, errors_from_pydantic

MAX_RECORDS = 200
"""Most interventions or risk assessments on one line."""


def build_line_model(schemas: CaseSchemas) -> type[BaseModel]:
    create = schemas.create.model_fields

    def same_as_create(name: str) -> tuple[Any, Any]:
        field = create[name]
        return (field.annotation, field)

    fields: dict[str, Any] = {
        "source_ref": (
            Annotated[SafeText, Field(min_length=1, max_length=64)],
            Field(description="Ärendets id i verksamhetssystemet; unikt per kommun."),
        ),
        "municipality": (Annotated[str, Field(pattern=r"^[0-9]{4}$")] | None, None),
        "unit": (Annotated[SafeText, Field(min_length=1, max_length=200)] | None, None),
        "unit_kind": (Literal[1, 2, 3, 4] | None, None),
        "district": (Annotated[str, Field(max_length=10)] | None, None),
        "client_id": same_as_create("client_id"),
        "actualised_on": same_as_create("actualised_on"),
        "caseworker_ref": same_as_create("caseworker_ref"),
        "values": same_as_create("values"),
        "comments": same_as_create("comments"),
        "local_values": same_as_create("local_values"),
        "interventions": (list[schemas.intervention_in], Field(default=[], max_length=MAX_RECORDS)),  # type: ignore[name-defined]
        "risk_assessments": (list[schemas.risk_in], Field(default=[], max_length=MAX_RECORDS)),  # type: ignore[name-defined]
        "close": (schemas.close | None, None),
        "survey": (schemas.survey_in | None, None),
    }
    return create_model("ImportLine", __config__=ConfigDict(extra="forbid"), **fields)


def parse_line(
    model: type[BaseModel], text: str | bytes
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The line as a dict of only the fields it sets, or the problems with it."""
    try:
        parsed = model.model_validate_json(text)
    except ValidationError as exc:
        return None, errors_from_pydantic(exc.errors(include_input=False))
    return parsed.model_dump(exclude_unset=True), []


def numbered_lines(chunks: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, text) for every non-blank line, numbered from 1."""
    for number, text in enumerate(chunks, start=1):
        if text.strip():
            yield number, text


LineKind = Literal["created", "unchanged"]


def json_objects(texts: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The lines that are JSON objects, leniently (a look ahead, not a check)."""
    for text in texts:
        try:
            found = json.loads(text)
        except ValueError:
            continue
        if isinstance(found, dict):
            yield found
