"""Log formatting without a database: JSON and text lines, tracebacks without
messages, database-busy errors named, request ids, the serve settings."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.middleware import accepted_request_id
from app.ops.logging import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    error_fields,
    safe_traceback,
)
from app.ops.serve import uvicorn_options

SECRET = "19121212-1212 Hemlig kommentar Qzxv"
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes global state; put it back for the other tests."""
    saved = [
        (lg, list(lg.handlers), lg.level, lg.propagate)
        for lg in (logging.getLogger(name) for name in LOGGERS)
    ]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


def _record(formatter: logging.Formatter, exc: BaseException | None = None, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("isu.test.formatting")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        if exc is None:
            logger.info("something_happened", extra=extra)
        else:
            try:
                raise exc
            except BaseException:
                logger.exception("it_failed", extra=extra)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def _raise_chained() -> None:
    try:
        raise KeyError(SECRET)
    except KeyError as inner:
        raise RuntimeError(SECRET) from inner


def test_json_line_has_the_fields_and_nothing_of_an_exception_message() -> None:
    line = _record(JsonFormatter(), request_id="abc", status=200, latency_ms=1.5)
    assert line.endswith("\n")
    assert line.count("\n") == 1
    data = json.loads(line)
    assert list(data)[:4] == ["timestamp", "level", "logger", "event"]
    assert data["level"] == "INFO"
    assert data["logger"] == "isu.test.formatting"
    assert data["event"] == "something_happened"
    assert data["timestamp"].endswith("+00:00")
    assert (data["request_id"], data["status"], data["latency_ms"]) == ("abc", 200, 1.5)

    try:
        _raise_chained()
    except RuntimeError as exc:
        failed = json.loads(_record(JsonFormatter(), exc, leaked=exc))
    assert failed["level"] == "ERROR"
    assert failed["error_type"] == "RuntimeError"
    assert failed["leaked"] == "RuntimeError"  # an exception passed as a field: its type only
    trace = failed["traceback"]
    assert trace.index("KeyError") < trace.index("RuntimeError")
    assert "_raise_chained" in trace
    assert "19121212" not in json.dumps(failed)
    assert "Qzxv" not in json.dumps(failed)


def test_text_line_has_key_values_and_a_traceback_without_messages() -> None:
    line = _record(TextFormatter(), route="/api/v1/cases/{case_id}", status=404, user_id=None)
    assert " INFO isu.test.formatting something_happened " in line
    assert "route=/api/v1/cases/{case_id} status=404 user_id=null" in line
    try:
        _raise_chained()
    except RuntimeError as exc:
        failed = _record(TextFormatter(), exc, **error_fields(exc))
    assert "error_type=RuntimeError" in failed
    assert "\nTraceback (most recent call last):\n" in failed
    assert "19121212" not in failed
    assert "Qzxv" not in failed


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_a_traceback_another_handler_cached_is_not_reused(formatter: logging.Formatter) -> None:
    try:
        _raise_chained()
    except RuntimeError as exc:
        record = logging.getLogger("isu.test").makeRecord(
            "isu.test", logging.ERROR, __file__, 1, "it_failed", (), (type(exc), exc, None)
        )
    record.exc_text = logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
    assert "Qzxv" in record.exc_text
    out = formatter.format(record)
    assert "RuntimeError" in out
    assert "Qzxv" not in out
    assert "19121212" not in out


def test_safe_traceback_keeps_frames_not_source_lines_or_messages() -> None:
    try:
        _raise_chained()
    except RuntimeError as exc:
        trace = safe_traceback(exc)
    assert f'File "{__file__}"' in trace
    assert "in _raise_chained" in trace
    assert "raise RuntimeError" not in trace  # no source lines either
    assert trace.splitlines()[-1] == "RuntimeError"


def test_sqlite_busy_is_named_and_other_database_errors_are_not_busy(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with pytest.raises(OperationalError) as busy, engine.connect() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with pytest.raises(OperationalError) as other, engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM no_such_table")
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    fields = error_fields(busy.value)
    assert fields["error_type"] == "sqlalchemy.exc.OperationalError"
    assert fields["db_error"] == "SQLITE_BUSY"
    assert fields["database_busy"] is True
    assert "INSERT" not in json.dumps(fields)  # the statement is in the message, never logged
    assert error_fields(other.value)["database_busy"] is False
    assert "db_error" not in error_fields(ValueError(SECRET))


@pytest.mark.parametrize(
    "value",
    ["0f1e2d3c4b5a69788796a5b4c3d2e1f0", "abcdefgh-1234", "req.2025_x-ABC", "a" * 64],
)
def test_a_short_safe_request_id_is_kept(value: str) -> None:
    assert accepted_request_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "short",
        "a" * 65,
        "has space-123",
        "slash/in/the/id",
        "åäöåäöåäö",
        "19121212-1212",
        "req-191212121212",
        "121212-1212-x",
        "id-1212121212-end",
    ],
)
def test_an_unsafe_or_personnummer_shaped_request_id_is_refused(value: str) -> None:
    assert accepted_request_id(value) is None


def test_trusted_proxies_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISU_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    assert Settings().trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]
    monkeypatch.setenv("ISU_TRUSTED_PROXIES", '["::1"]')
    assert Settings().trusted_proxies == ["::1"]
    monkeypatch.delenv("ISU_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []
    monkeypatch.setenv("ISU_TRUSTED_PROXIES", "10.0.0.1,proxy.example")
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings()


def test_metrics_token_must_be_long() -> None:
    with pytest.raises(ValidationError, match="metrics_token"):
        Settings(metrics_token="too-short")
    assert Settings(metrics_token="x" * 32).metrics_token == "x" * 32


def test_uvicorn_trusts_proxy_headers_only_from_configured_proxies() -> None:
    plain = uvicorn_options(Settings())
    assert plain["proxy_headers"] is False
    assert plain["access_log"] is False
    trusted = uvicorn_options(Settings(trusted_proxies=["127.0.0.1", "10.1.0.0/16"]))
    assert trusted["proxy_headers"] is True
    assert trusted["forwarded_allow_ips"] == "127.0.0.1,10.1.0.0/16"
    formatter = plain["log_config"]["formatters"]["isu"]["()"]
    assert formatter == "app.ops.logging.JsonFormatter"
    text = uvicorn_options(Settings(log_format="text"))["log_config"]
    assert text["formatters"]["isu"]["()"] == "app.ops.logging.TextFormatter"


@pytest.mark.usefixtures("restore_logging")
def test_uvicorn_loggers_go_through_the_json_formatter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json")
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "\x1b[36m42\x1b[0m"}
    )
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /enkat/secret-token HTTP/1.1" 200')
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "timestamp": json.loads(lines[0])["timestamp"],
            "level": "INFO",
            "logger": "uvicorn.error",
            "event": "Started server process [42]",
        }
    ]
