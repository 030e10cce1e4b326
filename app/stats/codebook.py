"""The exporters' codebook, built from the loaded catalogue."""

from __future__ import annotations

from app.catalogue.loader import Catalogue
from app.catalogue.spec import Storage
from app.catalogue.spec import Text as CatalogueText
from app.stats.tables import table_catalogue
from exporters.codebook import Codebook, Label, Option, Source, VariableInfo


def _label(text: CatalogueText) -> Label:
    return Label(text.sv, text.en)


def codebook_from_catalogue(catalogue: Catalogue) -> Codebook:
    """Every shared variable (retired ones too: old cases may hold their codes)
    and every coded field of the repeated groups, keyed ``<group>.<field>``."""
    variables: dict[str, VariableInfo] = {}
    for v in catalogue.variables.values():
        if "." in v.key:  # a local variable: exported only where its owner decides
            continue
        source: Source
        if v.storage is Storage.group:
            source = v.group  # type: ignore[assignment]
        elif v.storage is Storage.structural:
            source = "structural"
        else:
            source = "values"
        variables[v.key] = VariableInfo(
            key=v.key,
            kind=v.type.value,
            label=_label(v.label),
            source=source,
            suv=v.suv,
            options=tuple(Option(o.code, _label(o.label), o.exclusive) for o in v.options),
            applies_when=(
                (v.applies_when.variable, tuple(v.applies_when.any_of))
                if v.applies_when is not None
                else None
            ),
        )
    for group in catalogue.groups.values():
        for extra in group.extra_fields:
            key = f"{group.key}.{extra.key}"
            variables[key] = VariableInfo(
                key=key,
                kind=extra.type.value,
                label=_label(extra.label),
                source=group.key,  # type: ignore[arg-type]
                options=tuple(Option(o.code, _label(o.label), o.exclusive) for o in extra.options),
            )
    return Codebook(catalogue.version, variables, table_catalogue())
