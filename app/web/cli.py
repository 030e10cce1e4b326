"""`isu web password USERNAME`: give a person a password for the web interface.

The first coordinator of a new installation gets a password this way; after
that, coordinators give their municipality's users temporary passwords on the
Användare page. Wire-up (app/cli.py): ``app.add_typer(web_app, name="web")``;
until then: ``python -m app.web.cli password USERNAME``.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from sqlalchemy import select

from app.audit.service import Actor, record
from app.auth.passwords import generate_password, set_password
from app.config import get_settings
from app.db import make_engine, make_session_factory, transaction
from app.errors import ValidationFailed
from app.models import User

web_app = typer.Typer(help="Webbgränssnittet (the web interface).", no_args_is_help=True)


@web_app.callback()
def _web() -> None:
    """Webbgränssnittet (the web interface)."""


@web_app.command("password")
def password(
    username: Annotated[str, typer.Argument(help="Användarnamnet")],
    generate: Annotated[
        bool, typer.Option("--generate", help="Skapa ett tillfälligt lösenord och skriv ut det.")
    ] = False,
) -> None:
    """Sätt ett lösenord för webben (set a web password; asks for it, or --generate)."""
    if generate:
        secret = generate_password()
    else:
        secret = getpass.getpass("Nytt lösenord (minst 12 tecken): ")
        if secret != getpass.getpass("Samma lösenord igen: "):
            typer.echo("Lösenorden är inte lika. (The passwords differ.)", err=True)
            raise typer.Exit(1)
    engine = make_engine(get_settings().database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                typer.echo("Användaren finns inte. (No such user.)", err=True)
                raise typer.Exit(1)
            try:
                set_password(session, user, secret)
            except ValidationFailed as exc:
                typer.echo(exc.errors[0].detail, err=True)
                raise typer.Exit(1) from None
            record(
                session,
                actor=Actor(None, "cli", None),
                action="user.password_set",
                object_type="user",
                object_id=user.id,
                fields=["password"],
                municipality_code=user.municipality_code,
            )
    finally:
        engine.dispose()
    if generate:
        typer.echo("Tillfälligt lösenord (visas bara nu, shown only now):")
        sys.stdout.write(secret + "\n")
    else:
        typer.echo("Lösenordet är satt. (Password set.)")


if __name__ == "__main__":
    web_app()
