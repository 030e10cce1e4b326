"""`isu import`, `isu generate`, `isu demo`."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    Progress,
    TaskID,
)

from app.clock import today
from app.config import Settings, get_settings
from app.importer.service import DEFAULT_BATCH, ImportReport
from app.progress import counting_progress

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the data commands to the `isu` app."""
    app.command("import")(import_file)
    app.command("generate")(generate)
    app.command("demo")(demo)


def _progress() -> Progress:
    return counting_progress(console)


def _print_report(report: ImportReport) -> None:
    for e in report.errors:
        console.print(
            f"rad {e.line}: {e.pointer or '/'} {e.detail} ({e.detail_en}) \u2014 {e.code}",
            markup=False,
        )
    if report.invalid > len({e.line for e in report.errors}):
        console.print("… fler fel finns (more errors not shown).")
    console.print(
        f"Rader: {report.lines}, skapade: {report.created}, oförändrade: {report.unchanged}, "
        f"felaktiga: {report.invalid}. "
        f"(Lines {report.lines}, created {report.created}, unchanged {report.unchanged}, "
        f"invalid {report.invalid}.)"
    )
    if report.state == "rejected":
        console.print(
            "[red]Filen har fel: inget importerades.[/red] Rätta raderna eller använd "
            "--skip-invalid. (The file has errors: nothing was imported.)"
        )
    elif report.state == "failed":
        console.print(
            "[red]Importen avbröts; tidigare satser är sparade.[/red] Kör om samma fil: "
            "redan importerade ärenden hoppas över. (The import stopped; earlier batches are "
            "saved. Re-run the same file: imported cases are skipped.)"
        )


def run_import(
    settings: Settings,
    source: Iterable[str] | None = None,
    *,
    path: Path | None = None,
    total: int | None = None,
    skip_invalid: bool = False,
    create_units: bool = False,
    batch_size: int = DEFAULT_BATCH,
    check_first: bool = True,
) -> ImportReport:
    """Import JSON lines from ``path`` (or a re-iterable ``source``) as the
    municipalities' system users, with a progress bar."""
    from app.cases.schemas import build_case_schemas
    from app.catalogue.loader import load_catalogue
    from app.db import make_engine, make_session_factory
    from app.importer.format import build_line_model
    from app.importer.service import Importer, SystemScope
    from app.security.keyring import Keyring
    from app.security.master import load_master_key

    catalogue = load_catalogue(settings.catalogue_dir)
    engine = make_engine(settings.database_url)
    try:
        importer = Importer(
            factory=make_session_factory(engine),
            read_factory=make_session_factory(engine, read_only=True),
            atomic=False,
            check_first=check_first,
            catalogue=catalogue,
            keyring=Keyring(load_master_key(settings)),
            settings=settings,
            scope=SystemScope(create_units=create_units),
            line_model=build_line_model(build_case_schemas(catalogue)),
            skip_invalid=skip_invalid,
            batch_size=batch_size,
            request_id=f"import-{uuid.uuid4().hex}",
        )

        def lines() -> Iterator[str]:
            if path is not None:
                with path.open(encoding="utf-8") as handle:
                    yield from handle
            elif source is not None:
                yield from source

        with _progress() as progress:
            labels = {
                "check_and_import": "Kontrollerar och importerar (validating, importing)",
                "validate": "Kontrollerar (validating)",
                "import": "Importerar (importing)",
            }
            tasks: dict[str, TaskID] = {}

            def show(phase: str, done: int) -> None:
                if phase not in tasks:
                    tasks[phase] = progress.add_task(labels[phase], total=total)
                progress.update(tasks[phase], completed=done)

            importer.on_progress = show
            return importer.run(lines)
    finally:
        engine.dispose()


def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Importera de giltiga raderna trots fel.")
    ] = False,
    create_units: Annotated[
        bool,
        typer.Option(
            "--create-units", help="Skapa verksamheter som raderna nämner men som saknas."
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Högst så många rader per transaktion.")
    ] = DEFAULT_BATCH,
    niceness: Annotated[
        int,
        typer.Option(
            "--nice",
            min=0,
            max=19,
            help="Lägre CPU-prioritet än servern (lower CPU priority than the server).",
        ),
    ] = 10,
) -> None:
    """Importera ärenden från en JSON Lines-fil (import cases from a JSON Lines file).

    Varje rad kontrolleras först; en fil med fel importeras inte alls utan
    --skip-invalid. Samma fil två gånger skapar inga dubbletter. Importen
    sparar i korta transaktioner och körs med lägre CPU-prioritet, så att
    registret svarar under tiden.
    """
    # A batch job on the server's machine: the interactive requests go first.
    os.nice(niceness)
    with file.open("rb") as handle:
        total = sum(1 for line in handle if line.strip())
    report = run_import(
        get_settings(),
        path=file,
        total=total,
        skip_invalid=skip_invalid,
        create_units=create_units,
        batch_size=batch_size,
    )
    _print_report(report)
    if report.state != "done":
        raise typer.Exit(1)


def generate(
    out: Annotated[
        Path, typer.Option("--out", help="Fil att skriva (JSON Lines); '-' för stdout.")
    ],
    cases: Annotated[int, typer.Option("--cases", min=0)] = 3070,
    seed: Annotated[int, typer.Option("--seed")] = 20_231_231,
    as_of: Annotated[
        str | None, typer.Option("--today", help="Dagens datum i datan (ÅÅÅÅ-MM-DD).")
    ] = None,
    period_days: Annotated[int, typer.Option("--period-days", min=30)] = 730,
    municipality: Annotated[
        list[str] | None, typer.Option("--municipality", help="Kommunkod (upprepa); alla annars.")
    ] = None,
) -> None:
    """Skriv syntetiska ärenden till en fil (write synthetic cases as JSON Lines)."""
    from app.synthetic.generator import GeneratorConfig, generate_cases

    config = GeneratorConfig(
        today=date.fromisoformat(as_of) if as_of else today(),
        cases=cases,
        seed=seed,
        period_days=period_days,
        municipalities=tuple(municipality) if municipality else None,
    )
    handle = sys.stdout if str(out) == "-" else out.open("w", encoding="utf-8")
    try:
        with _progress() as progress:
            task = progress.add_task("Genererar (generating)", total=cases)
            for n, line in enumerate(generate_cases(config), start=1):
                handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                if n % 1000 == 0:
                    progress.update(task, completed=n)
            progress.update(task, completed=cases)
    finally:
        if handle is not sys.stdout:
            handle.close()


def demo(
    cases: Annotated[int, typer.Option("--cases", min=0)] = 3070,
    seed: Annotated[int, typer.Option("--seed")] = 20_231_231,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Ladda bara om databasen saknar ärenden.")
    ] = False,
) -> None:
    """Ladda demodata och skapa demoanvändare (load the demo; dev mode only)."""
    from app.importer.demo import load_demo, print_welcome

    settings = get_settings()
    if settings.mode != "dev":
        console.print(
            "[red]isu demo körs bara i utvecklingsläge (ISU_MODE=dev).[/red] "
            "(Synthetic demo data is for dev mode only.)"
        )
        raise typer.Exit(2)
    welcome = load_demo(settings, cases=cases, seed=seed, if_empty=if_empty)
    print_welcome(welcome)
