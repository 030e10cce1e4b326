"""`isu import`, `isu generate`, `isu demo`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the data commands to the `isu` app."""
