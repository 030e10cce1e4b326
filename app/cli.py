"""The ``isu`` command line."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from alembic import command
from alembic.config import Config
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from app.analysis.cli import fill_analysis_if_behind
from app.analysis.cli import register as register_analysis_commands
from app.catalogue.loader import CatalogueError, load_catalogue
from app.config import PROJECT_ROOT, get_settings
from app.db import make_engine, make_session_factory, transaction
from app.importer.cli import register as register_data_commands
from app.indicators.cli import register as register_indicator_commands
from app.security.cli import keys_app
from app.stats.cli import export_app
from app.submissions.cli import register as register_submission_commands
from app.web.cli import web_app

app = typer.Typer(
    help="ISU-registret: uppföljning av stöd till våldsutsatta vuxna.", no_args_is_help=True
)
db_app = typer.Typer(help="Databasen (the database).", no_args_is_help=True)
users_app = typer.Typer(help="Användare och token (users and tokens).", no_args_is_help=True)
units_app = typer.Typer(help="Verksamheter (units).", no_args_is_help=True)
audit_app = typer.Typer(help="Granskningslogg (audit log).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(units_app, name="units")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(export_app, name="export")
register_indicator_commands(app)
register_submission_commands(app)
app.add_typer(web_app, name="web")
register_data_commands(app)
register_analysis_commands(app, export_app)

console = Console()
err_console = Console(stderr=True)


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url or get_settings().database_url)
    return cfg


def _session_factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().database_url))


def _audit_cli(
    session: Session, action: str, object_type: str, object_id: object, municipality: str | None
) -> None:
    """CLI administration is audited like the API, with the actor role ``cli``."""
    from app.audit.service import Actor, record

    record(
        session,
        actor=Actor(None, "cli", municipality),
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrera databasen (migrate the database to the newest schema)."""
    settings = get_settings()
    if settings.is_sqlite():
        path = settings.database_url.removeprefix("sqlite:///")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(), revision)
    console.print(f"Databasen är migrerad till {revision}. (Database migrated.)")
    fill_analysis_if_behind()


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Starta API:t (serve the API)."""
    import uvicorn

    from app.main import create_app
    from app.security.crypto import KeyConfigurationError

    try:
        api = create_app()
    except (KeyConfigurationError, CatalogueError) as exc:
        err_console.print(f"[red]Kan inte starta:[/red] {exc}")
        raise typer.Exit(2) from None
    # No access log: paths can carry a survey link token; RequestContext logs
    # the route template instead.
    uvicorn.run(api, host=host, port=port, log_level="info", access_log=False)


@app.command()
def variables(
    as_json: Annotated[bool, typer.Option("--json", help="Hela katalogen som JSON.")] = False,
) -> None:
    """Visa variabelkatalogen (show the variable catalogue)."""
    try:
        catalogue = load_catalogue(get_settings().catalogue_dir)
    except CatalogueError as exc:
        err_console.print(f"[red]Felaktig katalog:[/red] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(catalogue.as_json(), ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"Variabelkatalog {catalogue.version}")
    for column in ("SUV", "nyckel (key)", "fas", "typ", "etikett"):
        table.add_column(column)
    for v in catalogue.variables.values():
        table.add_row(str(v.suv or ""), v.key, v.phase.value, v.type.value, v.label.sv)
    console.print(table)


@units_app.command("create")
def units_create(
    name: Annotated[str, typer.Option(help="Verksamhetens namn")],
    municipality: Annotated[str, typer.Option(help="Kommunkod, 4 siffror")],
    kind: Annotated[str, typer.Option(help="myndighet|utforare|bada|annat")] = "myndighet",
    district: Annotated[str | None, typer.Option(help="Stadsdelskod (Stockholm, Göteborg)")] = None,
) -> None:
    """Skapa en verksamhet (create a unit)."""
    from app.units.service import create_unit

    with transaction(_session_factory()) as session:
        unit = create_unit(
            session, name=name, kind=kind, municipality_code=municipality, district_code=district
        )
        _audit_cli(session, "unit.create", "unit", unit.id, municipality)
        console.print(f"Verksamhet skapad: {unit.id}")


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="caseworker|coordinator|regional|national|admin")],
    municipality: Annotated[str | None, typer.Option(help="Kommunkod")] = None,
    unit: Annotated[str | None, typer.Option(help="Verksamhetens id (caseworker)")] = None,
    county: Annotated[str | None, typer.Option(help="Länskod (regional)")] = None,
    expires_days: Annotated[int, typer.Option(help="Tokens giltighet i dagar")] = 90,
) -> None:
    """Skapa en användare och skriv ut dess token en gång (create a user; prints the token once)."""
    from app.units.service import create_user

    with transaction(_session_factory()) as session:
        _user, token = create_user(
            session,
            username=username,
            role=role,
            municipality_code=municipality,
            unit_id=uuid.UUID(unit) if unit else None,
            county_code=county,
            expires_in_days=expires_days,
        )
        _audit_cli(session, "user.create", "user", _user.id, municipality)
    console.print("Token (visas bara nu, shown only now):")
    sys.stdout.write(token + "\n")


@users_app.command("revoke")
def users_revoke(username: str) -> None:
    """Spärra alla användarens token (revoke all of a user's tokens)."""
    from app.auth.service import revoke_tokens

    with transaction(_session_factory()) as session:
        count = revoke_tokens(session, username)
        _audit_cli(session, "user.revoke", "user", None, None)
    console.print(f"{count} token spärrade.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Kontrollera granskningsloggens kedja (verify the audit hash chain)."""
    from app.audit.service import verify

    with _session_factory()() as session:
        result = verify(session)
    if result.ok:
        console.print(f"Granskningsloggen är hel: {result.events} händelser. (Audit chain intact.)")
        # Noted outside the database, this anchor exposes a later rewrite of the whole chain.
        console.print(f"Senaste hash (anchor): {result.last_hash}")
        return
    err_console.print(
        f"[red]Granskningsloggen är bruten vid händelse {result.first_bad_id}:[/red] "
        f"{result.problem} (after {result.events} good events)"
    )
    raise typer.Exit(1)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app()
