"""Load and check the catalogue YAML files; compute the catalogue version."""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.catalogue.spec import (
    CatalogueFile,
    CheckKind,
    ConsistencyCheck,
    ExtraField,
    Group,
    Phase,
    Storage,
    Variable,
    VariableType,
)
from app.yaml_data import load_yaml


class CatalogueError(Exception):
    """A catalogue file is malformed; the message names the file, entry and problem."""


@dataclass(frozen=True)
class Catalogue:
    variables: Mapping[str, Variable]
    groups: Mapping[str, Group]
    version: str
    files: tuple[str, ...] = field(default=())
    checks: Mapping[str, ConsistencyCheck] = field(default_factory=dict)
    """Consistency checks that warn without refusing (``variables/checks.yaml``)."""

    def variable(self, key: str) -> Variable | None:
        return self.variables.get(key)

    def by_suv(self, suv: int) -> Variable | None:
        return next((v for v in self.variables.values() if v.suv == suv), None)

    def phase_values(self, phase: Phase) -> list[Variable]:
        """Variables stored in the case's JSON values for one phase."""
        return [
            v
            for v in self.variables.values()
            if v.phase is phase and v.storage is Storage.values and not v.retired
        ]

    def group_variables(self, group: str) -> list[Variable]:
        return [v for v in self.variables.values() if v.group == group]

    def group_fields(self, group: str) -> dict[str, Variable | ExtraField]:
        """Every field of a repeated record: its extra fields and variables."""
        fields: dict[str, Variable | ExtraField] = {
            f.key: f for f in self.groups[group].extra_fields
        }
        fields.update({v.key: v for v in self.group_variables(group)})
        return fields

    def with_local(self, local: Iterable[Variable]) -> Catalogue:
        """This catalogue plus a municipality's or county's own variables."""
        merged = dict(self.variables)
        for variable in local:
            merged[variable.key] = variable
        return Catalogue(merged, self.groups, self.version, self.files, self.checks)

    @cached_property
    def coded_keys(self) -> frozenset[str]:
        return frozenset(
            k
            for k, v in self.variables.items()
            if v.type in (VariableType.single, VariableType.multi)
        )

    def as_json(self) -> dict[str, Any]:
        """The documented, stable JSON form (``isu variables --json``, GET /variables)."""
        return {
            "catalogue_version": self.version,
            "variables": [
                v.model_dump(mode="json", exclude_none=True) for v in self.variables.values()
            ],
            "groups": [g.model_dump(mode="json", exclude_none=True) for g in self.groups.values()],
            "checks": [c.model_dump(mode="json", exclude_none=True) for c in self.checks.values()],
        }


def _describe(error: ValidationError, data: Any) -> str:
    problems = []
    for err in error.errors(include_input=False, include_url=False):
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        # Name the entry by its key, not only by its index.
        if len(loc) >= 2 and loc[0] in ("variables", "groups") and isinstance(loc[1], int):
            try:
                key = data[loc[0]][loc[1]].get("key", "?")
                where = f"{loc[0]}[{key}]." + ".".join(str(p) for p in loc[2:])
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        problems.append(f"{where}: {err['msg']}")
    return "; ".join(problems)


def load_file(path: Path) -> CatalogueFile:
    try:
        data = load_yaml(path)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path.name}: not valid YAML ({exc})") from None
    try:
        return CatalogueFile.model_validate(data)
    except ValidationError as exc:
        raise CatalogueError(f"{path.name}: {_describe(exc, data)}") from None


def load_catalogue(directory: Path) -> Catalogue:
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise CatalogueError(f"{directory}: no catalogue files (*.yaml)")
    variables: dict[str, Variable] = {}
    groups: dict[str, Group] = {}
    checks: dict[str, ConsistencyCheck] = {}
    digest = hashlib.sha256()
    for path in paths:
        parsed = load_file(path)
        digest.update(path.name.encode())
        digest.update(json.dumps(parsed.model_dump(mode="json"), sort_keys=True).encode())
        for variable in parsed.variables:
            if variable.key in variables:
                raise CatalogueError(f"{path.name}: variables[{variable.key}]: duplicate key")
            variables[variable.key] = variable
        for group in parsed.groups:
            if group.key in groups:
                raise CatalogueError(f"{path.name}: groups[{group.key}]: duplicate key")
            groups[group.key] = group
        for check in parsed.checks:
            if check.key in checks:
                raise CatalogueError(f"{path.name}: checks[{check.key}]: duplicate key")
            checks[check.key] = check
    _check_references(variables, groups)
    catalogue = Catalogue(
        variables, groups, digest.hexdigest()[:16], tuple(p.name for p in paths), checks
    )
    for check in checks.values():
        problem = _check_problem(catalogue, check)
        if problem:
            raise CatalogueError(f"checks[{check.key}]: {problem}")
    return catalogue


def _fields_of(catalogue: Catalogue, check: ConsistencyCheck) -> dict[str, Variable | ExtraField]:
    """What a check may name: the group's fields, or the case's values."""
    if check.group is not None:
        return catalogue.group_fields(check.group)
    return {k: v for k, v in catalogue.variables.items() if v.storage is Storage.values}


def _check_problem(catalogue: Catalogue, check: ConsistencyCheck) -> str | None:
    """What a consistency check names that the catalogue does not have."""
    if check.group is not None and check.group not in catalogue.groups:
        return f"unknown group {check.group!r}"
    fields = _fields_of(catalogue, check)
    for when in check.when:
        if when.records is not None:
            if check.kind is not CheckKind.values or when.records not in catalogue.groups:
                return f"records of {when.records!r} cannot be checked here"
            continue
        target = fields.get(when.variable or "")
        if target is None:
            return f"unknown variable or field {when.variable!r}"
        if when.any_of:
            if target.type is not VariableType.single:
                return f"any_of needs a single-choice variable, not {when.variable!r}"
            if set(when.any_of) - {o.code for o in target.options}:
                return f"unknown codes of {when.variable!r}"
    for key in (*check.same, check.points_at):
        if key not in fields:
            return f"unknown variable or field {key!r}"
    for lang in ("sv", "en"):
        for _, name, _, _ in string.Formatter().parse(getattr(check.message, lang)):
            if name is not None and name not in fields:
                return f"message names unknown field {name!r}"
    return None


def _check_references(variables: Mapping[str, Variable], groups: Mapping[str, Group]) -> None:
    suvs = [v.suv for v in variables.values() if v.suv is not None]
    if len(suvs) != len(set(suvs)):
        raise CatalogueError("catalogue: duplicate SUV numbers")
    for v in variables.values():
        if v.group is not None and v.group not in groups:
            raise CatalogueError(f"variables[{v.key}]: unknown group {v.group!r}")
        cond = v.applies_when
        if cond is not None:
            target = variables.get(cond.variable)
            if target is None:
                raise CatalogueError(f"variables[{v.key}]: applies_when names unknown variable")
            unknown = set(cond.any_of) - {o.code for o in target.options}
            if unknown:
                raise CatalogueError(f"variables[{v.key}]: applies_when names unknown codes")
