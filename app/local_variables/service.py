"""Defining and looking up local and regional variables.

They use the catalogue's own format (``LocalVariable``), are stored as data
(no code change, no migration) and are validated like shared variables.
Keys are never deleted or reused: a variable is retired, after which it takes
no new values while the values already stored stay readable.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import false, or_, select
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.principal import Principal
from app.catalogue.spec import LocalVariable, VariableType, owner_of_local_key
from app.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    ValidationFailed,
    errors_from_pydantic,
    field_error,
)
from app.models import LocalVariableDefinition
from app.patterns import unstorable
from app.reference import municipalities

MAX_OPTIONS = 100
MAX_TEXT = 2000


def owner_prefix(principal: Principal) -> tuple[str, str]:
    """The namespace a principal may define variables in: ``k0180`` or ``l01``."""
    if principal.role == "coordinator" and principal.municipality_code:
        return "municipality", principal.municipality_code
    if principal.role == "regional" and principal.county_code:
        return "county", principal.county_code
    raise Forbidden("Din roll får inte definiera variabler.", "Your role may not define variables.")


def _unsupported(variable: LocalVariable) -> list[FieldError]:
    """What the catalogue format allows but a local variable cannot do (yet)."""
    errors = []
    if variable.type is VariableType.text:
        # Values are stored in the case's JSON in the clear; free text is only
        # ever stored encrypted (comments).
        errors.append(
            FieldError(
                "/definition/type",
                "local_text",
                "En lokal variabel kan inte vara fritext; använd en kodad variabel.",
                "A local variable cannot be free text; use a coded variable.",
            )
        )
    if variable.comment is not None:
        errors.append(
            FieldError(
                "/definition/comment",
                "local_comment",
                "Lokala variabler kan inte ha kommentar.",
                "Local variables cannot have a comment.",
            )
        )
    if variable.applies_when is not None:
        errors.append(
            FieldError(
                "/definition/applies_when",
                "local_skip_logic",
                "Lokala variabler kan inte ha hopplogik.",
                "Local variables cannot have skip logic.",
            )
        )
    if variable.retired:
        errors.append(
            FieldError(
                "/definition/retired",
                "retired",
                "En ny variabel kan inte vara avregistrerad.",
                "A new variable cannot be retired.",
            )
        )
    if len(variable.options) > MAX_OPTIONS:
        errors.append(
            FieldError(
                "/definition/options",
                "too_many",
                f"Högst {MAX_OPTIONS} svarsalternativ.",
                f"At most {MAX_OPTIONS} options.",
            )
        )
    return errors


def _text_error(text: str, pointer: str) -> FieldError | None:
    problem = unstorable(text)
    if problem is not None:
        return field_error(pointer, problem)
    if len(text) > MAX_TEXT:
        return field_error(pointer, "too_long", limit=MAX_TEXT)
    return None


def _text_errors(value: Any, pointer: str) -> list[FieldError]:
    """Texts (and object keys) a database cannot store or nobody should: NUL,
    lone surrogates, huge. Iterative, so deep nesting cannot exhaust the stack."""
    errors: list[FieldError] = []
    stack: list[tuple[Any, str]] = [(value, pointer)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                name = str(key)
                safe = name.encode("utf-8", "replace").decode("utf-8").replace("\x00", "?")
                child_pointer = f"{where}/{_escape(safe)}"
                error = _text_error(name, child_pointer)
                if error is not None:
                    errors.append(error)
                else:
                    stack.append((child, child_pointer))
        elif isinstance(item, list):
            stack.extend((child, f"{where}/{i}") for i, child in enumerate(item))
        elif isinstance(item, str):
            error = _text_error(item, where)
            if error is not None:
                errors.append(error)
    return sorted(errors, key=lambda e: e.pointer)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def define(
    session: Session,
    principal: Principal,
    definition: dict[str, Any],
    *,
    export_opt_in: bool,
    request_id: str | None = None,
) -> LocalVariableDefinition:
    kind, code = owner_prefix(principal)
    errors = _text_errors(definition, "/definition")
    if errors:
        raise ValidationFailed(errors)
    try:
        variable = LocalVariable.model_validate(definition)
    except ValidationError as exc:
        errors = errors_from_pydantic(exc.errors(include_input=False))
        raise ValidationFailed(
            [FieldError("/definition" + e.pointer, e.code, e.detail, e.detail_en) for e in errors]
        ) from None
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
    errors = _unsupported(variable)
    if errors:
        raise ValidationFailed(errors)
    exists_error = Conflict(
        "Variabeln finns redan; nycklar återanvänds aldrig.",
        "The variable exists; keys are never reused.",
    )
    if session.scalar(
        select(LocalVariableDefinition.id).where(LocalVariableDefinition.key == variable.key)
    ):
        raise exists_error
    row = LocalVariableDefinition(
        id=uuid.uuid4(),
        key=variable.key,
        owner_kind=kind,
        owner_code=code,
        definition=variable.model_dump(mode="json", exclude_none=True),
        export_opt_in=export_opt_in,
        is_retired=False,
    )
    try:
        with session.begin_nested():  # a concurrent definition of the same key
            session.add(row)
    except DbIntegrityError:
        raise exists_error from None
    session.info.pop(LOCAL_VARS_CACHE, None)
    audit(session, principal, "local_variable.create", row.id, [row.key], request_id)
    return row


LOCAL_VARS_CACHE = "isu.local_vars"


def for_municipality(session: Session, municipality_code: str) -> dict[str, LocalVariable]:
    """Variables a case of this municipality may take new values for: its own
    and its county's, not retired (read once per session: an import asks per line)."""
    cache: dict[str, dict[str, LocalVariable]] = session.info.setdefault(LOCAL_VARS_CACHE, {})
    found = cache.get(municipality_code)
    if found is None:
        found = cache[municipality_code] = {
            row.key: LocalVariable.model_validate(row.definition)
            for row in _of_municipality(session, municipality_code, include_retired=False)
        }
    return found


def _county_of(municipality_code: str) -> str | None:
    municipality = municipalities().get(municipality_code)
    return municipality.county_code if municipality else None


def _of_municipality(
    session: Session, municipality_code: str, *, include_retired: bool
) -> list[LocalVariableDefinition]:
    county = _county_of(municipality_code)
    query = select(LocalVariableDefinition).where(
        or_(
            (LocalVariableDefinition.owner_kind == "municipality")
            & (LocalVariableDefinition.owner_code == municipality_code),
            (LocalVariableDefinition.owner_kind == "county")
            & (LocalVariableDefinition.owner_code == (county or "")),
        )
    )
    if not include_retired:
        query = query.where(LocalVariableDefinition.is_retired.is_(False))
    return list(session.scalars(query.order_by(LocalVariableDefinition.key)).all())


def visible(session: Session, principal: Principal) -> list[LocalVariableDefinition]:
    """The definitions a principal may see, retired ones included (flagged).

    Caseworkers and coordinators: their municipality's and county's. Regional:
    the county's own and those of the county's municipalities that opted in to
    export. National: every opted-in variable. Admin: all (installation work).
    """
    if principal.role in ("coordinator", "caseworker"):
        return _of_municipality(session, principal.municipality_code or "", include_retired=True)
    query = select(LocalVariableDefinition).order_by(LocalVariableDefinition.key)
    if principal.role == "regional":
        in_county = [
            m.code for m in municipalities().values() if m.county_code == principal.county_code
        ]
        query = query.where(
            or_(
                (LocalVariableDefinition.owner_kind == "county")
                & (LocalVariableDefinition.owner_code == (principal.county_code or "")),
                (LocalVariableDefinition.owner_kind == "municipality")
                & LocalVariableDefinition.owner_code.in_(in_county)
                & LocalVariableDefinition.export_opt_in.is_(True),
            )
        )
    elif principal.role == "national":
        query = query.where(LocalVariableDefinition.export_opt_in.is_(True))
    elif principal.role != "admin":
        query = query.where(false())
    return list(session.scalars(query).all())


def visible_by_id(
    session: Session, principal: Principal, variable_id: uuid.UUID
) -> LocalVariableDefinition:
    row = next((r for r in visible(session, principal) if r.id == variable_id), None)
    if row is None:
        raise NotFound()
    return row


def list_visible(
    session: Session, principal: Principal, request_id: str | None = None
) -> list[LocalVariableDefinition]:
    rows = visible(session, principal)
    audit(session, principal, "local_variable.list", None, [], request_id)
    return rows


def retire(
    session: Session,
    principal: Principal,
    variable_id: uuid.UUID,
    request_id: str | None = None,
) -> LocalVariableDefinition:
    """Retire a variable (owner only). Retiring twice changes nothing."""
    row = visible_by_id(session, principal, variable_id)
    if owner_prefix(principal) != (row.owner_kind, row.owner_code):
        raise Forbidden(
            "Bara den kommun eller det län som äger variabeln kan avregistrera den.",
            "Only the municipality or county that owns the variable can retire it.",
        )
    if not row.is_retired:
        row.is_retired = True
        row.definition = {**row.definition, "retired": True}
        session.flush()
    session.info.pop(LOCAL_VARS_CACHE, None)
    audit(session, principal, "local_variable.retire", row.id, [row.key], request_id)
    return row


def as_dict(row: LocalVariableDefinition) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.key,
        "owner_kind": row.owner_kind,
        "owner_code": row.owner_code,
        "definition": row.definition,
        "export_opt_in": row.export_opt_in,
        "is_retired": row.is_retired,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def audit(
    session: Session,
    principal: Principal,
    action: str,
    object_id: uuid.UUID | None,
    fields: list[str],
    request_id: str | None,
) -> None:
    """One event per call; variable keys are names, never values."""
    record(
        session,
        actor=principal.actor,
        action=action,
        object_type="local_variable",
        object_id=object_id,
        fields=fields,
        request_id=request_id,
    )
