"""The ``isu`` command line."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from alembic import command
from alembic.config import Config
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.analysis.cli import fill_analysis_if_behind
from app.analysis.cli import register as register_analysis_commands
from app.backup.cli import register as register_backup_commands
from app.catalogue.loader import CatalogueError, load_catalogue
from app.config import get_settings, resource_path
from app.db import make_engine, make_session_factory, transaction
from app.importer.cli import register as register_data_commands
from app.indicators.cli import register as register_indicator_commands
from app.security.cli import keys_app
from app.security.keyring import Keyring
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
register_backup_commands(app)
register_analysis_commands(app, export_app)

console = Console()
err_console = Console(stderr=True)


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(resource_path("alembic.ini")))
    cfg.set_main_option("script_location", str(resource_path("migrations")))
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
        _prepare_sqlite_file(settings.database_url)
    command.upgrade(alembic_config(), revision)
    console.print(f"Databasen är migrerad till {revision}. (Database migrated.)")
    fill_analysis_if_behind()


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Målrevision, t.ex. 0003 (target revision).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Fråga inte (do not ask).")] = False,
) -> None:
    """Nedgradera databasen till en äldre revision (downgrade to an older schema).

    Data of the newer schema is kept aside and put back by the next upgrade
    (docs/operations.md); take a backup first all the same."""
    if not yes:
        typer.confirm(
            f"Nedgradera databasen till {revision}? Ta en säkerhetskopia först (isu backup). "
            f"(Downgrade the database to {revision}? Take a backup first.)",
            abort=True,
        )
    command.downgrade(alembic_config(), revision)
    console.print(f"Databasen är nedgraderad till {revision}. (Database downgraded.)")


def _prepare_sqlite_file(url: str) -> None:
    """A new directory is made owner-only; an existing database file (and its
    -wal, -shm) that others can read is made owner-only (0600)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)
            console.print(
                f"{file.name} var läsbar för andra och är nu bara läsbar för ägaren (0600). "
                "(Made owner-only.)"
            )


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Antal arbetsprocesser (worker processes).")
    ] = 1,
) -> None:
    """Starta API:t (serve the API). Logs, workers, proxies: docs/observability.md."""
    from app.main import create_app
    from app.ops.logging import configure_logging
    from app.ops.serve import run, serve_log_format
    from app.security.crypto import KeyConfigurationError

    settings = get_settings()
    configure_logging(serve_log_format(settings))
    try:
        api = create_app(settings)
    except (KeyConfigurationError, CatalogueError) as exc:
        err_console.print(f"[red]Kan inte starta:[/red] {exc}")
        raise typer.Exit(2) from None
    run(api, settings, host=host, port=port, workers=workers)


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


def _keyring(factory: sessionmaker[Session]) -> Keyring:
    """The master key's keyring, refused (exit 2) when it does not open the database."""
    from app.security.crypto import KeyConfigurationError
    from app.security.master import load_master_key

    try:
        keyring = Keyring(load_master_key(get_settings()))
        with factory() as session:
            keyring.verify(session)
    except KeyConfigurationError as exc:
        err_console.print(f"[red]Nyckelfel (key error):[/red] {exc}")
        raise typer.Exit(2) from None
    return keyring


@audit_app.command("seal")
def audit_seal() -> None:
    """Försegla nya händelser i den nyckelade kedjan (seal new events into the keyed
    chain; the server does this every few seconds)."""
    from app.audit.service import seal_all

    factory = _session_factory()
    sealed = seal_all(factory, _keyring(factory))
    console.print(f"{sealed} händelser förseglade. ({sealed} events sealed.)")


@audit_app.command("verify")
def audit_verify() -> None:
    """Kontrollera granskningsloggens nyckelade kedja (verify the keyed audit chain)."""
    from datetime import timedelta

    from app.audit.service import verify

    factory = _session_factory()
    keyring = _keyring(factory)
    max_age = timedelta(seconds=get_settings().audit_seal_max_age_seconds)
    with factory() as session:
        result = verify(session, keyring, max_unsealed_age=max_age)
    if result.ok:
        console.print(
            f"Granskningsloggen är hel: {result.events} förseglade händelser, "
            f"{result.unsealed} ännu inte förseglade. (Audit chain intact.)"
        )
        # Noted outside the database, this anchor exposes a later rollback of the whole chain.
        console.print(f"Senaste MAC (anchor): {result.events}:{result.last_hash}")
        return
    err_console.print(
        f"[red]Granskningsloggen är bruten vid händelse {result.first_bad_id}:[/red] "
        f"{result.problem} (after {result.events} good events)"
    )
    raise typer.Exit(1)


def main() -> None:
    from pydantic import ValidationError

    from app.ops.logging import configure_logging

    try:
        log_format = get_settings().log_format or "text"
    except ValidationError:  # reported by the command that reads the settings
        log_format = "text"
    configure_logging(log_format)
    app()
