"""`isu keys …`: key management commands."""

from __future__ import annotations

import typer

keys_app = typer.Typer(help="Nycklar (keys).", no_args_is_help=True)
