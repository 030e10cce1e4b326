"""``isu analysis rebuild|check`` and ``isu export analysis``.

Wire-up (app/cli.py): ``register(app, export_app)``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from app.config import get_settings
from app.db import make_engine
from app.progress import counting_progress

analysis_app = typer.Typer(help="Analystabellen (the analysis table).", no_args_is_help=True)
console = Console(stderr=True)
SHOWN = 200
"""At most this many differences are listed (all are counted)."""


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    app.add_typer(analysis_app, name="analysis")
    export_app.command("analysis")(export_analysis)


def _progress() -> Progress:
    return counting_progress(console)


def fill_analysis_if_behind() -> None:
    """After a migration: fill the analysis table when it has fewer rows than
    there are cases (the migration that adds it, or one that changes it)."""
    from sqlalchemy import inspect

    from app.analysis.rebuild import count_cases, count_rows, rebuild
    from app.analysis.table import TABLE_NAME

    engine = make_engine(get_settings().database_url)
    try:
        if not inspect(engine).has_table(TABLE_NAME):
            return
        with engine.connect() as connection:
            cases, rows = count_cases(connection), count_rows(connection)
        if rows >= cases:
            return
        console.print(
            f"Analystabellen har {rows} av {cases} ärenden; den byggs om. "
            "(Filling the analysis table.)"
        )
        with _progress() as progress:
            task = progress.add_task("Analystabellen (rebuild)", total=cases)
            rebuild(engine, progress=lambda n: progress.advance(task, n))
    finally:
        engine.dispose()


@analysis_app.command("rebuild")
def rebuild_command(
    batch: Annotated[int, typer.Option(help="Ärenden per transaktion (cases per batch)")] = 2000,
) -> None:
    """Bygg om analystabellen från ärendena (rebuild the analysis table from the cases)."""
    from app.analysis.rebuild import count_cases, rebuild

    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as connection:
            total = count_cases(connection)
        with _progress() as progress:
            task = progress.add_task("Analystabellen (rebuild)", total=total)
            written = rebuild(engine, batch=batch, progress=lambda n: progress.advance(task, n))
    finally:
        engine.dispose()
    console.print(f"{written} rader skrivna. ({written} rows written.)")


@analysis_app.command("check")
def check_command(
    batch: Annotated[int, typer.Option(help="Ärenden per läsning (cases per batch)")] = 2000,
) -> None:
    """Jämför analystabellen med en ombyggnad och visa varje skillnad (ärende och kolumn);
    slutkod 1 vid skillnader (compare with a rebuild; exit 1 on any difference)."""
    from app.analysis.rebuild import check, count_cases

    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as connection:
            total = count_cases(connection)
            with _progress() as progress:
                task = progress.add_task("Kontroll (check)", total=total)
                result = check(
                    connection, batch=batch, progress=lambda n: progress.advance(task, n)
                )
    finally:
        engine.dispose()
    if result.ok:
        console.print(
            f"Analystabellen stämmer: {result.cases} ärenden. (The analysis table is in step.)"
        )
        return
    for case_id, column in result.differences[:SHOWN]:
        typer.echo(f"{case_id} {column}")
    if len(result.differences) > SHOWN:
        typer.echo(f"… och {len(result.differences) - SHOWN} till (and more).")
    console.print(
        f"[red]{len(result.differences)} skillnader[/red] i {result.cases} ärenden; "
        "kör `isu analysis rebuild`. (Differences found; run `isu analysis rebuild`.)"
    )
    raise typer.Exit(1)


def _date(text: str | None, option: str, default: date) -> date:
    if text is None:
        return default
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter("ange ÅÅÅÅ-MM-DD (give YYYY-MM-DD)", param_hint=option) from None


def export_analysis(
    out: Annotated[Path, typer.Option("--out", help="Katalog att skriva (directory)")],
    fmt: Annotated[str, typer.Option("--format", help="parquet")] = "parquet",
    recipient: Annotated[
        str, typer.Option(help="Mottagare; pseudonymerna nycklas om för den (recipient)")
    ] = "analys",
    period_from: Annotated[str | None, typer.Option("--from", help="ÅÅÅÅ-MM-DD")] = None,
    period_to: Annotated[str | None, typer.Option("--to", help="ÅÅÅÅ-MM-DD")] = None,
    municipality: Annotated[str | None, typer.Option(help="Kommunkod")] = None,
) -> None:
    """Analystabellen som Parquet, partitionerad per år och kommun (Hive), med
    pseudonymer omnycklade för mottagaren och utan fritext (the analysis table
    as Parquet, pseudonymised for the recipient, no free text)."""
    from app.analysis.export import export_parquet
    from app.analysis.read import CaseFilter
    from app.audit.service import Actor, record
    from app.catalogue.loader import load_catalogue
    from app.clock import utcnow
    from app.db import make_session_factory, transaction
    from app.security.keyring import Keyring
    from app.security.master import load_master_key
    from app.submissions.package import RECIPIENT_PATTERN

    if fmt != "parquet":
        raise typer.BadParameter("parquet", param_hint="--format")
    if not RECIPIENT_PATTERN.fullmatch(recipient):
        raise typer.BadParameter(
            "gemener, siffror, - och _ (lower-case letters, digits, - and _)",
            param_hint="--recipient",
        )
    where = CaseFilter(
        _date(period_from, "--from", date(1900, 1, 1)),
        _date(period_to, "--to", date(2999, 12, 31)),
        {municipality} if municipality else None,
    )
    settings = get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)
    keyring = Keyring(load_master_key(settings))
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            result = export_parquet(
                session,
                keyring,
                out,
                recipient=recipient,
                where=where,
                generated_at=utcnow(),
                catalogue_version=catalogue.version,
            )
            record(
                session,
                actor=Actor(None, "cli", municipality),
                action="export.analysis",
                object_type="analysis_parquet",
                object_id=municipality or "all",
                fields=[f"recipient:{recipient}"],
                municipality_code=municipality,
            )
    finally:
        engine.dispose()
    console.print(
        f"Skrev {out}: {result.rows} ärenden, {result.files} filer, "
        f"{result.municipalities} kommuner. (Wrote {result.rows} cases.)"
    )
