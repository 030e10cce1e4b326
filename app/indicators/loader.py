"""Load the indicator definitions (``variables/indicators/*.yaml``).

The catalogue loader reads only ``variables/*.yaml``, so this sub-folder never
disturbs it. Every definition is checked against the loaded catalogue: a
condition on an unknown variable or code is an error at load time.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from app.catalogue.loader import Catalogue
from app.indicators.spec import IndicatorSpec
from app.yaml_data import load_yaml


class IndicatorError(Exception):
    """A definition file is malformed; the message names the file and the problem."""


def indicators_dir(catalogue_dir: Path) -> Path:
    return catalogue_dir / "indicators"


def load_file(path: Path) -> IndicatorSpec:
    try:
        data = load_yaml(path)
    except yaml.YAMLError:
        raise IndicatorError(f"{path.name}: not valid YAML") from None
    try:
        return IndicatorSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise IndicatorError(f"{path.name}: {problems}") from None


def load_indicators(directory: Path, catalogue: Catalogue) -> dict[str, IndicatorSpec]:
    """Every definition by id, in file-name order."""
    specs: dict[str, IndicatorSpec] = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = load_file(path)
        if spec.id in specs:
            raise IndicatorError(f"{path.name}: duplicate indicator id {spec.id}")
        problems = spec.check_against(catalogue)
        if problems:
            raise IndicatorError(f"{path.name}: {'; '.join(problems)}")
        specs[spec.id] = spec
    return specs
