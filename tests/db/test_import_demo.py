"""`isu demo`: demo cases, users and tokens, once (both engines, real commits)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from app.auth.service import authenticate
from app.db import make_engine, make_session_factory
from app.importer.demo import DEMO_MUNICIPALITIES, DEMO_USERS, load_demo
from app.models import Case, User
from tests.conftest import make_settings


def test_demo_loads_once_and_keeps_its_tokens(fresh_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(fresh_database_url, mode="dev")
    tokens_file = tmp_path / "demo-tokens.json"
    first = load_demo(settings, cases=150, seed=2, if_empty=True, tokens_file=tokens_file)
    assert first.report is not None
    assert (first.report.state, first.report.created, first.cases) == ("done", 150, 150)
    assert set(first.tokens) == {u.username for u in DEMO_USERS}
    assert first.case_id is not None
    assert tokens_file.stat().st_mode & 0o777 == 0o600

    engine = make_engine(fresh_database_url)
    try:
        with make_session_factory(engine)() as session:
            for user in DEMO_USERS:
                principal = authenticate(session, first.tokens[user.username])
                assert principal is not None
                assert principal.role == user.role
            municipalities = set(session.scalars(select(Case.municipality_code).distinct()))
            assert municipalities <= set(DEMO_MUNICIPALITIES)
            users = session.scalar(select(func.count()).select_from(User))

        again = load_demo(settings, cases=150, seed=2, if_empty=True, tokens_file=tokens_file)
        assert again.report is None  # not empty: nothing loaded
        assert again.tokens == first.tokens
        assert again.cases == 150
        with make_session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(User)) == users
    finally:
        engine.dispose()
