"""Exporters are pure: no database, web layer, settings or clock inside
(STYLE.md). Walks every module of exporters/ with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

from app.config import PROJECT_ROOT

FORBIDDEN = (
    "sqlalchemy",
    "fastapi",
    "starlette",
    "psycopg",
    "app",
    "httpx",
    "uvicorn",
    "random",
    "secrets",
    "time",
    "datetime.datetime.now",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def called_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    calls: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                calls.add(func.attr)
            elif isinstance(func, ast.Name):
                calls.add(func.id)
    return calls


def test_exporters_import_no_database_web_or_clock() -> None:
    files = sorted((PROJECT_ROOT / "exporters").rglob("*.py"))
    assert len(files) >= 10
    offenders = []
    for path in files:
        for module in imported_modules(path):
            root = module.split(".")[0]
            if root in FORBIDDEN or module in FORBIDDEN:
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}: {module}")
    assert offenders == []


def test_exporters_read_no_clock_files_or_randomness() -> None:
    banned = {
        "now",
        "today",
        "utcnow",
        "open",
        "read_text",
        "write_text",
        "read_bytes",
        "write_bytes",
        "random",
        "getenv",
    }
    offenders = []
    for path in sorted((PROJECT_ROOT / "exporters").rglob("*.py")):
        used = called_names(path) & banned
        if used:
            offenders.append(f"{path.relative_to(PROJECT_ROOT)}: {sorted(used)}")
    assert offenders == []


def test_the_walker_catches_a_database_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from sqlalchemy.orm import Session\nimport app.db\n", encoding="utf-8")
    assert {"sqlalchemy.orm", "app.db"} <= imported_modules(bad)
