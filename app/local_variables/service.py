"""Defining and looking up local and regional variables.

They use the catalogue's own format (``LocalVariable``), are stored as data
(no code change, no migration) and are validated like shared variables.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.catalogue.spec import LocalVariable, owner_of_local_key
from app.errors import Conflict, FieldError, Forbidden, ValidationFailed, errors_from_pydantic
from app.models import LocalVariableDefinition
from app.reference import municipalities


def owner_prefix(principal: Principal) -> tuple[str, str]:
    """The namespace a principal may define variables in: ``k0180`` or ``l01``."""
    if principal.role == "coordinator" and principal.municipality_code:
        return "municipality", principal.municipality_code
    if principal.role == "regional" and principal.county_code:
        return "county", principal.county_code
    raise Forbidden("Din roll får inte definiera variabler.", "Your role may not define variables.")


def define(
    session: Session, principal: Principal, definition: dict[str, Any], *, export_opt_in: bool
) -> LocalVariableDefinition:
    try:
        variable = LocalVariable.model_validate(definition)
    except ValidationError as exc:
        errors = errors_from_pydantic(exc.errors(include_input=False))
        raise ValidationFailed(
            [FieldError("/definition" + e.pointer, e.code, e.detail, e.detail_en) for e in errors]
        ) from None
    kind, code = owner_prefix(principal)
    if owner_of_local_key(variable.key) != (kind, code):
        prefix = f"k{code}" if kind == "municipality" else f"l{code}"
        raise ValidationFailed(
            [
                FieldError(
                    "/definition/key",
                    "namespace",
                    f"Nyckeln måste börja med ”{prefix}.”.",
                    f"The key must start with “{prefix}.”.",
                )
            ]
        )
    if session.scalar(
        select(LocalVariableDefinition.id).where(LocalVariableDefinition.key == variable.key)
    ):
        raise Conflict(
            "Variabeln finns redan; nycklar återanvänds aldrig.",
            "The variable exists; keys are never reused.",
        )
    row = LocalVariableDefinition(
        key=variable.key,
        owner_kind=kind,
        owner_code=code,
        definition=variable.model_dump(mode="json", exclude_none=True),
        export_opt_in=export_opt_in,
    )
    session.add(row)
    session.flush()
    return row


def for_municipality(session: Session, municipality_code: str) -> dict[str, LocalVariable]:
    """Variables a case of this municipality may carry: its own and its county's."""
    municipality = municipalities().get(municipality_code)
    county = municipality.county_code if municipality else None
    rows = session.scalars(
        select(LocalVariableDefinition).where(
            LocalVariableDefinition.is_retired.is_(False),
            or_(
                (LocalVariableDefinition.owner_kind == "municipality")
                & (LocalVariableDefinition.owner_code == municipality_code),
                (LocalVariableDefinition.owner_kind == "county")
                & (LocalVariableDefinition.owner_code == (county or "")),
            ),
        )
    ).all()
    return {row.key: LocalVariable.model_validate(row.definition) for row in rows}


def visible(session: Session, principal: Principal) -> list[LocalVariableDefinition]:
    query = select(LocalVariableDefinition).order_by(LocalVariableDefinition.key)
    if principal.role in ("coordinator", "caseworker") and principal.municipality_code:
        keys = for_municipality(session, principal.municipality_code)
        query = query.where(LocalVariableDefinition.key.in_(keys))
    elif principal.role == "regional":
        query = query.where(
            LocalVariableDefinition.owner_kind == "county",
            LocalVariableDefinition.owner_code == principal.county_code,
        )
    return list(session.scalars(query).all())
