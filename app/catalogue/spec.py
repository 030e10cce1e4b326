"""Pydantic spec of the catalogue YAML in ``variables/``.

The YAML is the single source of truth for every variable (DESIGN.md §3). These
models are frozen and forbid unknown keys, so a typo in a catalogue file is an
error at start-up and in CI, never a silently ignored field.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
# Local and regional variables are namespaced: ``k0180.my_variable`` (municipality)
# or ``l01.my_variable`` (county, län).
LOCAL_KEY_PATTERN = r"^(k\d{4}|l\d{2})\.[a-z][a-z0-9_]*$"


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Phase(StrEnum):
    bakgrund = "bakgrund"
    fore = "fore"
    under = "under"
    efter = "efter"
    brukarenkat = "brukarenkat"


class VariableType(StrEnum):
    single = "single"
    multi = "multi"
    date = "date"
    integer = "integer"
    text = "text"


class Text(Spec):
    """A text in Swedish and English; Arabic and Somali where clients read it."""

    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)
    ar: str | None = None
    so: str | None = None


class Option(Spec):
    code: int = Field(ge=1)
    label: Text
    exclusive: bool = False
    """An exclusive option ("Nej", "Vet ej") cannot be combined with others."""
    project_specific: bool = False
    """The asterisk in Bilaga 2: created by the SU-Kvinnofrid project."""
    retired: bool = False
    """Codes are never deleted once published; a retired code is no longer accepted."""


class CommentSpec(Spec):
    """The "Kommentar (möjlighet till)" item: free text, encrypted at rest."""

    code: int = Field(ge=1)
    label: Text


class Condition(Spec):
    """Skip logic: the variable is asked only when ``variable`` has one of ``any_of``."""

    variable: str = Field(pattern=KEY_PATTERN)
    any_of: tuple[int, ...] = Field(min_length=1)


class Storage(StrEnum):
    values = "values"
    """Catalogue-validated value in the case's JSON values."""
    structural = "structural"
    """A column of the case or unit (dates, unit, municipality, pseudonym)."""
    group = "group"
    """A field of a repeated record (intervention, risk assessment, survey)."""


class Variable(Spec):
    key: str = Field(pattern=KEY_PATTERN)
    suv: int | None = Field(default=None, ge=1)
    phase: Phase
    type: VariableType
    label: Text
    question: Text
    form_label: Text | None = None
    """A plain label for the field in a record's form, where the variable's
    name says more than the field asks (90: "Skattningsinstrument")."""
    survey_question: Text | None = None
    """The client-facing wording (the bracketed text of Bilaga 2), in sv/en/ar/so."""
    project_specific: bool = False
    options: tuple[Option, ...] = ()
    empty_allowed: bool = False
    """Multi-choice only: an empty list means "registered as none" (Diagram 13's 0 aktörer)."""
    comment: CommentSpec | None = None
    applies_when: Condition | None = None
    storage: Storage = Storage.values
    group: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = Field(default=None, ge=1)
    retired: bool = False
    note: str | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> Variable:
        coded = self.type in (VariableType.single, VariableType.multi)
        if coded and not self.options:
            raise ValueError(f"{self.type.value} variable needs options")
        if not coded and self.options:
            raise ValueError(f"{self.type.value} variable cannot have options")
        if self.empty_allowed and self.type is not VariableType.multi:
            raise ValueError("empty_allowed applies to multi-choice variables only")
        codes = [o.code for o in self.options]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate option codes")
        if self.comment is not None and self.comment.code in codes:
            raise ValueError("comment code collides with an option code")
        if (self.storage is Storage.group) != (self.group is not None):
            raise ValueError("storage 'group' and 'group' go together")
        if self.survey_question is not None:
            missing = [lang for lang in ("ar", "so") if getattr(self.survey_question, lang) is None]
            if missing:
                raise ValueError(f"survey_question lacks {', '.join(missing)}")
        return self

    def option(self, code: int) -> Option | None:
        return next((o for o in self.options if o.code == code), None)

    @property
    def active_codes(self) -> frozenset[int]:
        return frozenset(o.code for o in self.options if not o.retired)

    @property
    def exclusive_codes(self) -> frozenset[int]:
        return frozenset(o.code for o in self.options if o.exclusive)


class ExtraField(Spec):
    """A field of a repeated group that is not one of the 29 SUV variables."""

    key: str = Field(pattern=KEY_PATTERN)
    type: VariableType
    label: Text
    required: bool = True
    options: tuple[Option, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


class Group(Spec):
    """A repeated record of a case: intervention, risk assessment, survey response."""

    key: str = Field(pattern=KEY_PATTERN)
    label: Text
    phase: Phase
    max_per_case: int | None = Field(default=None, ge=1)
    extra_fields: tuple[ExtraField, ...] = ()


class CheckKind(StrEnum):
    values = "values"
    """Conditions on the case's values (and on whether it has records of a group)."""
    record = "record"
    """Conditions on the fields of one record of ``group``."""
    duplicate = "duplicate"
    """Two records of ``group`` alike in every field of ``same``."""


class When(Spec):
    """One condition of a consistency check: a variable (or field of the
    record) has one of ``any_of`` or is (not) registered; or the case has (no)
    records of a group."""

    variable: str | None = Field(default=None, pattern=KEY_PATTERN)
    records: str | None = Field(default=None, pattern=KEY_PATTERN)
    any_of: tuple[int, ...] = ()
    present: bool | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> When:
        if (self.variable is None) == (self.records is None):
            raise ValueError("a condition names either a variable or records")
        if self.records is not None and (self.present is None or self.any_of):
            raise ValueError("a records condition says only present: true or false")
        if self.variable is not None and (bool(self.any_of) == (self.present is not None)):
            raise ValueError("a variable condition has either any_of or present")
        return self


class ConsistencyCheck(Spec):
    """A combination a coordinator would question: saved, but with a warning
    (the API's ``warnings``, a confirmation on the web, the data-quality
    report). Hard rules are not here: they refuse the save."""

    key: str = Field(pattern=KEY_PATTERN)
    kind: CheckKind
    label: Text
    """A short name for lists (the data-quality report)."""
    message: Text
    """What is odd and what to check. ``{key}`` placeholders name fields of the
    record (or variables): an option's label, a date."""
    group: str | None = Field(default=None, pattern=KEY_PATTERN)
    when: tuple[When, ...] = ()
    same: tuple[str, ...] = ()
    points_at: str = Field(pattern=KEY_PATTERN)
    """The variable or field the warning is shown at."""

    @model_validator(mode="after")
    def _check_shape(self) -> ConsistencyCheck:
        if (self.kind is CheckKind.values) != (self.group is None):
            raise ValueError("record and duplicate checks name a group; values checks none")
        if self.kind is CheckKind.duplicate and (len(self.same) < 1 or self.when):
            raise ValueError("a duplicate check names the fields in same (and no when)")
        if self.kind is not CheckKind.duplicate and (self.same or not self.when):
            raise ValueError("a values or record check has conditions in when (and no same)")
        return self


class CatalogueFile(Spec):
    """One YAML file of ``variables/``."""

    kind: Literal["isu-catalogue"]
    format_version: Literal[1]
    name: str
    variables: tuple[Variable, ...] = ()
    groups: tuple[Group, ...] = ()
    checks: tuple[ConsistencyCheck, ...] = ()


class LocalVariable(Variable):
    """A municipality's or county's own variable, stored in the database as data."""

    key: Annotated[str, Field(pattern=LOCAL_KEY_PATTERN)]
    storage: Literal[Storage.values] = Storage.values


def owner_of_local_key(key: str) -> tuple[str, str]:
    """``k0180.x`` -> ("municipality", "0180"); ``l01.x`` -> ("county", "01")."""
    match = re.match(r"^(k|l)(\d+)\.", key)
    if match is None:
        raise ValueError("not a local variable key")
    return ("municipality" if match.group(1) == "k" else "county", match.group(2))
