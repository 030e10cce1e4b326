"""Structured logs: one JSON object per line (or ``key=value`` text), on stderr.

Exceptions are rendered without their messages, everywhere: an exception text
may quote a submitted or stored value (a personnummer, a comment, the
parameters of a failed SQL statement). A traceback keeps its frames (file,
line, function) and the exception types, nothing else.

Database contention is named: ``db_error`` carries the SQLite error name or
the PostgreSQL SQLSTATE, and ``database_busy`` is true for lock waits that
ran out ("database is locked", lock/statement timeouts, deadlocks, a full
connection pool).
"""

from __future__ import annotations

import json
import logging
import logging.config
import sqlite3
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter
from sqlalchemy import exc as sa_exc

LogFormat = Literal["json", "text"]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

# uvicorn adds a coloured copy of its message; never worth a field.
_NOT_FIELDS = frozenset({"color_message", "taskName"})
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}

# PostgreSQL: lock_not_available, query_canceled (statement/lock timeout),
# deadlock_detected, serialization_failure.
_PG_BUSY = frozenset({"55P03", "57014", "40P01", "40001"})
POOL_TIMEOUT = "pool_timeout"


def qualified_name(cls: type[BaseException]) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, oldest first."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__
    return chain[::-1]


def safe_traceback(exc: BaseException) -> str:
    """Frames (file, line, function) and exception types of ``exc`` and its
    chain: no messages, no locals, not even source lines (a test's literal)."""
    parts: list[str] = []
    for index, item in enumerate(_chain(exc)):
        if index:
            parts.append("\nThen / Sedan:\n")
        if item.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(
                f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
                for frame in traceback.extract_tb(item.__traceback__)
            )
        parts.append(qualified_name(type(item)) + "\n")
    return "".join(parts).rstrip("\n")


def database_error_code(exc: BaseException) -> str | None:
    """The driver's error name (``SQLITE_BUSY``) or SQLSTATE (``55P03``), if any."""
    for item in reversed(_chain(exc)):
        if isinstance(item, sa_exc.TimeoutError):
            return POOL_TIMEOUT
        original = item.orig if isinstance(item, sa_exc.DBAPIError) else item
        if isinstance(original, sqlite3.Error):
            name = getattr(original, "sqlite_errorname", None)
            if isinstance(name, str):
                return name
        sqlstate = getattr(original, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate
    return None


def is_busy(code: str | None) -> bool:
    if code is None:
        return False
    return code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or code in _PG_BUSY | {POOL_TIMEOUT}


def error_fields(exc: BaseException) -> dict[str, Any]:
    """Log fields describing ``exc`` without its message."""
    fields: dict[str, Any] = {
        "error_type": qualified_name(type(exc)),
        "traceback": safe_traceback(exc),
    }
    code = database_error_code(exc)
    if code is not None:
        fields["db_error"] = code
        fields["database_busy"] = is_busy(code)
    return fields


def _safe_exc_text(ei: ExcInfo) -> str:
    return safe_traceback(ei[1]) if ei[1] is not None else ""


def _without_cached_exc_text(
    record: logging.LogRecord, format_record: Callable[[logging.LogRecord], str]
) -> str:
    """Format ``record`` ignoring ``exc_text``: logging caches the traceback text
    there, and another handler's formatter may have put the messages in it."""
    cached, record.exc_text = record.exc_text, None
    try:
        return format_record(record)
    finally:
        record.exc_text = cached


class JsonFormatter(_LibraryJsonFormatter):
    """``{"timestamp", "level", "logger", "event", ...extra fields}``, one line."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={
                "levelname": "level",
                "name": "logger",
                "message": "event",
                "exc_info": "traceback",
            },
            timestamp=True,
            reserved_attrs=[*RESERVED_ATTRS, *_NOT_FIELDS],
            json_ensure_ascii=False,
        )

    def formatException(self, ei: Any) -> str:
        return _safe_exc_text(ei)

    def format(self, record: logging.LogRecord) -> str:
        return _without_cached_exc_text(record, super().format)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        if record.exc_info and record.exc_info[1] is not None:
            log_data.setdefault("error_type", qualified_name(type(record.exc_info[1])))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        ordered = {"timestamp": log_data.pop("timestamp", None)}
        for key, value in log_data.items():
            # An exception object passed as a field would be written with its message.
            ordered[key] = (
                qualified_name(type(value)) if isinstance(value, BaseException) else value
            )
        return ordered


class TextFormatter(logging.Formatter):
    """``time LEVEL logger event key=value ...`` with the traceback below."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatException(self, ei: Any) -> str:
        return _safe_exc_text(ei)

    def format(self, record: logging.LogRecord) -> str:
        line = _without_cached_exc_text(record, super().format)
        extra = {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS | _NOT_FIELDS}
        trace = extra.pop("traceback", None)
        for key, value in extra.items():
            if isinstance(value, BaseException):
                value = qualified_name(type(value))
            text = value if isinstance(value, str) and value and " " not in value else None
            line += f" {key}={text if text is not None else json.dumps(value, default=str)}"
        if trace:
            line += f"\n{trace}"
        return line


def logging_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` that sends every logger (uvicorn's
    too) through one formatter on stderr. Also given to uvicorn, which applies
    it in each worker process. uvicorn's access log stays off: its lines carry
    raw paths (a survey link's token); the request line logs route templates."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    quiet = {"level": level, "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"isu": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "isu",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": quiet,
            "uvicorn.error": quiet,
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
        "root": {"level": level, "handlers": ["stderr"]},
    }


def configure_logging(log_format: LogFormat) -> None:
    logging.config.dictConfig(logging_config(log_format))
