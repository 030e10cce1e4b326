"""`isu backup DIR` and `isu restore BACKUP [--to URL] [--force]`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.backup.manifest import BackupError, Manifest
from app.backup.service import create_backup, restore_backup
from app.config import get_settings

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)


@contextmanager
def _step(swedish: str, english: str) -> Iterator[None]:
    """A spinner while the step runs, then a tick with the time it took."""
    started = time.monotonic()
    with console.status(f"{swedish} ({english}) …"):
        yield
    console.print(
        f"[green]✓[/green] {swedish} ({english}) [dim]{time.monotonic() - started:.1f} s[/dim]"
    )


def _summary(manifest: Manifest, title: str) -> Table:
    facts = manifest.facts
    table = Table(title=title, show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("skapad (created, UTC)", manifest.created_at)
    table.add_row("databas (engine)", manifest.engine)
    table.add_row("schemarevision (schema revision)", str(facts.schema_revision))
    table.add_row("ärenden (cases)", str(facts.row_counts.get("cases", 0)))
    table.add_row("händelser i granskningsloggen (audit events)", str(facts.audit_events))
    table.add_row("ankare (audit anchor)", str(facts.audit_last_hash))
    wrapped = ", ".join(sorted({k.master_key_id for k in facts.keys})) or "-"
    table.add_row("huvudnyckel-id (master key id)", wrapped)
    return table


@contextmanager
def _failures() -> Iterator[None]:
    try:
        yield
    except BackupError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(exc.exit_code) from None


def backup(
    directory: Annotated[
        Path, typer.Argument(help="Katalog där säkerhetskopian skapas (parent directory).")
    ],
) -> None:
    """Säkerhetskopiera databasen medan tjänsten kör (back up the database online).

    Creates DIRECTORY/isu-backup-<UTC time>/ with the dump and manifest.json,
    readable by the owner only. The master key is never in it: keep it apart."""
    with _failures():
        path, manifest = create_backup(get_settings(), directory, _step)
    console.print(_summary(manifest, f"Säkerhetskopia (backup): {path}"))
    if not manifest.facts.audit_intact:
        err_console.print(
            "[yellow]Varning: granskningsloggens kedja är bruten i databasen (isu audit verify); "
            "kopian återställs inte förrän det är utrett.[/yellow] (Warning: the audit chain is "
            "broken; this backup will not restore until that is resolved.)"
        )
    console.print(
        "Huvudnyckeln ingår inte: förvara den separat (docs/operations.md). "
        "(The master key is not in the backup: keep it separately.)"
    )


def restore(
    backup_dir: Annotated[
        Path, typer.Argument(metavar="BACKUP", help="En katalog som isu backup skapat.")
    ],
    to: Annotated[
        str | None,
        typer.Option("--to", help="Måldatabas (DATABASE_URL); annars ISU_DATABASE_URL."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Ersätt en måldatabas som inte är tom.")
    ] = False,
) -> None:
    """Återställ en säkerhetskopia efter kontroll (restore a backup, checked first).

    Checksums, integrity, then a staging copy that must pass schema revision,
    audit verification, a decrypt sample under the configured master key and
    the row counts before it replaces anything."""
    settings = get_settings()
    target = to or settings.database_url
    with _failures():
        restored = restore_backup(settings, backup_dir, target, force=force, step=_step)
    console.print(_summary(restored.manifest, f"Återställd (restored): {restored.target}"))
    console.print(
        f"{restored.decrypted} krypterade texter öppnades som stickprov. "
        f"({restored.decrypted} encrypted texts decrypted as a sample.)"
    )
    if restored.replaced:
        console.print(
            f"Den tidigare databasen finns kvar som {restored.replaced}; ta bort den när du är "
            f"nöjd. (The previous database is kept as {restored.replaced}.)"
        )
    console.print(
        "Kör isu db upgrade om programmet är nyare än kopian, och starta sedan tjänsten. "
        "(Run isu db upgrade if the program is newer than the backup, then start the service.)"
    )
