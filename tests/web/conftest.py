"""Fixtures of the web tests: a browser-like client (HTTPS, cookies, no
automatic redirects) on the app joined to the test's rolled-back transaction,
and a cheap password hasher (Argon2 with the production cost takes ~0.4 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth import passwords


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        passwords, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    monkeypatch.setattr(passwords, "_DUMMY_HASH", None)


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    for name in ("web_sign_in_limiter", "web_survey_limiters"):
        if hasattr(app.state, name):
            delattr(app.state, name)
    with TestClient(
        app,
        base_url="https://testserver",
        follow_redirects=False,
        raise_server_exceptions=False,
    ) as client:
        yield client
