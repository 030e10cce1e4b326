"""`isu export kolada`, `isu export indicator` and `isu population import`.

Wire-up (app/cli.py), after the ``export`` group is added::

    from app.indicators.cli import register as register_indicator_commands
    register_indicator_commands(app)
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.catalogue.loader import Catalogue, load_catalogue
from app.clock import today
from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.errors import AppError
from app.indicators import service
from app.indicators.loader import IndicatorError, indicators_dir, load_indicators
from app.indicators.population import PopulationFileError, import_figures, parse
from app.indicators.spec import IndicatorSpec
from app.models import Case
from app.reference import municipalities
from exporters.indicators import indicator_document
from exporters.kolada import kolada_csv, kolada_document, kolada_xlsx

CLI_ACTOR = Actor(None, "cli", None)
err_console = Console(stderr=True)
population_app = typer.Typer(
    help="Befolkning 18+ för nyckeltalen (adult population).", no_args_is_help=True
)


def subgroup(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The sub-command group ``name`` of ``app``, added if it is not there yet."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


def register(app: typer.Typer) -> None:
    """Add ``export kolada``, ``export indicator`` and ``population import``."""
    exports = subgroup(app, "export", "Exporter (exports).")
    exports.command("kolada")(export_kolada)
    exports.command("indicator")(export_indicator)
    app.add_typer(population_app, name="population")


def fail(message: str) -> typer.Exit:
    err_console.print(f"[red]{message}[/red]")
    return typer.Exit(2)


def _choices(raw: list[str] | None) -> dict[str, str]:
    out = {}
    for item in raw or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise typer.BadParameter("nyckel=värde (key=value)", param_hint="--choice")
        out[key] = value
    return out


def _load(catalogue_dir: Path) -> tuple[Catalogue, dict[str, IndicatorSpec]]:
    catalogue = load_catalogue(catalogue_dir)
    try:
        return catalogue, load_indicators(indicators_dir(catalogue_dir), catalogue)
    except IndicatorError as exc:
        raise fail(f"Felaktig indikatordefinition: {exc}") from None


def _municipalities(session: Session, given: list[str] | None) -> list[str]:
    if given:
        unknown = [m for m in given if m not in municipalities()]
        if unknown:
            raise fail("Okänd kommunkod. (Unknown municipality code.)")
        return sorted(set(given))
    found = sorted(session.scalars(select(Case.municipality_code).distinct()).all())
    if not found:
        raise fail("Inga ärenden; ange --municipality. (No cases; give --municipality.)")
    return found


def _problem(exc: AppError) -> typer.Exit:
    pointers = ", ".join(e.pointer for e in exc.errors)
    return fail(f"{exc.detail} / {exc.detail_en} {pointers}")


def export_kolada(
    year: Annotated[int, typer.Option(help="Kalenderår (calendar year)")],
    out: Annotated[Path, typer.Option("--out", help="Fil att skriva")],
    municipality: Annotated[
        list[str] | None, typer.Option(help="Kommunkod (flera går); standard: alla med ärenden")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="json|csv|xlsx")] = "json",
    choice: Annotated[
        list[str] | None,
        typer.Option(help="Dokumenterat val nyckel=värde, t.ex. counting=cases (docs/kolada.md)"),
    ] = None,
    publish: Annotated[
        bool,
        typer.Option(
            "--publish",
            help="Som publicerat utanför kommunen: T som i Kolada, K/M röjandeskyddat, "
            "inga stadsdelar (as published; the values of /kolada/v3)",
        ),
    ] = False,
) -> None:
    """Kolada-nyckeltalen U30750–U30752 för ett kalenderår (Kolada key ratios)."""
    if fmt not in ("json", "csv", "xlsx"):
        raise typer.BadParameter("json|csv|xlsx", param_hint="--format")
    settings = get_settings()
    catalogue, specs = _load(settings.catalogue_dir)
    choices = _choices(choice)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            codes = _municipalities(session, municipality)
            try:
                report = service.build_kolada(
                    session, catalogue, specs, codes, year, choices, today=today()
                )
            except AppError as exc:
                raise _problem(exc) from None
            if publish:
                report = service.published_report(report, settings.suppression_threshold)
            for code in codes:
                service.audit_kolada(session, CLI_ACTOR, code, choices)
    finally:
        engine.dispose()
    if fmt == "json":
        body = (json.dumps(kolada_document(report), ensure_ascii=False, indent=2) + "\n").encode()
    else:
        body = kolada_csv(report) if fmt == "csv" else kolada_xlsx(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    empty = sum(int(r.rows["value"].isna().sum()) for r in report.results)
    err_console.print(
        f"Skrev {out}: {len(codes)} kommun(er), år {year}; {empty} tomma värden (med orsak). "
        f"(Wrote {out}; {empty} empty values, each with a reason.)"
    )


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter("ÅÅÅÅ-MM-DD (YYYY-MM-DD)", param_hint=option) from None


def export_indicator(
    indicator_id: Annotated[str, typer.Argument(help="Indikatorns id, t.ex. A")],
    out: Annotated[Path | None, typer.Option("--out", help="Fil (standard: skärmen)")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Sista dagen i 12-månadersperioden")
    ] = None,
    year: Annotated[int | None, typer.Option(help="Kalenderår (för årsindikatorer)")] = None,
    municipality: Annotated[list[str] | None, typer.Option(help="Kommunkod")] = None,
    choice: Annotated[list[str] | None, typer.Option(help="Val nyckel=värde")] = None,
) -> None:
    """En indikator (t.ex. A) som JSON, T/K/M per kommun (one indicator)."""
    settings = get_settings()
    catalogue, specs = _load(settings.catalogue_dir)
    query = service.IndicatorQuery(
        indicator_id, year, _date(as_of, "--as-of") or (None if year else today()), _choices(choice)
    )
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            codes = _municipalities(session, municipality)
            try:
                result = service.build_indicator(session, catalogue, specs, codes, query)
            except AppError as exc:
                raise _problem(exc) from None
            for code in codes:
                record(
                    session,
                    actor=CLI_ACTOR,
                    action=service.INDICATOR_ACTION,
                    object_type="indicator",
                    object_id=indicator_id,
                    municipality_code=code,
                )
    finally:
        engine.dispose()
    text = json.dumps(
        indicator_document(result, service.area_names(codes)), ensure_ascii=False, indent=2
    )
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        err_console.print(f"Skrev {out}.")


@population_app.command("import")
def population_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[
        str, typer.Option(help="Källa, t.ex. 'SCB BE0101, uttag 2026-03-01' eller 'Kolada N02104'")
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto|csv|kolada")] = "auto",
    reference_date: Annotated[
        str | None,
        typer.Option(help="Referensdatum (standard: 31/12 för varje år i filen)"),
    ] = None,
) -> None:
    """Läs in invånare 18+ den 31/12 (SCB eller Kolada N02104) (load adult population)."""
    if fmt not in ("auto", "csv", "kolada"):
        raise typer.BadParameter("auto|csv|kolada", param_hint="--format")
    if not 1 <= len(source) <= 200:
        raise typer.BadParameter("1–200 tecken", param_hint="--source")
    try:
        figures = parse(file.read_text(encoding="utf-8"), fmt)
    except (PopulationFileError, UnicodeDecodeError) as exc:
        raise fail(f"Filen kan inte läsas: {exc}") from None
    given = _date(reference_date, "--reference-date")
    dates = {f.year: given for f in figures} if given else {}
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            inserted, replaced = import_figures(
                session,
                figures,
                source=source,
                reference_dates={k: v for k, v in dates.items() if v is not None},
            )
            record(
                session,
                actor=CLI_ACTOR,
                action="population.import",
                object_type="population_figures",
                fields=["population_figures"],
            )
    finally:
        engine.dispose()
    years = sorted({f.year for f in figures})
    err_console.print(
        f"Befolkning inläst: {inserted} nya, {replaced} ersatta värden, år "
        f"{', '.join(map(str, years))}. (Population loaded.)"
    )
