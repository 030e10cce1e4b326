"""`isu export skr`, `isu submit` and `isu submissions …` (keys, hub side).

Wire-up (app/cli.py), after the ``export`` group is added::

    from app.submissions.cli import register as register_submission_commands
    register_submission_commands(app)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from sqlalchemy import select

from app.audit.service import Actor
from app.catalogue.loader import load_catalogue
from app.clock import utcnow
from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.errors import AppError
from app.indicators.cli import subgroup
from app.models import Case
from app.reference import municipalities
from app.security.keyring import Keyring
from app.security.master import load_master_key
from app.submissions import hub
from app.submissions.client import Progress as SendProgress
from app.submissions.client import SubmitError, send_package, submissions_url
from app.submissions.package import (
    PackageRequest,
    audit_export,
    build_package,
    check_request,
)
from app.submissions.sealing import (
    SealError,
    generate,
    load_private,
    load_public,
    open_sealed,
    public_pem,
    seal,
    write_private,
)

CLI_ACTOR = Actor(None, "cli", None)
console = Console(stderr=True)
submissions_app = typer.Typer(
    help="SKR-paket och nationella navet (packages and the national hub).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``export skr``, ``submit`` and the ``submissions`` group."""
    subgroup(app, "export", "Exporter (exports).").command("skr")(export_skr)
    app.command("submit")(submit)
    app.add_typer(submissions_app, name="submissions")


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]{message}[/red]", markup=True)
    return typer.Exit(code)


def _problem(exc: AppError) -> typer.Exit:
    pointers = "; ".join(f"{e.pointer or '/'} {e.detail}" for e in exc.errors)
    return _fail(f"{exc.detail} ({exc.detail_en}) {pointers}")


def export_skr(
    period: Annotated[
        str, typer.Option(help="ÅÅÅÅ eller ÅÅÅÅ-ÅÅÅÅ (aktualiserade under perioden)")
    ],
    out: Annotated[Path, typer.Option("--out", help="Paketfilen att skriva")],
    recipient: Annotated[str, typer.Option(help="Mottagarens namn")] = "skr",
    municipality: Annotated[
        str | None, typer.Option(help="Kommunkod (behövs bara om installationen har flera)")
    ] = None,
    encrypt_to: Annotated[
        Path | None,
        typer.Option(
            "--encrypt-to",
            exists=True,
            dir_okay=False,
            help="Mottagarens publika nyckel (PEM): paketet krypteras och kan skickas hur som helst",
        ),
    ] = None,
) -> None:
    """SKR-paketet: pseudonymiserade mikrodata med manifest (the SKR submission package)."""
    try:
        check_request(period, recipient)
    except AppError as exc:
        raise _problem(exc) from None
    public = None
    if encrypt_to is not None:
        try:
            public = load_public(encrypt_to.read_bytes())
        except SealError:
            raise _fail("Nyckelfilen är ingen publik X25519-nyckel (PEM).") from None
    settings = get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)
    keyring = Keyring(load_master_key(settings))
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            if municipality is None:
                found = sorted(session.scalars(select(Case.municipality_code).distinct()).all())
                if len(found) != 1:
                    raise _fail(
                        "Ange --municipality (installationen har ärenden från "
                        f"{len(found)} kommuner)."
                    )
                municipality = found[0]
            elif municipality not in municipalities():
                raise _fail("Okänd kommunkod. (Unknown municipality code.)")
            package = build_package(
                session,
                catalogue,
                keyring,
                PackageRequest(municipality, period, recipient),
                generated_at=utcnow(),
            )
            audit_export(session, CLI_ACTOR, package, sealed=public is not None)
    finally:
        engine.dispose()
    content = seal(package.content, public) if public is not None else package.content
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    counts = package.manifest["counts"]
    console.print(
        f"Skrev {out}: paket {package.package_id}, {counts['cases']} ärenden, "
        f"{counts['interventions']} insatser, {counts['risk_assessments']} skattningar"
        f"{', krypterat' if public is not None else ''}. (Package written.)"
    )


def _bar() -> Progress:
    return Progress(
        TextColumn("Skickar (sending)"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
    )


def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    to: Annotated[str, typer.Option("--to", help="Navets adress, t.ex. https://nav.example.se")],
    token: Annotated[
        str | None,
        typer.Option(
            envvar="ISU_SUBMISSION_TOKEN",
            help="Kommunens token på navet (helst via miljövariabeln ISU_SUBMISSION_TOKEN)",
            show_default=False,
        ),
    ] = None,
    retries: Annotated[int, typer.Option(min=0, max=20, help="Antal nya försök")] = 5,
    allow_http: Annotated[
        bool, typer.Option("--allow-http", help="Tillåt okrypterad HTTP (bara för test)")
    ] = False,
) -> None:
    """Skicka ett paket till nationella navet (send a package to the national hub)."""
    if not token:
        raise _fail("Token saknas: sätt ISU_SUBMISSION_TOKEN. (Token missing.)")
    try:
        url = submissions_url(to, allow_http=allow_http)
    except SubmitError as exc:
        raise _fail(str(exc)) from None
    content = file.read_bytes()
    with _bar() as bar:
        task = bar.add_task("upload", total=len(content))
        progress = SendProgress(
            start=lambda total: bar.reset(task, total=total),
            advance=lambda n: bar.advance(task, n),
        )
        try:
            result = send_package(content, url, token, retries=retries, progress=progress)
        except SubmitError as exc:
            raise _fail(str(exc), 1) from None
    report_result(result.status, result.body)


def report_result(status: int, body: dict[str, object]) -> None:
    if status == 201:
        console.print(
            f"Mottaget av navet: version {body.get('version')} för {body.get('municipality_code')} "
            f"{body.get('period')}. (Accepted.)"
        )
        return
    if status == 200:
        console.print("Navet hade redan tagit emot paketet: ingen ändring. (Already received.)")
        return
    detail = body.get("detail") or f"HTTP {status}"
    errors = body.get("errors")
    lines = [f"Navet avvisade paketet: {detail}"]
    if isinstance(errors, list):
        for error in errors[:20]:
            if isinstance(error, dict):
                lines.append(f"  {error.get('pointer') or '/'}: {error.get('detail')}")
    raise _fail("\n".join(lines), 1)


@submissions_app.command("keygen")
def keygen(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Katalog för nycklarna")],
    name: Annotated[str, typer.Option(help="Nyckelns namn")] = "skr",
) -> None:
    """Skapa mottagarens nyckelpar (X25519): NAME.key (hemlig) och NAME.pub."""
    private = generate()
    try:
        write_private(out_dir / f"{name}.key", private)
    except FileExistsError:
        raise _fail("Nyckelfilen finns redan och skrivs inte över.") from None
    (out_dir / f"{name}.pub").write_bytes(public_pem(private.public_key()))
    console.print(
        f"Skapade {out_dir / (name + '.key')} (hemlig, bara ägaren kan läsa) och "
        f"{out_dir / (name + '.pub')} (ge den till kommunerna)."
    )


@submissions_app.command("open")
def open_package(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    key: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Den hemliga nyckeln")],
    out: Annotated[Path, typer.Option("--out", help="Zip-filen att skriva")],
) -> None:
    """Dekryptera ett krypterat paket till en zip-fil (decrypt a sealed package)."""
    try:
        content = open_sealed(file.read_bytes(), load_private(key.read_bytes()))
    except SealError:
        raise _fail("Paketet kan inte öppnas med nyckeln eller har ändrats.") from None
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    console.print(f"Skrev {out}.")


@submissions_app.command("receive")
def receive_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    key: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Navets hemliga nyckel (krypterat paket)"),
    ] = None,
) -> None:
    """Navet: ta emot ett paket som kommit på annat sätt (hub: receive a package file)."""
    private = None
    if key is not None:
        try:
            private = load_private(key.read_bytes())
        except SealError:
            raise _fail("Nyckelfilen är ingen hemlig X25519-nyckel (PEM).") from None
    settings = get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        try:
            with transaction(factory) as session:
                received = hub.receive(
                    session,
                    catalogue,
                    file.read_bytes(),
                    submitter=None,
                    actor=CLI_ACTOR,
                    private_key=private,
                )
                body = hub.submission_dict(received.submission, created=received.created)
        except AppError as exc:
            hub.audit_rejection(factory, CLI_ACTOR, exc, None)
            raise _problem(exc) from None
    finally:
        engine.dispose()
    report_result(201 if received.created else 200, {k: str(v) for k, v in body.items()})
    sys.stdout.write(f"{body['id']}\n")
