"""The small slice of the catalogue that exporters need: codes and labels.

Exporters never read the catalogue themselves (no files inside). The caller
builds a :class:`Codebook` from the loaded catalogue
(``app.stats.codebook.codebook_from_catalogue``) and passes it in, so codes and
labels are never re-typed here ("names change, codes never").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from exporters.tabledefs import TableCatalogue

Kind = Literal["single", "multi", "integer", "date", "text"]
Source = Literal["values", "structural", "intervention", "risk_assessment", "survey"]


@dataclass(frozen=True)
class Label:
    """A text in Swedish and English."""

    sv: str
    en: str

    def as_json(self) -> dict[str, str]:
        return {"sv": self.sv, "en": self.en}


@dataclass(frozen=True)
class Option:
    code: int
    label: Label
    exclusive: bool = False


@dataclass(frozen=True)
class VariableInfo:
    key: str
    kind: Kind
    label: Label
    source: Source = "values"
    suv: int | None = None
    options: tuple[Option, ...] = ()
    applies_when: tuple[str, tuple[int, ...]] | None = None
    """Skip logic: asked only when another variable has one of these codes."""

    @property
    def codes(self) -> list[int]:
        return [o.code for o in self.options]

    def option_label(self, code: int) -> Label:
        for option in self.options:
            if option.code == code:
                return option.label
        raise KeyError(f"{self.key}: no option {code}")


@dataclass(frozen=True)
class Codebook:
    """Variables by key. Group fields that are not SUV variables are keyed
    ``<group>.<field>``, e.g. ``risk_assessment.score``, ``survey.language``."""

    version: str
    variables: Mapping[str, VariableInfo] = field(default_factory=dict)
    tables: TableCatalogue | None = None
    """The table definitions of the national compilation (variables/tables/)."""

    def __getitem__(self, key: str) -> VariableInfo:
        return self.variables[key]

    def codes(self, key: str) -> list[int]:
        return self.variables[key].codes

    def label(self, key: str, code: int) -> Label:
        return self.variables[key].option_label(code)

    def keys_of(self, kind: Kind, source: Source = "values") -> list[str]:
        return [k for k, v in self.variables.items() if v.kind == kind and v.source == source]
