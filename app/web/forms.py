"""Forms generated from the catalogue, and form posts turned into API bodies.

A form field is named after the JSON pointer of the API body it fills
(``values/sex``, ``comments/sex``, ``local_values/k0180.x``, ``closed_on``), so
an error from the service (``/values/sex``) lands next to its field without a
mapping table. Labels, help texts (the catalogue's question), options,
exclusive options, skip logic, limits and comment fields all come from the
catalogue; nothing here names a variable.

A post is parsed into the same body the API takes, read with the same
catalogue-generated model (:func:`app.cases.bodies.read_body`) and handed to
the same service function, which answers with every error at once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.cases.consistency import CaseWarning
from app.catalogue.spec import ExtraField, Variable, VariableType
from app.errors import FieldError

NONE_VALUE = "none"
"""The value of the "registered as none" box of a multi-choice that allows it."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    exclusive: bool = False


@dataclass(frozen=True)
class Field:
    """One input (or group of inputs) of a form."""

    name: str
    """The body pointer without its leading slash: ``values/sex``."""
    kind: str
    """single, multi, integer, date, text, comment, select, password, hidden, checkbox."""
    label: str
    hint: str | None = None
    choices: tuple[Choice, ...] = ()
    required: bool = False
    suv: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    applies_when: tuple[str, tuple[str, ...]] | None = None
    """(name of the controlling field, its values for which this field is asked)."""
    comment: Field | None = None
    """The variable's "Kommentar (möjlighet till)" field, shown with it."""
    project_specific: bool = False
    clearable: bool = False
    """Offer "Ej registrerat" (a single choice can be taken back to not registered)."""
    autocomplete: str = "off"

    @property
    def pointer(self) -> str:
        return "/" + self.name

    @property
    def html_id(self) -> str:
        return "f-" + re.sub(r"[^a-zA-Z0-9_-]+", "-", self.name)

    @property
    def as_select(self) -> bool:
        """A long single choice is a drop-down list rather than radios."""
        return self.kind == "single" and len(self.choices) > 8

    @property
    def is_group(self) -> bool:
        """Rendered as a fieldset (radios and checkboxes) rather than a label."""
        return self.kind in ("single", "multi") and not self.as_select

    def flat(self) -> list[Field]:
        return [self, *([self.comment] if self.comment else [])]


def _text(label: Any, lang: str) -> str:
    value = getattr(label, lang, None)
    return str(value) if value else str(label.sv)


def variable_field(
    variable: Variable,
    prefix: str = "values",
    *,
    lang: str = "sv",
    survey: bool = False,
    with_comment: bool = True,
    comment_prefix: str = "comments",
    none_label: str | None = None,
) -> Field:
    """The field of one catalogue (or local) variable. ``survey``: the
    client-facing wording (``survey_question``) in ``lang``."""
    name = f"{prefix}/{variable.key}" if prefix else variable.key
    options = tuple(
        Choice(str(o.code), _text(o.label, lang), o.exclusive)
        for o in variable.options
        if not o.retired
    )
    if variable.type is VariableType.multi and variable.empty_allowed and none_label:
        options = (*options, Choice(NONE_VALUE, none_label, exclusive=True))
    condition = None
    if variable.applies_when is not None:
        target = variable.applies_when.variable
        controller = f"{prefix}/{target}" if prefix else target
        condition = (controller, tuple(str(c) for c in variable.applies_when.any_of))
    comment = None
    if with_comment and variable.comment is not None:
        comment_name = f"{comment_prefix}/{variable.key}" if comment_prefix else variable.key
        comment = Field(
            name=comment_name,
            kind="comment",
            label=_text(variable.comment.label, lang),
            max_length=4000,
        )
    if survey and variable.survey_question is not None:
        label, hint = _text(variable.survey_question, lang), None
    else:
        label, hint = _text(variable.label, lang), _text(variable.question, lang)
        if hint == label:
            hint = None
    return Field(
        name=name,
        kind=variable.type.value,
        label=label,
        hint=hint,
        choices=options,
        suv=None if survey else variable.suv,
        minimum=variable.minimum,
        maximum=variable.maximum,
        max_length=variable.max_length or (2000 if variable.type is VariableType.text else None),
        applies_when=condition,
        comment=comment,
        project_specific=variable.project_specific and not survey,
    )


def extra_field(extra: ExtraField, prefix: str = "", *, lang: str = "sv") -> Field:
    """A field of a repeated group that is not an SUV variable (assessed_on, …)."""
    return Field(
        name=f"{prefix}/{extra.key}" if prefix else extra.key,
        kind=extra.type.value,
        label=_text(extra.label, lang),
        choices=tuple(
            Choice(str(o.code), _text(o.label, lang)) for o in extra.options if not o.retired
        ),
        required=extra.required,
        minimum=extra.minimum,
        maximum=extra.maximum,
    )


# --- form state --------------------------------------------------------------


@dataclass
class FormState:
    """What a form shows: raw values per field name, errors per field name."""

    fields: list[Field]
    raw: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, list[FieldError]] = field(default_factory=dict)
    general: list[FieldError] = field(default_factory=list)
    """Errors that name no field of this form (or the whole request)."""
    warnings: list[CaseWarning] = field(default_factory=list)
    """Warnings the save would bring; it waits for a confirmation."""

    @property
    def confirm_token(self) -> str:
        """Names exactly the warnings shown: a confirmation holds for those."""
        return confirmation_token(self.warnings)

    def warning_summary(self) -> list[tuple[CaseWarning, Field | None]]:
        """The warnings, each with the field of this form it points at (if any)."""
        by_name = {f.name: f for f in self.all_fields()}
        return [(w, by_name.get(w.pointer.lstrip("/"))) for w in self.warnings]

    def field_warnings(self, name: str) -> list[CaseWarning]:
        return [w for w in self.warnings if w.pointer.lstrip("/") == name]

    def values(self, name: str) -> list[str]:
        return self.raw.get(name, [])

    def value(self, name: str) -> str:
        values = self.raw.get(name)
        return values[0] if values else ""

    def field_errors(self, name: str) -> list[FieldError]:
        return self.errors.get(name, [])

    def all_fields(self) -> list[Field]:
        return [f for top in self.fields for f in top.flat()]

    def summary(self) -> list[tuple[FieldError, Field | None]]:
        """Every error, in the order of the form, with its field (for links)."""
        by_name = {f.name: f for f in self.all_fields()}
        items: list[tuple[FieldError, Field | None]] = [(e, None) for e in self.general]
        for f in self.all_fields():
            items += [(e, by_name[f.name]) for e in self.errors.get(f.name, [])]
        return items

    @property
    def has_errors(self) -> bool:
        return bool(self.general or any(self.errors.values()))

    def attach(self, errors: Iterable[FieldError]) -> None:
        """Put each error next to the field its pointer names (its longest
        prefix among the form's fields), or in ``general``."""
        names = sorted((f.name for f in self.all_fields()), key=len, reverse=True)
        for error in errors:
            path = error.pointer.lstrip("/")
            target = next((n for n in names if path == n or path.startswith(n + "/")), None)
            if target is None:
                self.general.append(error)
            else:
                self.errors.setdefault(target, []).append(error)


def raw_from_values(fields: Sequence[Field], body: Mapping[str, Any]) -> dict[str, list[str]]:
    """The raw form values that show ``body`` (an API-shaped dict) in the form."""
    raw: dict[str, list[str]] = {}
    for f in (x for top in fields for x in top.flat()):
        value = _lookup(body, f.name)
        if value is None:
            continue
        if f.kind == "multi":
            raw[f.name] = [str(v) for v in value] if value else [NONE_VALUE]
        elif isinstance(value, bool):
            raw[f.name] = ["on"] if value else []
        elif isinstance(value, date):
            raw[f.name] = [value.isoformat()]
        else:
            raw[f.name] = [str(value)]
    return raw


def _lookup(body: Mapping[str, Any], name: str) -> Any:
    head, _, rest = name.partition("/")
    if not rest:
        return body.get(head)
    inner = body.get(head)
    return inner.get(rest) if isinstance(inner, Mapping) else None


def raw_from_form(fields: Sequence[Field], form: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {
        f.name: list(form.get(f.name, []))
        for top in fields
        for f in top.flat()
        if f.kind != "password"
    }


def _put(body: dict[str, Any], name: str, value: Any) -> None:
    head, _, rest = name.partition("/")
    if not rest:
        body[head] = value
    else:
        body.setdefault(head, {})[rest] = value


def _error(f: Field, code: str, sv: str, en: str) -> FieldError:
    return FieldError(f.pointer, code, sv, en)


def parse(
    fields: Sequence[Field], form: Mapping[str, list[str]]
) -> tuple[dict[str, Any], list[FieldError]]:
    """Turn a post into an API-shaped body. An empty field is ``None`` (not
    registered); a multi-choice's "registered as none" box is ``[]``."""
    body: dict[str, Any] = {}
    errors: list[FieldError] = []
    for f in (x for top in fields for x in top.flat()):
        given = [v for v in form.get(f.name, []) if v is not None]
        first = given[0].strip() if given else ""
        if f.kind == "multi":
            chosen = [v.strip() for v in given if v.strip()]
            if not chosen:
                _put(body, f.name, None)
            elif NONE_VALUE in chosen:
                if len(chosen) > 1:
                    none = next((c.label for c in f.choices if c.value == NONE_VALUE), NONE_VALUE)
                    errors.append(
                        _error(
                            f,
                            "exclusive",
                            f"”{none}” kan inte kombineras med andra alternativ.",
                            "“None” cannot be combined with other options.",
                        )
                    )
                _put(body, f.name, [])
            else:
                codes = [_int(v) for v in chosen]
                if any(c is None for c in codes):
                    errors.append(_error(f, "unknown_code", "Ogiltigt val.", "Invalid choice."))
                    continue
                _put(body, f.name, sorted({c for c in codes if c is not None}))
        elif f.kind in ("single", "integer", "select_int"):
            if not first:
                _put(body, f.name, None)
                continue
            number = _int(first)
            if number is None:
                sv, en = (
                    ("Ange ett heltal.", "Give an integer.")
                    if f.kind == "integer"
                    else ("Ogiltigt val.", "Invalid choice.")
                )
                errors.append(_error(f, "wrong_type", sv, en))
                continue
            _put(body, f.name, number)
        elif f.kind == "checkbox":
            _put(body, f.name, bool(given))
        elif f.kind in ("date", "select", "hidden"):
            _put(body, f.name, first or None)
        else:  # text, comment, password: kept as typed (only blank is "nothing")
            text = given[0] if given else ""
            _put(body, f.name, text if text.strip() else None)
    return body, errors


def _int(text: str) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"-?[0-9]{1,9}", text):
        return None
    return int(text)


def confirmation_token(warnings: Iterable[CaseWarning]) -> str:
    """A short digest of warnings (code and text), posted back with "Spara ändå"."""
    digest = hashlib.sha256()
    for code, detail in sorted(w.identity for w in warnings):
        digest.update(f"{code}\x1f{detail}\x1e".encode())
    return digest.hexdigest()[:20]


def changed(body: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``body`` that differs from ``stored`` (same shape), so that
    an update names only what the person changed (history and audit)."""
    result: dict[str, Any] = {}
    for key, value in body.items():
        old = stored.get(key)
        if isinstance(value, dict):
            inner = {
                k: v for k, v in value.items() if _comparable(v) != _comparable((old or {}).get(k))
            }
            if inner:
                result[key] = inner
        elif _comparable(value) != _comparable(old):
            result[key] = value
    return result


def _comparable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return sorted(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value
