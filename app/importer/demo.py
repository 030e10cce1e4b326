"""The demo (dev mode only): synthetic cases in a few municipalities of
Stockholm county and Uppsala, demo users with tokens, and what to try first.

Tokens are stored only hashed in the database; for the demo the plaintext
tokens are also kept in ``demo-tokens.json`` (owner-only file) beside the
SQLite database (for PostgreSQL in the data directory, ``var/``) so that
``make run`` can print them on every start. Never in production mode.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.auth.passwords import set_demo_passwords
from app.clock import today
from app.config import Settings, default_data_dir
from app.db import make_engine, make_session_factory, transaction
from app.importer.cli import run_import
from app.importer.service import ImportReport
from app.models import Case, User
from app.synthetic.generator import GeneratorConfig, generate_cases
from app.synthetic.identity import units_for

DEMO_MUNICIPALITIES = ("0180", "0126", "0127", "0181", "0182", "0380")
"""Stockholm (with districts), Huddinge, Botkyrka, Södertälje, Nacka (Stockholm
county) and Uppsala (another county, outside the regional demo user's scope)."""
TOKENS_FILE_NAME = "demo-tokens.json"
API = "http://127.0.0.1:8000/api/v1"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    municipality: str | None = None
    county: str | None = None
    caseworker_unit: bool = False


DEMO_USERS = (
    DemoUser("demo-handlaggare", "caseworker", "0180", caseworker_unit=True),
    DemoUser("demo-samordnare", "coordinator", "0180"),
    DemoUser("demo-regional", "regional", county="01"),
    DemoUser("demo-nationell", "national"),
    DemoUser("demo-admin", "admin"),
)


@dataclass(frozen=True)
class Welcome:
    tokens: dict[str, str]
    case_id: str | None
    report: ImportReport | None
    cases: int
    passwords: dict[str, str] = field(default_factory=dict)
    """Web sign-in for the demo caseworker and coordinator (dev mode only)."""
    tokens_file: Path | None = None


def tokens_file_for(settings: Settings) -> Path:
    """Beside the SQLite database file; for PostgreSQL in the data directory."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).resolve().parent / TOKENS_FILE_NAME
    return default_data_dir() / TOKENS_FILE_NAME


def _lines(config: GeneratorConfig) -> Any:
    class Lines:
        def __iter__(self) -> Any:
            for line in generate_cases(config):
                yield json.dumps(line, ensure_ascii=False, separators=(",", ":"))

    return Lines()


def load_demo(
    settings: Settings,
    *,
    cases: int,
    seed: int,
    if_empty: bool,
    tokens_file: Path | None = None,
) -> Welcome:
    tokens_file = tokens_file or tokens_file_for(settings)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            existing = session.scalar(select(func.count(Case.id))) or 0
        report = None
        if not (if_empty and existing):
            config = GeneratorConfig(
                today=today(), cases=cases, seed=seed, municipalities=DEMO_MUNICIPALITIES
            )
            # The generator's lines are valid by construction: no separate check pass.
            report = run_import(
                settings,
                _lines(config),
                total=cases,
                create_units=True,
                skip_invalid=False,
                check_first=False,
            )
        tokens = _read_tokens(tokens_file)
        if not _still_valid(factory, tokens):
            tokens = _issue_tokens(factory)
            _write_tokens(tokens_file, tokens)
        with transaction(factory) as session:
            passwords = set_demo_passwords(session)
        with factory() as session:
            unit_name = units_for("0180")[0].name
            case_id = _first_case(session, unit_name)
            total = session.scalar(select(func.count(Case.id))) or 0
        return Welcome(tokens, case_id, report, total, passwords, tokens_file)
    finally:
        engine.dispose()


def _still_valid(factory: Any, tokens: dict[str, str]) -> bool:
    """Every demo user has a token in the file that this database accepts."""
    from app.auth.service import authenticate

    with factory() as session:
        for demo_user in DEMO_USERS:
            token = tokens.get(demo_user.username)
            principal = authenticate(session, token) if token else None
            user = session.get(User, principal.user_id) if principal else None
            if user is None or user.username != demo_user.username:
                return False
    return True


def _first_case(session: Any, unit_name: str) -> str | None:
    from app.models import Unit

    found = session.scalar(
        select(Case.id)
        .join(Unit, Unit.id == Case.unit_id)
        .where(Unit.municipality_code == "0180", Unit.name == unit_name)
        .order_by(Case.actualised_on.desc(), Case.id)
        .limit(1)
    )
    return str(found) if found else None


def _issue_tokens(factory: Any) -> dict[str, str]:
    from app.auth.service import issue_token, revoke_tokens
    from app.models import Unit
    from app.units.service import create_unit, create_user

    tokens: dict[str, str] = {}
    with transaction(factory) as session:
        first = units_for("0180")[0]
        unit = session.scalar(
            select(Unit).where(Unit.municipality_code == "0180", Unit.name == first.name)
        )
        if unit is None:
            unit = create_unit(
                session,
                name=first.name,
                kind="myndighet",
                municipality_code="0180",
                district_code=first.district,
            )
        for demo_user in DEMO_USERS:
            user = session.scalar(select(User).where(User.username == demo_user.username))
            if user is None:
                _, token = create_user(
                    session,
                    username=demo_user.username,
                    role=demo_user.role,
                    municipality_code=demo_user.municipality,
                    unit_id=unit.id if demo_user.caseworker_unit else None,
                    county_code=demo_user.county,
                    expires_in_days=365,
                )
            else:
                revoke_tokens(session, demo_user.username)
                token = issue_token(session, user, expires_in_days=365, label="demo")
            tokens[demo_user.username] = token
    return tokens


def _read_tokens(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.get("tokens", {}).items()}


def _write_tokens(path: Path, tokens: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"note": "Demo tokens (dev mode only).", "tokens": tokens}, handle, indent=2)
    os.replace(tmp, path)


def print_welcome(welcome: Welcome, console: Console | None = None) -> None:
    out = console or Console()
    out.print(f"\n[bold]ISU-registret, demo[/bold]: {welcome.cases} ärenden (cases) i databasen.")
    out.print(f"Token (demo, dev mode only; sparade i {welcome.tokens_file}):", soft_wrap=True)
    labels = {
        "demo-handlaggare": "handläggare (caseworker, Stockholm)",
        "demo-samordnare": "samordnare (coordinator, Stockholm)",
        "demo-regional": "regional utvecklingsledare (Stockholms län)",
        "demo-nationell": "nationell (SKR)",
        "demo-admin": "admin",
    }
    for username, label in labels.items():
        token = welcome.tokens.get(username)
        if token:
            out.print(f"  {label:45} {token}", soft_wrap=True)
    caseworker = welcome.tokens.get("demo-handlaggare", "TOKEN")
    out.print("\nPröva (try):")
    out.print(
        f'  curl -s -H "Authorization: Bearer {caseworker}" "{API}/cases?limit=5"', soft_wrap=True
    )
    if welcome.case_id:
        out.print(
            f'  curl -s -H "Authorization: Bearer {caseworker}" "{API}/cases/{welcome.case_id}"',
            soft_wrap=True,
        )
    out.print(f'  curl -s "{API}/variables"', soft_wrap=True)
    if welcome.passwords:
        out.print("\nWebben (the web interface): http://127.0.0.1:8000/")
        for username, password in welcome.passwords.items():
            out.print(f"  logga in som {username} med lösenordet {password}", soft_wrap=True)
    out.print("API-dokumentation: http://127.0.0.1:8000/docs\n")
