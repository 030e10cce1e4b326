"""The validation rules as pure functions: catalogue-generated types, rules
across values, dates, pointers, body encoding. No database."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from app.cases.examples import build_examples
from app.cases.rules import Dated, adult, case_dates, explain_age
from app.cases.schemas import build_case_schemas
from app.catalogue.loader import Catalogue, load_catalogue
from app.catalogue.models import IsoDate, SafeText, annotation_for
from app.catalogue.spec import Condition, Option, Phase, Storage, Text, Variable, VariableType
from app.catalogue.validation import check_multi, check_skip_logic, check_value, normalise_multi
from app.config import PROJECT_ROOT
from app.errors import MESSAGES, FieldError, errors_from_pydantic, field_error, pointer_from_loc
from app.middleware import _encoding_errors

CATALOGUE: Catalogue = load_catalogue(PROJECT_ROOT / "variables")
T = Text(sv="x", en="x")


def variable(kind: VariableType, **kw: Any) -> Variable:
    return Variable(key="k", phase=Phase.bakgrund, type=kind, label=T, question=T, **kw)


def error_codes(errors: list[Any]) -> list[tuple[str, str]]:
    return [(e.pointer, e.code) for e in errors]


def pydantic_errors(annotation: Any, value: Any, pointer: str) -> list[FieldError]:
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        return [replace(e, pointer=pointer) for e in errors_from_pydantic(exc.errors())]
    return []


def pydantic_codes(annotation: Any, value: Any) -> list[str]:
    """The codes of the register's vocabulary for what pydantic found."""
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        return [e.code for e in errors_from_pydantic(exc.errors())]
    return []


# --- catalogue-generated types ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        (1, []),
        (True, ["wrong_type"]),
        (1.0, ["wrong_type"]),
        ("1", ["wrong_type"]),
        (3, ["unknown_code"]),
    ],
)
def test_a_code_is_a_json_integer(value: Any, codes: list[str]) -> None:
    assert pydantic_codes(annotation_for(CATALOGUE.variables["sex"]), value) == codes


def test_multi_choice_is_capped_at_the_number_of_options() -> None:
    disability = CATALOGUE.variables["disability"]
    annotation = annotation_for(disability)
    assert pydantic_codes(annotation, [1, 2]) == []
    assert pydantic_codes(annotation, [1] * 10_000) == ["too_many"]


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("2025-03-01", []),
        (date(2025, 3, 1), []),
        ("2025-03-01T00:00:00", ["invalid_date"]),
        ("20250301", ["invalid_date"]),
        (20250301, ["invalid_date"]),
        (0, ["invalid_date"]),
        ("2025-02-29", ["invalid_date"]),
    ],
)
def test_a_date_is_iso_only(value: Any, codes: list[str]) -> None:
    assert pydantic_codes(IsoDate, value) == codes


@pytest.mark.parametrize(
    ("value", "codes"),
    [("vanlig text", []), ("a\x00b", ["nul_character"]), ("a\ud800b", ["string_unicode"])],
)
def test_safe_text(value: str, codes: list[str]) -> None:
    assert pydantic_codes(SafeText, value) == codes


# --- rules across values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([1, 2, 3], []),
        ([4], []),
        ([4, 1], [("/v", "exclusive")]),
        ([5, 4], [("/v", "exclusive")]),
        ([1, 1], [("/v", "duplicate")]),
        ([], [("/v", "empty")]),
        ([9], [("/v/0", "unknown_code")]),
        ([True], [("/v/0", "wrong_type")]),
        (4, [("/v", "wrong_type")]),
        (list(range(1, 7)), [("/v", "too_many")]),
    ],
)
def test_check_multi(value: Any, expected: list[tuple[str, str]]) -> None:
    assert error_codes(check_multi(CATALOGUE.variables["disability"], value, "/v")) == expected


def test_exclusive_message_names_the_catalogue_labels() -> None:
    [error] = check_multi(CATALOGUE.variables["disability"], [4, 1], "/v")
    assert "”Nej”" in error.detail
    assert "“No”" in error.detail_en
    [error] = check_multi(CATALOGUE.variables["disability"], [], "/v")
    assert "”Nej” eller ”Vet ej”" in error.detail


def test_empty_list_where_allowed_is_registered_as_none() -> None:
    collaboration = CATALOGUE.variables["collaboration"]
    assert check_multi(collaboration, [], "/v") == []
    assert normalise_multi(collaboration, [9, 1]) == [1, 9]
    assert normalise_multi(collaboration, []) == []


def test_skip_logic() -> None:
    variables = CATALOGUE.variables
    for change in (1, 2):
        values = {"survey_violence_change": change, "survey_support_importance": 4}
        assert check_skip_logic(variables, values, "") == []
    for values in (
        {"survey_violence_change": 3, "survey_support_importance": 4},
        {"survey_support_importance": 4},
    ):
        errors = check_skip_logic(variables, values, "")
        assert error_codes(errors) == [("/survey_support_importance", "skip_logic")]
        assert "Förbättrats mycket" in errors[0].detail


def test_skip_logic_reads_the_catalogue() -> None:
    source = variable(
        VariableType.single, options=(Option(code=1, label=T), Option(code=2, label=T))
    )
    follow = Variable(
        key="f",
        phase=Phase.bakgrund,
        type=VariableType.single,
        label=T,
        question=T,
        options=(Option(code=1, label=T),),
        applies_when=Condition(variable="k", any_of=(2,)),
    )
    variables = {"k": source, "f": follow}
    assert error_codes(check_skip_logic(variables, {"k": 1, "f": 1}, "/x")) == [
        ("/x/f", "skip_logic")
    ]
    assert check_skip_logic(variables, {"k": 2, "f": 1}, "/x") == []


@pytest.mark.parametrize(
    ("kind", "kw", "value", "code"),
    [
        (VariableType.integer, {"minimum": 0, "maximum": 10}, 11, "too_large"),
        (VariableType.integer, {"minimum": 0, "maximum": 10}, -1, "too_small"),
        (VariableType.integer, {}, True, "wrong_type"),
        (VariableType.integer, {}, 1.5, "wrong_type"),
        (VariableType.date, {}, "2025-02-30", "invalid_date"),
        (VariableType.date, {}, "20250301", "invalid_date"),
        (VariableType.date, {}, 20250301, "invalid_date"),
        (VariableType.text, {"max_length": 3}, "abcd", "too_long"),
        (VariableType.text, {}, "a\x00", "nul_character"),
        (VariableType.text, {}, "a\udc80", "string_unicode"),
        (VariableType.text, {}, 5, "wrong_type"),
    ],
)
def test_local_values_are_checked_by_type(
    kind: VariableType, kw: dict[str, Any], value: Any, code: str
) -> None:
    assert error_codes(check_value(variable(kind, **kw), value, "/p")) == [("/p", code)]


def test_local_values_that_pass() -> None:
    assert check_value(variable(VariableType.date), "2025-03-01", "/p") == []
    assert check_value(variable(VariableType.integer, minimum=0), 0, "/p") == []
    assert check_value(variable(VariableType.text), "fri text", "/p") == []


# --- dates and adults ------------------------------------------------------------

POINTERS = {"actualised_on": "/a", "closed_on": "/c", "intervention": "/i"}
TODAY = date(2026, 1, 1)


def named(*days: date) -> list[Dated]:
    return [Dated(day, "Skyddat boende", "Sheltered housing") for day in days]


@pytest.mark.parametrize(
    ("opened", "closed", "starts", "expected"),
    [
        (date(2025, 3, 1), date(2025, 6, 1), [date(2025, 3, 10)], []),
        (date(2025, 3, 1), date(2025, 3, 1), [date(2025, 3, 1)], []),  # all on one day
        (date(2025, 3, 1), date(2025, 2, 1), [], [("/c", "closed_before_actualised")]),
        (date(2025, 3, 1), None, [date(2025, 2, 1)], [("/i", "before_actualisation")]),
        (date(2025, 3, 1), date(2025, 6, 1), [date(2025, 7, 1)], [("/i", "after_closing")]),
        (date(2026, 1, 2), None, [], [("/a", "future_date")]),
        (date(2025, 3, 1), date(2026, 1, 2), [], [("/c", "future_date")]),
        (date(2025, 3, 1), None, [date(2026, 1, 2)], [("/i", "future_date")]),
    ],
)
def test_case_dates(
    opened: date, closed: date | None, starts: list[date], expected: list[tuple[str, str]]
) -> None:
    errors = case_dates(
        actualised_on=opened,
        closed_on=closed,
        interventions=named(*starts),
        today=TODAY,
        pointers=POINTERS,
    )
    assert error_codes(errors) == expected


def test_a_broken_date_order_names_the_intervention_and_its_date() -> None:
    [late] = case_dates(
        actualised_on=date(2025, 3, 1),
        closed_on=date(2025, 3, 5),
        interventions=named(date(2025, 3, 12)),
        today=TODAY,
        pointers=POINTERS,
    )
    assert late.code == "after_closing"
    assert "”Skyddat boende” (2025-03-12)" in late.detail
    assert "“Sheltered housing” (2025-03-12)" in late.detail_en
    assert "2025-03-05" in late.detail


def test_adult() -> None:
    assert adult(18, "/age") == []
    assert adult(None, "/age") == []
    assert error_codes(adult(17, "/age")) == [("/age", "under_18")]


def test_an_age_below_the_catalogue_minimum_is_the_adult_rule() -> None:
    found = pydantic_errors(annotation_for(CATALOGUE.variables["age"]), 15, "/values/age")
    assert error_codes(found) == [("/values/age", "too_small")]
    assert "minst 18" in found[0].detail
    [explained] = explain_age(found, "/values/age")
    assert explained.code == "under_18"
    assert "18 år" in explained.detail
    assert "uppskattad ålder" in explained.detail
    assert "estimated age is allowed" in explained.detail_en


def test_every_field_error_has_swedish_and_english() -> None:
    with pytest.raises(ValueError, match="English"):
        FieldError("/x", "invalid", "Ogiltigt.", "")
    for code in MESSAGES:
        error = field_error("/x", code)
        assert error.detail
        assert error.detail_en


# --- pointers and encodings --------------------------------------------------------


@pytest.mark.parametrize(
    ("loc", "pointer"),
    [
        (("body", "values", "sex"), "/values/sex"),
        (("body", "local_values", "a/b~c", "[key]"), "/local_values/a~1b~0c"),
        (("body", "comments", "x\udcff"), "/comments/x\ufffd"),
        (("body",), ""),
        (("query", "limit"), "/query/limit"),
        (("path", "case_id"), "/path/case_id"),
    ],
)
def test_pointer_from_loc(loc: tuple[str, ...], pointer: str) -> None:
    assert pointer_from_loc(loc) == pointer


def test_pydantic_errors_never_quote_input_and_name_text_limits() -> None:
    raw = [
        {"type": "json_invalid", "loc": ("body", 17), "input": {}},
        {"type": "too_long", "loc": ("body", "comments", "x"), "input": "19121212-1212" * 400},
        {"type": "too_long", "loc": ("body", "values", "disability"), "input": [1] * 10},
    ]
    errors = errors_from_pydantic(raw)
    assert error_codes(errors) == [
        ("", "json_invalid"),
        ("/comments/x", "too_long"),
        ("/values/disability", "too_many"),
    ]
    assert all("1212" not in e.detail + e.detail_en for e in errors)


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        (b'{"a": "\xc3\xa5 ok"}', []),
        (b'{"a": "x\xffy", "b": ["ok", "\xfe"]}', ["/a", "/b/1"]),
        (b'{"a": {"k\xff": 1}}', ["/a"]),
        (b'{"a/b": "\xff"}', ["/a~1b"]),
        (b'{"a": \xff}', [""]),
    ],
)
def test_encoding_errors(body: bytes, pointers: list[str]) -> None:
    errors = _encoding_errors(body)
    assert [e.pointer for e in errors] == pointers
    assert {e.code for e in errors} <= {"string_unicode"}


# --- examples and the catalogue ------------------------------------------------------


def test_every_example_is_valid_for_its_body() -> None:
    schemas = build_case_schemas(CATALOGUE)
    models = {
        "create": schemas.create,
        "update": schemas.update,
        "close": schemas.close,
        "intervention_in": schemas.intervention_in,
        "intervention_patch": schemas.intervention_patch,
        "risk_in": schemas.risk_in,
        "risk_patch": schemas.risk_patch,
        "survey_in": schemas.survey_in,
    }
    examples = build_examples(CATALOGUE)
    assert set(models) <= set(examples)
    for name, model in models.items():
        assert examples[name]
        for example in examples[name].values():
            model.model_validate(example["value"])
    values = examples["survey_in"]["survey"]["value"]
    assert check_skip_logic(CATALOGUE.variables, values, "") == []


# Where app/cases may name a catalogue-validated variable: domain logic only.
ALLOWED_KEYS = {
    "status.py": {"goal_followup", "closing_reason"},  # the funnel of Diagram 1
    "rules.py": {"age", "age_basis"},  # adults only; age from a personnummer
    "exclusion.py": {"perpetrator"},  # an exclusion reason, not SUV 58
}


def test_case_code_names_no_catalogue_value_or_label() -> None:
    """Validation is catalogue-driven: no variable key with catalogue-validated
    values, and no option label, is written into app/cases outside ALLOWED_KEYS."""
    value_keys = {k for k, v in CATALOGUE.variables.items() if v.storage is Storage.values}
    labels = {
        text
        for v in CATALOGUE.variables.values()
        for o in v.options
        for text in (o.label.sv, o.label.en)
        if len(text) > 3
    } | {v.label.sv for v in CATALOGUE.variables.values()}
    found = []
    for path in sorted((PROJECT_ROOT / "app" / "cases").glob("*.py")):
        allowed = ALLOWED_KEYS.get(path.name, set())
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if node.value in value_keys - allowed or node.value in labels:
                found.append((path.name, node.lineno, node.value))
    assert found == []
