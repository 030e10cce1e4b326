"""Reading the project's YAML data files (catalogue, tables, indicators).

With libyaml's C loader when PyYAML has it (about ten times faster: every
command and server start reads the whole catalogue), else the pure-Python one;
both are the safe loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a safe loader)
