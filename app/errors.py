"""Domain errors rendered as RFC 9457 ``application/problem+json``.

Every message is Swedish with an English translation beside it and never
contains a submitted value: a rejected personnummer or comment must not end up
in a response body, a log or an exception text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db_errors import RETRY_AFTER_SECONDS, busy_reason
from app.ops.logging import error_fields
from app.patterns import LONE_SURROGATE

log = logging.getLogger("isu.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    """One failing field: a JSON pointer into the request body (RFC 6901)."""

    pointer: str
    code: str
    detail: str
    detail_en: str

    def __post_init__(self) -> None:
        # Every message a person sees is in Swedish with English beside it.
        if not self.detail.strip() or not self.detail_en.strip():
            raise ValueError(f"field error {self.code!r} lacks its Swedish or English text")

    def as_json(self) -> dict[str, str]:
        return {
            "pointer": self.pointer,
            "code": self.code,
            "detail": self.detail,
            "detail_en": self.detail_en,
        }


class AppError(Exception):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Felaktig begäran"
    title_en: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        detail_en: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.detail_en = detail_en or self.title_en
        self.errors = tuple(errors)
        self.headers = headers or {}
        super().__init__(self.detail_en)


class ValidationFailed(AppError):
    status = 422
    slug = "validation"
    title = "Uppgifterna kunde inte sparas"
    title_en = "The data could not be saved"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(
            "En eller flera uppgifter är felaktiga. Se errors.",
            "One or more fields are invalid. See errors.",
            errors=errors,
        )


class Unauthenticated(AppError):
    status = 401
    slug = "unauthenticated"
    title = "Inloggning krävs"
    title_en = "Authentication required"

    def __init__(self) -> None:
        super().__init__(
            "Ange en giltig åtkomsttoken (Authorization: Bearer …).",
            "Provide a valid access token (Authorization: Bearer …).",
            headers={"WWW-Authenticate": 'Bearer realm="isu"'},
        )


class Forbidden(AppError):
    status = 403
    slug = "forbidden"
    title = "Behörighet saknas"
    title_en = "Forbidden"


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Hittades inte"
    title_en = "Not found"

    def __init__(self) -> None:
        # One body for "missing" and "not yours": existence must not leak.
        super().__init__("Resursen finns inte.", "The resource does not exist.")


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = "Konflikt"
    title_en = "Conflict"


class PreconditionFailed(AppError):
    status = 412
    slug = "stale-version"
    title = "Ärendet har ändrats av någon annan"
    title_en = "The case was changed by someone else"


class PreconditionRequired(AppError):
    status = 428
    slug = "if-match-required"
    title = "If-Match saknas"
    title_en = "If-Match required"


class PayloadTooLarge(AppError):
    status = 413
    slug = "payload-too-large"
    title = "För stor begäran"
    title_en = "Payload too large"


class TooManyRequests(AppError):
    status = 429
    slug = "rate-limited"
    title = "För många försök"
    title_en = "Too many requests"


class ServiceUnavailable(AppError):
    """The database was busy past the request's bound; nothing was written."""

    status = 503
    slug = "busy"
    title = "Tjänsten är upptagen"
    title_en = "Service busy"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Registret är upptaget just nu. Inget sparades; försök igen om en stund.",
            "The register is busy right now. Nothing was saved; retry shortly.",
            headers={"Retry-After": str(retry_after)},
        )


class IntegrityError(AppError):
    """Stored ciphertext failed authentication: tampering or a key problem."""

    status = 500
    slug = "integrity"
    title = "Lagrade uppgifter kunde inte verifieras"
    title_en = "Stored data failed an integrity check"


def problem_response(
    *,
    status: int,
    slug: str,
    title: str,
    title_en: str,
    detail: str,
    detail_en: str,
    instance: str,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "title_en": title_en,
        "status": status,
        "detail": detail,
        "detail_en": detail_en,
        "instance": instance,
    }
    if errors:
        body["errors"] = [e.as_json() for e in errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# --- the one vocabulary of field-error codes (docs/errors.md) ------------------
#
# Every failing field is reported with one of these codes, whether a generated
# pydantic model or a hand-written check (local variables, rules across values)
# found it. Pydantic's own error types are translated (``PYDANTIC_CODES``); its
# messages may quote the input, so they are never passed through.

MESSAGES: dict[str, tuple[str, str]] = {
    "json_invalid": ("Ogiltig JSON.", "Invalid JSON."),
    "missing": ("Uppgiften saknas.", "This field is required."),
    "unknown_field": ("Fältet får inte anges här.", "This field may not be set here."),
    "unknown_variable": ("Okänd variabel.", "Unknown variable."),
    "wrong_type": ("Fel typ av värde.", "Wrong type of value."),
    "unknown_code": ("Koden finns inte i kodlistan.", "The code is not in the code list."),
    "too_small": ("Värdet är för litet.", "The value is too small."),
    "too_large": ("Värdet är för stort.", "The value is too large."),
    "invalid_date": ("Ogiltigt datum (ÅÅÅÅ-MM-DD).", "Invalid date (YYYY-MM-DD)."),
    "too_long": ("Texten är för lång.", "The text is too long."),
    "too_short": ("Texten är för kort.", "The text is too short."),
    "too_many": ("För många val.", "Too many choices."),
    "too_few": ("För få val.", "Too few choices."),
    "nul_character": (
        "Texten innehåller otillåtna tecken (NUL).",
        "The text contains forbidden characters (NUL).",
    ),
    "string_unicode": ("Texten är inte giltig UTF-8.", "The text is not valid UTF-8."),
    "invalid_format": ("Ogiltigt format.", "Invalid format."),
    "personal_number": (
        "Ange inte personnummer här; använd en handläggarreferens (t.ex. initialer).",
        "Do not enter a personal identity number here; use a caseworker reference.",
    ),
    "invalid": ("Ogiltigt värde.", "Invalid value."),
}

WRONG_TYPE_MESSAGES: dict[str, tuple[str, str]] = {
    "code": ("Ange en kod (heltal).", "Give a code (integer)."),
    "integer": ("Ange ett heltal.", "Give an integer."),
    "list": ("Ange en lista med koder.", "Give a list of codes."),
    "text": ("Ange en text.", "Give a text."),
    "object": ("Ange ett objekt.", "Give an object."),
    "boolean": ("Ange sant eller falskt.", "Give true or false."),
}
"""``wrong_type`` says what was expected."""

# Pydantic error type -> (code, what was expected for wrong_type).
PYDANTIC_CODES: dict[str, tuple[str, str | None]] = {
    "json_invalid": ("json_invalid", None),
    "json_type": ("json_invalid", None),
    "missing": ("missing", None),
    "extra_forbidden": ("unknown_field", None),
    "int_type": ("wrong_type", "integer"),
    "int_parsing": ("wrong_type", "integer"),
    "int_from_float": ("wrong_type", "integer"),
    "code_type": ("wrong_type", "code"),
    "float_type": ("wrong_type", "integer"),
    "string_type": ("wrong_type", "text"),
    "list_type": ("wrong_type", "list"),
    "dict_type": ("wrong_type", "object"),
    "model_type": ("wrong_type", "object"),
    "model_attributes_type": ("wrong_type", "object"),
    "bool_type": ("wrong_type", "boolean"),
    "bool_parsing": ("wrong_type", "boolean"),
    "literal_error": ("unknown_code", None),
    "enum": ("unknown_code", None),
    "greater_than_equal": ("too_small", None),
    "greater_than": ("too_small", None),
    "less_than_equal": ("too_large", None),
    "less_than": ("too_large", None),
    "date_parsing": ("invalid_date", None),
    "date_type": ("invalid_date", None),
    "date_from_datetime_parsing": ("invalid_date", None),
    "date_from_datetime_inexact": ("invalid_date", None),
    "string_too_long": ("too_long", None),
    "string_too_short": ("too_short", None),
    "too_long": ("too_many", None),
    "too_short": ("too_few", None),
    "nul_character": ("nul_character", None),
    "string_unicode": ("string_unicode", None),
    "string_pattern_mismatch": ("invalid_format", None),
    "uuid_parsing": ("invalid_format", None),
    "uuid_type": ("invalid_format", None),
    "personal_number": ("personal_number", None),
}

# Containers whose keys are variable keys: an unknown key there is an unknown variable.
_VARIABLE_CONTAINERS = ("values", "local_values")


def field_error(
    pointer: str,
    code: str,
    *,
    expected: str | None = None,
    limit: object = None,
) -> FieldError:
    """The standard message of a vocabulary code, with the limit it broke
    (never the value given)."""
    if code == "wrong_type" and expected in WRONG_TYPE_MESSAGES:
        sv, en = WRONG_TYPE_MESSAGES[expected]
    elif limit is not None and code == "too_small":
        sv, en = f"Värdet måste vara minst {limit}.", f"Must be at least {limit}."
    elif limit is not None and code == "too_large":
        sv, en = f"Värdet får vara högst {limit}.", f"Must be at most {limit}."
    elif limit is not None and code == "too_long":
        sv, en = (
            f"Texten är för lång (högst {limit} tecken).",
            f"The text is too long (at most {limit} characters).",
        )
    elif limit is not None and code == "too_many":
        sv, en = f"För många val (högst {limit}).", f"Too many choices (at most {limit})."
    else:
        sv, en = MESSAGES.get(code, MESSAGES["invalid"])
    return FieldError(pointer, code, sv, en)


# Characters a pointer cannot carry into a UTF-8 response body.
_UNENCODABLE = LONE_SURROGATE


def escape_pointer_segment(segment: object) -> str:
    """One RFC 6901 segment; lone surrogates (undecodable input) become U+FFFD."""
    text = _UNENCODABLE.sub("\ufffd", str(segment))
    return text.replace("~", "~0").replace("/", "~1")


def pointer_from_loc(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts.pop(0)
        if where != "body":
            parts.insert(0, where)
    if parts and parts[-1] == "[key]":  # pydantic's marker for a bad dict key
        parts.pop()
    escaped = [escape_pointer_segment(p) for p in parts]
    return "/" + "/".join(escaped) if escaped else ""


def _limit(ctx: dict[str, Any]) -> object:
    for name in ("ge", "gt", "le", "lt", "max_length", "min_length"):
        value = ctx.get(name)
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            return value
    return None


def error_from_pydantic(err: Mapping[str, Any]) -> FieldError:
    """One pydantic error in the register's vocabulary."""
    kind = str(err.get("type", "invalid"))
    loc = list(err.get("loc", ()))
    if kind in ("too_long", "too_short") and isinstance(err.get("input"), str):
        # A length limit on validated text (SafeText) reports the generic
        # type; name it as text, not as a list of values.
        kind = f"string_{kind}"
    code, expected = PYDANTIC_CODES.get(kind, ("invalid", None))
    if code == "unknown_field":
        path = [p for p in loc if p != "body"]
        if len(path) >= 2 and path[-2] in _VARIABLE_CONTAINERS:
            code = "unknown_variable"
    # A JSON syntax error has a character offset, not a field: the whole body.
    pointer = "" if code == "json_invalid" else pointer_from_loc(loc)
    return field_error(pointer, code, expected=expected, limit=_limit(err.get("ctx") or {}))


def errors_from_pydantic(raw: Sequence[Any]) -> list[FieldError]:
    return [error_from_pydantic(err) for err in raw]


def validation_problem(request_path: str, errors: Sequence[FieldError]) -> JSONResponse:
    """The 422 problem for ``errors`` (also used by middleware, outside routing)."""
    err = ValidationFailed(errors)
    return problem_response(
        status=err.status,
        slug=err.slug,
        title=err.title,
        title_en=err.title_en,
        detail=err.detail,
        detail_en=err.detail_en,
        instance=request_path,
        errors=err.errors,
    )


def unparsable_body() -> FieldError:
    return FieldError(
        "",
        "json_invalid",
        "Ogiltig JSON (t.ex. för djup nästling eller för långa tal).",
        "Invalid JSON (e.g. nested too deeply or numbers too long).",
    )


def install_handlers(app: FastAPI) -> None:
    def instance(request: Request) -> str:
        return request.url.path

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        if exc.status >= 500:
            # For the request's log line (app.middleware); taken now, because
            # Starlette clears the traceback once the handler has answered.
            request.state.error_fields = error_fields(exc)
        return problem_response(
            status=exc.status,
            slug=exc.slug,
            title=exc.title,
            title_en=exc.title_en,
            detail=exc.detail,
            detail_en=exc.detail_en,
            instance=instance(request),
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = errors_from_pydantic(exc.errors())
        return problem_response(
            status=422,
            slug=ValidationFailed.slug,
            title=ValidationFailed.title,
            title_en=ValidationFailed.title_en,
            detail="En eller flera uppgifter är felaktiga. Se errors.",
            detail_en="One or more fields are invalid. See errors.",
            instance=instance(request),
            errors=errors,
        )

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        # Another transaction updated the same row version first (C1).
        err = PreconditionFailed(
            "Ärendet har ändrats av någon annan. Hämta det igen.",
            "The case was changed by someone else. Fetch it again.",
        )
        return await _app_error(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI could not parse the JSON body: invalid encoding, a number
            # past Python's digit limit, nesting past the recursion limit.
            return validation_problem(instance(request), [unparsable_body()])
        if exc.status_code == 404:
            err: AppError = NotFound()
        elif exc.status_code == 405:
            err = AppError("Metoden stöds inte.", "Method not allowed.")
        else:
            err = AppError()
        return problem_response(
            status=exc.status_code,
            slug=err.slug if exc.status_code == 404 else f"http-{exc.status_code}",
            title=err.title,
            title_en=err.title_en,
            detail=err.detail,
            detail_en=err.detail_en,
            instance=instance(request),
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if busy_reason(exc) is None:
            response = unexpected_error(instance(request), exc)
        else:
            response = await _app_error(request, ServiceUnavailable(RETRY_AFTER_SECONDS))
        request.state.error_fields = error_fields(exc)  # named in the request's log line
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Normally answered (and logged) by RequestContext already (app.middleware).
        log.error("unhandled_error", extra=error_fields(exc))
        return unexpected_error(instance(request), exc)


def unexpected_error(instance: str, exc: BaseException) -> JSONResponse:
    """The 500 problem for an unexpected exception. Its text is never used: it
    may quote stored values; the caller logs it without (app.ops.logging)."""
    del exc
    return problem_response(
        status=500,
        slug="internal",
        title="Internt fel",
        title_en="Internal error",
        detail="Ett oväntat fel inträffade. Inget sparades.",
        detail_en="An unexpected error occurred. Nothing was saved.",
        instance=instance,
    )
