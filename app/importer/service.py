"""Bulk import of cases, through the same service functions as the API.

Two passes over the lines:

1. **Validate** every line: parse it (the catalogue-generated models) and run
   it through the case services (create, interventions, risk assessments,
   close, survey) inside a transaction that is always rolled back. Every
   problem is reported with its line number and JSON pointer.
2. **Import**, only when no line failed (or with ``skip_invalid``, the valid
   lines): the same service calls in batches, one transaction per batch and a
   savepoint per line.

A line whose ``source_ref`` already exists at its unit is skipped as
unchanged, so importing the same file twice creates nothing the second time.
Nothing here logs or reports a submitted value.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.analysis.sync import rows_of_new_cases
from app.analysis.sync import write_rows as write_analysis_rows
from app.auth.principal import Principal
from app.cases import records, service
from app.cases.context import CaseContext
from app.catalogue.loader import Catalogue
from app.config import Settings
from app.db import forget_new, new_object, remember_new
from app.errors import AppError, FieldError, ValidationFailed
from app.importer.format import LineKind, json_objects, numbered_lines, parse_line
from app.importer.rows import pending_rows, write_rows
from app.models import UNIT_KINDS, Case, Unit, User
from app.reference import districts, municipalities
from app.security.keyring import Keyring

MAX_REPORTED_ERRORS = 1000
DEFAULT_BATCH = 1000
BATCH_SECONDS = 0.25
"""Work per write transaction of an import: other writers wait at most about this long."""


@dataclass(frozen=True)
class LineError:
    line: int
    pointer: str
    code: str
    detail: str
    detail_en: str

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "pointer": self.pointer,
            "code": self.code,
            "detail": self.detail,
            "detail_en": self.detail_en,
        }


@dataclass
class ImportReport:
    lines: int = 0
    invalid: int = 0
    created: int = 0
    unchanged: int = 0
    state: str = "done"
    """``done``; ``rejected`` (invalid lines and no ``skip_invalid``: nothing
    imported); ``failed`` (stopped by an unexpected problem during import)."""
    errors: list[LineError] = field(default_factory=list)
    invalid_lines: set[int] = field(default_factory=set, repr=False)

    def add(self, line: int, problems: Iterable[FieldError]) -> None:
        if line not in self.invalid_lines:
            self.invalid_lines.add(line)
            self.invalid += 1
        for problem in problems:
            if len(self.errors) < MAX_REPORTED_ERRORS:
                self.errors.append(
                    LineError(
                        line, problem.pointer, problem.code, problem.detail, problem.detail_en
                    )
                )


class LineFailed(Exception):
    """One line cannot be imported; ``errors`` say why (never a value)."""

    def __init__(self, errors: list[FieldError], line: int = 0) -> None:
        self.errors = errors
        self.line = line
        super().__init__("line failed")


def _error(pointer: str, code: str, sv: str, en: str) -> LineFailed:
    return LineFailed([FieldError(pointer, code, sv, en)])


class Scope(Protocol):
    """Who imports a line and into which unit."""

    def begin(self, *, writing: bool = True) -> None:
        """A new transaction starts; ``writing`` False: a check that is rolled back."""

    def committed(self) -> None:
        """The transaction since :meth:`begin` was committed."""

    def mark(self) -> int:
        """A savepoint starts; :meth:`rolled_back` with the mark forgets what it made."""
        ...

    def rolled_back(self, mark: int) -> None: ...

    def municipality(self, data: dict[str, Any]) -> str: ...

    def principal(self, session: Session, municipality: str) -> Principal: ...

    def unit_id(self, session: Session, data: dict[str, Any], municipality: str) -> uuid.UUID: ...


def _find_unit(session: Session, municipality: str, ref: str) -> Unit | None:
    try:
        unit_id = uuid.UUID(ref)
    except ValueError:
        return session.scalar(
            select(Unit).where(Unit.municipality_code == municipality, Unit.name == ref)
        )
    unit = new_object(session, Unit, unit_id) or session.get(Unit, unit_id)
    return unit if unit is not None and unit.municipality_code == municipality else None


_UNKNOWN_UNIT = ("Okänd verksamhet i kommunen.", "Unknown unit in the municipality.")


@dataclass
class SystemScope:
    """The command line: each line names its municipality; the line is imported
    by the municipality's system user ``import-<kod>`` (a coordinator without
    any token, created when missing). With ``create_units``, a unit named on a
    line that does not exist yet is created (kind ``unit_kind``, ``district``).

    Users and units made in a transaction are written with its flush, never
    one by one; in a check (``writing`` False) they are never written at all."""

    create_units: bool = False
    _principals: dict[str, Principal] = field(default_factory=dict)
    _units: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    _fresh: list[tuple[str, Any]] = field(default_factory=list)
    """Cache entries made in the current transaction: gone if it is not committed."""
    _writing: bool = True

    def begin(self, *, writing: bool = True) -> None:
        for kind, key in self._fresh:
            (self._principals if kind == "user" else self._units).pop(key, None)
        self._fresh.clear()
        self._writing = writing

    def committed(self) -> None:
        self._fresh.clear()

    def mark(self) -> int:
        return len(self._fresh)

    def rolled_back(self, mark: int) -> None:
        for kind, key in self._fresh[mark:]:
            (self._principals if kind == "user" else self._units).pop(key, None)
        del self._fresh[mark:]

    def municipality(self, data: dict[str, Any]) -> str:
        code = data.get("municipality")
        if code is None:
            raise _error(
                "/municipality",
                "missing",
                "Ange kommunkod för raden.",
                "Give the line's municipality code.",
            )
        if code not in municipalities():
            raise _error(
                "/municipality",
                "unknown_municipality",
                "Okänd kommunkod.",
                "Unknown municipality code.",
            )
        return str(code)

    def principal(self, session: Session, municipality: str) -> Principal:
        principal = self._principals.get(municipality)
        if principal is None:
            username = f"import-{municipality}"
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                user = User(
                    id=uuid.uuid4(),
                    username=username,
                    role="coordinator",
                    municipality_code=municipality,
                )
                if self._writing:
                    session.add(user)
                remember_new(session, user)
                self._fresh.append(("user", municipality))
            principal = Principal(user.id, user.role, user.municipality_code, None, None)
            self._principals[municipality] = principal
        return principal

    def unit_id(self, session: Session, data: dict[str, Any], municipality: str) -> uuid.UUID:
        ref = data.get("unit")
        if ref is None:
            raise _error("/unit", "missing", "Ange verksamhet.", "Give the unit.")
        cached = self._units.get((municipality, ref))
        if cached is not None:
            return cached
        unit = _find_unit(session, municipality, ref)
        if unit is None:
            if not self.create_units:
                raise _error("/unit", "unknown_unit", *_UNKNOWN_UNIT)
            district = data.get("district")
            if district is not None and (
                district not in districts()
                or districts()[district].municipality_code != municipality
            ):
                raise _error(
                    "/district",
                    "unknown_district",
                    "Okänd stadsdel för kommunen.",
                    "Unknown district.",
                )
            unit = Unit(
                id=uuid.uuid4(),
                name=ref,
                kind=UNIT_KINDS[(data.get("unit_kind") or 4) - 1],
                municipality_code=municipality,
                district_code=district,
                is_active=True,
            )
            if self._writing:
                session.add(unit)
            remember_new(session, unit)
            self._fresh.append(("unit", (municipality, ref)))
        self._units[(municipality, ref)] = unit.id
        return unit.id


@dataclass
class CallerScope:
    """The API: the caller imports into their own municipality (and, for a
    caseworker, their own unit). Units are never created here."""

    caller: Principal

    def begin(self, *, writing: bool = True) -> None:
        return None

    def committed(self) -> None:
        return None

    def mark(self) -> int:
        return 0

    def rolled_back(self, mark: int) -> None:
        return None

    def municipality(self, data: dict[str, Any]) -> str:
        own = self.caller.municipality_code or ""
        code = data.get("municipality")
        if code is not None and code != own:
            raise _error(
                "/municipality",
                "other_municipality",
                "Raden gäller en annan kommun än din.",
                "The line belongs to another municipality than yours.",
            )
        return own

    def principal(self, session: Session, municipality: str) -> Principal:
        return self.caller

    def unit_id(self, session: Session, data: dict[str, Any], municipality: str) -> uuid.UUID:
        ref = data.get("unit")
        if self.caller.role == "caseworker":
            own = self.caller.unit_id
            if ref is None and own is not None:
                return own
            unit = _find_unit(session, municipality, ref) if ref is not None else None
            if unit is None or unit.id != own:
                raise _error("/unit", "unknown_unit", *_UNKNOWN_UNIT)
            return unit.id
        if ref is None:
            raise _error("/unit", "missing", "Ange verksamhet.", "Give the unit.")
        unit = _find_unit(session, municipality, ref)
        if unit is None:
            raise _error("/unit", "unknown_unit", *_UNKNOWN_UNIT)
        return unit.id


def _prefixed(
    prefix: str, errors: Iterable[FieldError], rename: dict[str, str] | None = None
) -> list[FieldError]:
    result = []
    for e in errors:
        pointer = (rename or {}).get(e.pointer, e.pointer)
        result.append(FieldError(prefix + pointer, e.code, e.detail, e.detail_en))
    return result


def _call(prefix: str, fn: Callable[[], Any], rename: dict[str, str] | None = None) -> Any:
    """Run one service call; its problems become the line's, under ``prefix``."""
    try:
        return fn()
    except ValidationFailed as exc:
        raise LineFailed(_prefixed(prefix, exc.errors, rename)) from None
    except AppError as exc:
        raise LineFailed(
            [
                FieldError(prefix, exc.slug, exc.detail, exc.detail_en),
                *_prefixed(prefix, exc.errors),
            ]
        ) from None


DUPLICATE_IN_FILE = FieldError(
    "/source_ref",
    "duplicate_source_ref",
    "Samma ärende-id finns på en tidigare rad i filen.",
    "The same case id is on an earlier line of the file.",
)
_CHANGED = FieldError(
    "",
    "file_changed",
    "Filen ändrades under importen.",
    "The file changed during the import.",
)
DUPLICATE_IMPORTED = FieldError(
    "/source_ref",
    "duplicate_source_ref",
    "Ärendet har redan importerats.",
    "The case has already been imported.",
)

CASE_FIELDS = ("client_id", "actualised_on", "caseworker_ref", "values", "comments", "local_values")


@dataclass
class Importer:
    factory: sessionmaker[Session]
    catalogue: Catalogue
    keyring: Keyring
    settings: Settings
    scope: Scope
    line_model: type[BaseModel]
    skip_invalid: bool = False
    batch_size: int = DEFAULT_BATCH
    request_id: str | None = None
    on_progress: Callable[[str, int], None] | None = None
    """Called with the phase ("check_and_import" in one transaction, else
    "validate" then "import") and the lines done so far in it."""
    atomic: bool = True
    """One transaction for the whole file (one pass; all or nothing: small API
    files). Otherwise two passes: every line checked, then committed in short
    batches that hold SQLite's write lock only briefly."""
    batch_seconds: float = BATCH_SECONDS
    check_first: bool = True
    """Check every line before importing any (a file with errors imports
    nothing). Off for a trusted file (the demo): lines are checked as they are
    imported, and an invalid line stops the import after the batches before it."""
    _keyed: set[str] = field(default_factory=set, repr=False)
    read_factory: sessionmaker[Session] | None = None
    """Sessions for the check pass (deferred, read-only on SQLite); default ``factory``."""

    def run(self, source: Callable[[], Iterable[str]]) -> ImportReport:
        """Import the lines ``source()`` yields (called once per pass)."""
        if self.atomic:
            return self._single_pass(source)
        report = ImportReport()
        if self.check_first:
            self._validate(source, report)
            if report.invalid and not self.skip_invalid:
                report.state = "rejected"
                return report
        else:
            report.lines = sum(1 for _ in numbered_lines(source()))
        self._import(source, report)
        return report

    # --- the two passes -------------------------------------------------------

    def _batches(self, source: Callable[[], Iterable[str]]) -> Iterator[list[tuple[int, str]]]:
        lines = numbered_lines(source())
        while batch := list(islice(lines, self.batch_size)):
            yield batch

    def _single_pass(self, source: Callable[[], Iterable[str]]) -> ImportReport:
        """Every line through the services in one transaction, a savepoint per
        line; committed only when no line failed (or with ``skip_invalid``)."""
        report = ImportReport()
        seen: set[tuple[str | None, str | None, str]] = set()
        created = unchanged = done = 0
        with self.factory() as session:
            session.begin()
            self.scope.begin()
            try:
                for batch in self._batches(source):
                    for number, text in batch:
                        report.lines += 1
                        data, problems = parse_line(self.line_model, text)
                        if data is None:
                            report.add(number, problems)
                            continue
                        key = (data.get("municipality"), data.get("unit"), data["source_ref"])
                        if key in seen:
                            report.add(number, [DUPLICATE_IN_FILE])
                            continue
                        seen.add(key)
                        try:
                            outcome = self._apply_in_savepoint(session, data)
                        except LineFailed as failed:
                            report.add(number, failed.errors)
                            continue
                        if outcome == "created":
                            created += 1
                        else:
                            unchanged += 1
                    # Bounded memory: the batch's rows are flushed; forget them.
                    session.flush()
                    session.expunge_all()
                    forget_new(session)
                    done += len(batch)
                    if self.on_progress:
                        self.on_progress("check_and_import", done)
                if report.invalid and not self.skip_invalid:
                    session.rollback()
                    report.state = "rejected"
                    return report
                session.commit()
                self.scope.committed()
            except BaseException:
                session.rollback()
                raise
        report.created, report.unchanged = created, unchanged
        return report

    def _validate(self, source: Callable[[], Iterable[str]], report: ImportReport) -> None:
        """Every line through the services in memory (nothing is flushed), in a
        read transaction that is rolled back: no write lock is taken."""
        seen: set[tuple[str | None, str | None, str]] = set()
        done = 0
        for batch in self._batches(source):
            objects = list(json_objects(text for _, text in batch))
            self._ensure_keys(objects)
            with (self.read_factory or self.factory)() as session:
                session.begin()
                self.scope.begin(writing=False)
                self.keyring.preload(session, self._municipalities([(0, o) for o in objects]))
                try:
                    for number, text in batch:
                        report.lines += 1
                        data, problems = parse_line(self.line_model, text)
                        if data is None:
                            report.add(number, problems)
                            continue
                        key = (data.get("municipality"), data.get("unit"), data["source_ref"])
                        if key in seen:
                            report.add(number, [DUPLICATE_IN_FILE])
                            continue
                        seen.add(key)
                        try:
                            self._apply(session, data)
                        except LineFailed as failed:
                            report.add(number, failed.errors)
                finally:
                    session.rollback()
            done += len(batch)
            if self.on_progress:
                self.on_progress("validate", done)

    def _timed_batches(
        self, source: Callable[[], Iterable[str]], skip: set[int]
    ) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        """Parsed lines in batches of at most ``batch_size`` lines and about
        ``batch_seconds`` of work each (each batch is one write transaction)."""
        pending: list[tuple[int, dict[str, Any]]] = []
        for number, text in numbered_lines(source()):
            if number in skip:
                continue
            data, problems = parse_line(self.line_model, text)
            if data is None:  # unchecked, or the file changed between the passes
                raise LineFailed(problems or [_CHANGED], number)
            pending.append((number, data))
            if len(pending) >= self.batch_size:
                yield pending
                pending = []
        if pending:
            yield pending

    def _import(self, source: Callable[[], Iterable[str]], report: ImportReport) -> None:
        """The checked lines, committed in short write transactions. Each runs
        the services in memory and writes its rows in one flush (multi-row
        INSERTs); a batch holds SQLite's write lock for about
        ``batch_seconds``, so other writers wait at most that long. A re-run
        finds what was committed (``unchanged``): the import can resume."""
        done = 0
        carry: list[tuple[int, dict[str, Any]]] = []
        batches = self._timed_batches(source, report.invalid_lines)
        try:
            while True:
                if len(carry) < self.batch_size:  # top up from the file first
                    carry += next(batches, [])
                if not carry:
                    return
                taken = self._commit_batch(carry, report)
                if taken is None:
                    report.state = "failed"
                    return
                done += taken
                carry = carry[taken:]
                if self.on_progress:
                    self.on_progress("import", done)
        except LineFailed as bad:
            report.add(bad.line, bad.errors)
            report.state = "failed"

    def _commit_batch(
        self, lines: list[tuple[int, dict[str, Any]]], report: ImportReport
    ) -> int | None:
        """Import lines from the front of ``lines`` until the time budget is
        spent; return how many were taken (None: the import stops).

        The services build the rows in a read transaction; the rows are then
        written in a write transaction of their own, so the write lock (SQLite)
        is held only for the inserts. If a key was rotated in between, the
        batch is built again with the new key."""
        while True:
            started = time.monotonic()
            outcomes: list[LineKind] = []
            self._ensure_keys(data for _, data in lines)
            try:
                with (self.read_factory or self.factory)() as session:
                    session.begin()
                    self.scope.begin()
                    try:
                        self.keyring.preload(session, self._municipalities(lines))
                        for _number, data in lines:
                            outcomes.append(self._apply(session, data))
                            if time.monotonic() - started >= self.batch_seconds:
                                break
                        rows = pending_rows(session)
                        analysis = rows_of_new_cases(session)
                        keys = self.keyring.current_versions(session)
                    finally:
                        session.rollback()
                with self.factory() as writer, writer.begin():
                    if not self.keyring.still_current(writer, keys):
                        writer.rollback()
                        continue
                    write_rows(writer, rows)
                    write_analysis_rows(writer.connection(), analysis)
                self.scope.committed()
            except (LineFailed, DbIntegrityError):
                # Something changed since the check (another import, a new rule):
                # these lines again, one by one, each in a savepoint.
                return self._commit_carefully(lines[: len(outcomes) + 1], report)
            report.created += outcomes.count("created")
            report.unchanged += outcomes.count("unchanged")
            return len(outcomes)

    def _municipalities(self, lines: list[tuple[int, dict[str, Any]]]) -> set[str]:
        found = set()
        for _, data in lines:
            try:
                found.add(self.scope.municipality(data))
            except LineFailed:
                continue
        return found

    def _commit_carefully(
        self, lines: list[tuple[int, dict[str, Any]]], report: ImportReport
    ) -> int | None:
        with self.factory() as session, session.begin():
            self.scope.begin()
            for number, data in lines:
                try:
                    outcome = self._apply_in_savepoint(session, data)
                except LineFailed as failed:
                    report.add(number, failed.errors)
                    if not self.skip_invalid:
                        session.rollback()
                        return None
                    continue
                if outcome == "created":
                    report.created += 1
                else:
                    report.unchanged += 1
        self.scope.committed()
        return len(lines)

    def _ensure_keys(self, lines: Iterable[dict[str, Any]]) -> None:
        """The keys of the lines' municipalities, created (and committed) before
        the batch's read transaction starts: that transaction sees them and
        never has to write one itself."""
        for data in lines:
            try:
                municipality = self.scope.municipality(data)
            except LineFailed:
                continue  # reported when the line is imported
            if municipality in self._keyed:
                continue
            with self.factory() as session, session.begin():
                for purpose in ("pseudonym", "data"):
                    self.keyring.current(session, municipality, purpose)
            self._keyed.add(municipality)

    # --- one line ---------------------------------------------------------------

    def _apply_in_savepoint(self, session: Session, data: dict[str, Any]) -> LineKind:
        """:meth:`_apply` in a savepoint: a failing line leaves nothing behind
        (neither rows nor the scope's memory of a unit or user it made)."""
        mark = self.scope.mark()
        try:
            with session.begin_nested():
                return self._apply(session, data)
        except LineFailed:
            self.scope.rolled_back(mark)
            raise
        except DbIntegrityError:
            # Another import stored the same case id at the same moment.
            self.scope.rolled_back(mark)
            raise LineFailed([DUPLICATE_IMPORTED]) from None

    def _apply(self, session: Session, data: dict[str, Any]) -> LineKind:
        scope = self.scope
        municipality = scope.municipality(data)
        source_ref = data["source_ref"]
        unit_id = scope.unit_id(session, data, municipality)
        # Per unit: a unit's import never learns of another unit's case.
        existing = session.scalar(
            select(Case.id).where(Case.unit_id == unit_id, Case.source_ref == source_ref)
        )
        if existing is not None:
            return "unchanged"
        principal = scope.principal(session, municipality)
        ctx = CaseContext(
            session, principal, self.catalogue, self.keyring, self.settings, self.request_id
        )
        body = {k: data[k] for k in CASE_FIELDS if k in data}
        body["unit_id"] = unit_id
        case: Case = _call("", lambda: service.create_case(ctx, body), {"/unit_id": "/unit"})
        # The sending system's id: bookkeeping on the new case (part of its
        # INSERT), neither a change of its version nor of its history.
        case.source_ref = source_ref
        for i, item in enumerate(data.get("interventions") or []):
            _call(f"/interventions/{i}", partial(records.add_intervention, ctx, case.id, item))
        for i, item in enumerate(data.get("risk_assessments") or []):
            _call(f"/risk_assessments/{i}", partial(records.add_risk, ctx, case.id, item))
        close = data.get("close")
        if close is not None:
            _call("/close", lambda: service.close_case(ctx, case.id, case.version, close))
        survey = data.get("survey")
        if survey is not None:
            _call("/survey", lambda: records.put_survey(ctx, case.id, case.version, survey))
        return "created"
