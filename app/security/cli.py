"""`isu keys …`: key management commands (docs/keys.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from app.config import get_settings
from app.db import make_engine, make_session_factory
from app.security import rotation
from app.security.crypto import KeyConfigurationError, MasterKey
from app.security.keyring import Keyring
from app.security.master import (
    load_master_key,
    read_key_file,
    wrapping_key_ids,
    write_key_file,
)

keys_app = typer.Typer(help="Nycklar (keys).", no_args_is_help=True)

console = Console()
err_console = Console(stderr=True)

EXIT_INCOMPLETE = 1
EXIT_KEY_CONFIGURATION = 2


@contextmanager
def _database() -> Iterator[sessionmaker[Session]]:
    engine = make_engine(get_settings().database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _fail(message: str, code: int) -> typer.Exit:
    err_console.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def _keyring(factory: sessionmaker[Session]) -> Keyring:
    """The configured master key, checked against the database's keys; a missing
    or wrong one stops the command (exit 2) as it stops ``isu serve``."""
    try:
        keyring = Keyring(load_master_key(get_settings()))
        with factory() as session:
            keyring.verify(session)
    except KeyConfigurationError as exc:
        wrapped_with = ", ".join(sorted(wrapping_key_ids(get_settings().database_url))) or "-"
        raise _fail(
            f"{exc}\nNycklarna är inslagna med (keys wrapped with): {wrapped_with}",
            EXIT_KEY_CONFIGURATION,
        ) from None
    return keyring


@keys_app.command("rotate")
def rotate(
    municipality: Annotated[
        str | None,
        typer.Option("--municipality", help="Bara denna kommun (kommunkod); annars alla."),
    ] = None,
    new_master_key_file: Annotated[
        Path | None,
        typer.Option(
            "--new-master-key-file",
            help="Slå in alla kommunnycklar med denna nya huvudnyckel (alla kommuner). "
            "Starta sedan om tjänsten med den nya nyckeln.",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Rader per transaktion.")
    ] = rotation.DEFAULT_BATCH_SIZE,
) -> None:
    """Rotera datanycklar och kryptera om fritext medan tjänsten kör
    (rotate data keys and re-encrypt free text online)."""
    with _database() as factory:
        keyring = _keyring(factory)
        new_master: MasterKey | None = None
        if new_master_key_file is not None:
            try:
                new_master = read_key_file(new_master_key_file)
            except KeyConfigurationError as exc:
                raise _fail(str(exc), EXIT_KEY_CONFIGURATION) from None
            if new_master.key_id == keyring.master.key_id:
                raise _fail(
                    "Den nya huvudnyckeln är samma som den nuvarande. "
                    "(The new master key is the same as the current one.)",
                    EXIT_KEY_CONFIGURATION,
                )
        known = rotation.municipalities_with_data_keys(factory)
        if municipality is not None and municipality not in known:
            raise _fail(
                f"Kommun {municipality} har inga datanycklar. (No data keys for {municipality}.)",
                EXIT_INCOMPLETE,
            )
        chosen = [municipality] if municipality else known
        results = _rotate_with_progress(factory, keyring, chosen, batch_size)
        _print_results(results)
        rewrapped = None
        if new_master is not None:
            rewrapped = rotation.rewrap_master(factory, keyring, new_master)
    if new_master is not None:
        console.print(
            f"{rewrapped} kommunnycklar är inslagna med den nya huvudnyckeln "
            f"(id {new_master.key_id}). Starta om tjänsten med den nya nyckeln "
            "(ISU_MASTER_KEY eller ISU_MASTER_KEY_FILE); den gamla öppnar inte längre databasen. "
            "(All municipality keys re-wrapped; restart the service with the new master key.)"
        )
    if not all(r.complete for r in results):
        raise _fail(
            "Några krypterade texter kunde inte verifieras och har kvar sin gamla nyckelversion, "
            "som därför inte pensionerades. Se granskningsloggen (integrity.failed). "
            "(Some ciphertexts failed verification; their key version was not retired.)",
            EXIT_INCOMPLETE,
        )


def _rotate_with_progress(
    factory: sessionmaker[Session], keyring: Keyring, municipalities: list[str], batch_size: int
) -> list[rotation.MunicipalityRotation]:
    results = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        for code in municipalities:
            total = sum(rotation.pending(factory, code).values())
            task = progress.add_task(f"Kommun {code}", total=total)

            def advance(rows: int, task_id: TaskID = task) -> None:
                progress.advance(task_id, rows)

            try:
                results.append(
                    rotation.rotate_municipality(
                        factory, keyring, code, batch_size=batch_size, on_batch=advance
                    )
                )
            except rotation.RotationError as exc:
                raise _fail(str(exc), EXIT_INCOMPLETE) from None
            progress.update(task, completed=total)
    return results


def _print_results(results: list[rotation.MunicipalityRotation]) -> None:
    labels = [c.label for c in rotation.encrypted_columns()]
    for r in results:
        counts = ", ".join(f"{label} {r.reencrypted[label]}" for label in labels)
        retired = ", ".join(map(str, r.retired_versions)) or "inga (none)"
        console.print(
            f"Kommun {r.municipality_code}: datanyckel v{r.new_version}; "
            f"omkrypterade rader (re-encrypted rows): {counts}; "
            f"pensionerade versioner (retired): {retired}; "
            f"ej verifierbara (failed verification): {len(r.unreadable)}"
        )
        for label, row_id in sorted(r.unreadable):
            err_console.print(f"Ej verifierbar (failed verification): {label} {row_id}")


@keys_app.command("status")
def status() -> None:
    """Visa kommunnycklarna och hur många rader som använder varje datanyckel
    (show the keys and how many rows use each data key)."""
    with _database() as factory:
        master_id = _keyring(factory).master.key_id
        rows = rotation.key_status(factory)
    table = Table(title="Kommunnycklar (municipality keys)")
    for heading in ("kommun", "syfte", "version", "skapad", "pensionerad", "ok", "rader"):
        table.add_column(heading, no_wrap=True)
    for k in rows:
        matches = "ja" if k.master_key_id == master_id else "NEJ"
        table.add_row(
            k.municipality_code,
            k.purpose,
            str(k.version),
            f"{k.created_at:%Y-%m-%d}",
            f"{k.retired_at:%Y-%m-%d}" if k.retired_at else "-",
            matches,
            "-" if k.rows is None else str(k.rows),
        )
    console.print(table)
    wrapped_with = ", ".join(sorted({k.master_key_id for k in rows})) or "-"
    console.print(f"Konfigurerad huvudnyckel (configured master key): {master_id}")
    console.print(f"Nycklarna är inslagna med (keys wrapped with): {wrapped_with}")


@keys_app.command("new-master-key")
def new_master_key(
    path: Annotated[Path, typer.Argument(help="Ny nyckelfil; skrivs aldrig över.")],
) -> None:
    """Skapa en ny huvudnyckel i en fil som bara ägaren kan läsa
    (create a new master key file, owner-readable only)."""
    key = MasterKey.generate()
    try:
        write_key_file(path, key)
    except KeyConfigurationError as exc:
        raise _fail(str(exc), EXIT_KEY_CONFIGURATION) from None
    console.print(f"Ny huvudnyckel skriven (new master key written), id {key.key_id}.")
