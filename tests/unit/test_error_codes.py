"""One vocabulary of error codes, all documented in docs/errors.md: the
translated pydantic types, the standard messages and every code the
hand-written checks use (outside the national hub's package checks, which
docs/submission.md documents)."""

from __future__ import annotations

import ast
import re

from app.config import PROJECT_ROOT
from app.errors import MESSAGES, PYDANTIC_CODES, WRONG_TYPE_MESSAGES, field_error

ERROR_HELPERS = {"FieldError", "field_error", "_err", "_error"}
OWN_CODES = ("submissions",)
"""Packages whose codes are documented elsewhere (docs/submission.md)."""


def documented() -> set[str]:
    text = (PROJECT_ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    return set(re.findall(r"`([a-z_0-9]+)`", text))


def codes_in_code() -> dict[str, str]:
    """Code literals given to the error helpers in app/ (code -> a file)."""
    found: dict[str, str] = {}
    for path in sorted((PROJECT_ROOT / "app").rglob("*.py")):
        if any(part in OWN_CODES for part in path.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name not in ERROR_HELPERS or len(node.args) < 2:
                continue
            code = node.args[1]
            # units' _error(pointer, sv, en, code): there the second argument is a message
            if (
                isinstance(code, ast.Constant)
                and isinstance(code.value, str)
                and " " not in code.value
            ):
                found.setdefault(code.value, path.name)
    return found


def test_every_code_is_documented() -> None:
    docs = documented()
    codes = set(MESSAGES) | {code for code, _ in PYDANTIC_CODES.values()}
    missing = sorted(codes - docs)
    assert missing == []
    undocumented = {code: where for code, where in codes_in_code().items() if code not in docs}
    assert undocumented == {}


def test_the_translation_leaves_no_pydantic_type() -> None:
    """What clients see is the register's vocabulary, never pydantic's own names."""
    assert set(PYDANTIC_CODES) - {code for code, _ in PYDANTIC_CODES.values()} >= {
        "int_type",
        "literal_error",
        "greater_than_equal",
        "date_parsing",
        "extra_forbidden",
    }
    for expected in WRONG_TYPE_MESSAGES:
        error = field_error("/x", "wrong_type", expected=expected)
        assert error.detail != MESSAGES["wrong_type"][0]
