"""`isu export summary`: the national compilation to a file.

Wire-up (app/cli.py): ``app.add_typer(export_app, name="export")``.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import Progress

from app.audit.service import Actor
from app.catalogue.loader import load_catalogue
from app.clock import today
from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.errors import AppError
from app.stats import service
from exporters.summary import Summary
from exporters.writers.charts import ChartFormat, chart_file_name, has_chart, render_chart
from exporters.writers.csv_writer import ZIP_TIME, write_csv_zip
from exporters.writers.html import write_html
from exporters.writers.json_writer import write_json
from exporters.writers.xlsx_writer import write_xlsx

export_app = typer.Typer(help="Exporter (exports).", no_args_is_help=True)


@export_app.callback()
def _exports() -> None:
    """Exporter (exports): sammanställning, Kolada, SKR."""


err_console = Console(stderr=True)
FormatName = Literal["json", "csv", "xlsx", "html", "png", "svg"]
FORMATS = ("json", "csv", "xlsx", "html", "png", "svg")
CLI_ACTOR = Actor(None, "cli", None)


def _date(text: str, option: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter("ange ÅÅÅÅ-MM-DD (give YYYY-MM-DD)", param_hint=option) from None


def _charts(summary: Summary, fmt: ChartFormat, progress: Progress) -> dict[str, bytes]:
    """File name -> image, one per table that has a chart."""
    drawn = [t for t in summary.tables if has_chart(t)]
    task = progress.add_task("Diagram", total=len(drawn))
    files = {}
    for table in drawn:
        files[chart_file_name(table, fmt)] = render_chart(summary, table, fmt)
        progress.advance(task)
    return files


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _render(summary: Summary, fmt: str, progress: Progress) -> bytes:
    if fmt == "html":
        task = progress.add_task("Rapport", total=len(summary.tables))
        return write_html(summary, on_table=lambda: progress.advance(task))
    writer = {"json": write_json, "csv": write_csv_zip, "xlsx": write_xlsx}[fmt]
    return writer(summary)


def _write_charts(out: Path, files: dict[str, bytes]) -> None:
    """A ``.zip`` when the name says so, otherwise a folder of images."""
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(_zip(files))
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)


@export_app.command("summary")
def export_summary(
    period_from: Annotated[str, typer.Option("--from", help="Aktualiserade från (ÅÅÅÅ-MM-DD)")],
    period_to: Annotated[str, typer.Option("--to", help="Aktualiserade till (ÅÅÅÅ-MM-DD)")],
    out: Annotated[Path, typer.Option("--out", help="Fil att skriva")],
    municipality: Annotated[str | None, typer.Option(help="Kommunkod")] = None,
    county: Annotated[str | None, typer.Option(help="Länskod")] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="json|csv|xlsx|html|png|svg (csv: zip; png, svg: en mapp, eller zip om --out "
            "slutar på .zip)",
        ),
    ] = "json",
    by_year: Annotated[bool, typer.Option("--by-year", help="Per år")] = False,
    compare: Annotated[bool, typer.Option("--compare", help="Med län och riket")] = False,
    publish: Annotated[
        bool, typer.Option("--publish", help="Röjandeskydda även en kommuns egna tabeller")
    ] = False,
    tables: Annotated[
        str | None,
        typer.Option("--tables", help="Bara dessa tabeller, t.ex. funnel,interventions (ids)"),
    ] = None,
) -> None:
    """Nationell sammanställning (Kapitel 2) till fil. En kommun utan --publish ger
    kommunens egna tabeller utan röjandeskydd; län, riket och --publish skyddas."""
    if fmt not in FORMATS:
        raise typer.BadParameter("|".join(FORMATS), param_hint="--format")
    if fmt in ("png", "svg") and out.exists() and not out.is_dir() and out.suffix != ".zip":
        raise typer.BadParameter(
            f"{out} är en fil: ange en mapp eller ett namn som slutar på .zip "
            "(a file: give a folder or a name ending in .zip)",
            param_hint="--out",
        )
    if municipality is not None and county is not None:
        raise typer.BadParameter("ange kommun eller län, inte båda", param_hint="--county")
    query = service.SummaryQuery(
        _date(period_from, "--from"),
        _date(period_to, "--to"),
        municipality,
        county,
        compare=compare,
        by_year=by_year,
        tables=None if tables is None else tuple(t.strip() for t in tables.split(",") if t.strip()),
    )
    settings = get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)
    engine = make_engine(settings.database_url)
    try:
        with Progress(console=err_console, transient=False) as progress:
            step = progress.add_task("Sammanställning", total=3)
            try:
                plan = service.cli_plan(query, publish=publish)
            except AppError as exc:
                pointers = ", ".join(e.pointer for e in exc.errors)
                err_console.print(f"[red]{exc.detail}[/red] {pointers}")
                raise typer.Exit(2) from None
            with transaction(make_session_factory(engine)) as session:
                summary = service.build_summary(
                    session,
                    catalogue,
                    None,
                    query,
                    threshold=settings.suppression_threshold,
                    today=today(),
                    plan=plan,
                )
                progress.advance(step)
                service.audit_export(session, CLI_ACTOR, plan, [t.id for t in summary.tables])
            progress.advance(step)
            if fmt in ("png", "svg"):
                _write_charts(out, _charts(summary, "png" if fmt == "png" else "svg", progress))
            else:
                body = _render(summary, fmt, progress)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(body)
            progress.advance(step)
    finally:
        engine.dispose()
    err_console.print(
        f"Skrev {out} ({len(summary.tables)} tabeller, "
        f"{'röjandeskyddat' if summary.protected else 'utan röjandeskydd'})."
    )
