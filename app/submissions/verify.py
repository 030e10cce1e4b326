"""Verifying a received package before anything is stored (the hub's side).

Checked, in order: it is a ZIP (or a sealed one this hub can open) of sane
size; the manifest is well formed; the members are exactly the manifest's
files and each one's SHA-256 and row count match; every column is known to
this hub's catalogue (or is a declared, opted-in local variable of the
municipality or its county) and every value is valid for it; every row
belongs to the manifest's municipality and period; child records point at
cases of the package. Any failure raises :class:`PackageRejected` naming each
problem with a JSON pointer into the package (``/manifest/municipality_code``,
``/files/cases.csv/sha256``, ``/cases.csv/3/v014_sex``); messages never quote
a value.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.catalogue.loader import Catalogue
from app.catalogue.spec import LOCAL_KEY_PATTERN, LocalVariable, owner_of_local_key
from app.errors import AppError, FieldError, escape_pointer_segment
from app.reference import districts, municipalities
from app.submissions import layout
from app.submissions.layout import Column

MAX_MEMBERS = 8
MAX_UNPACKED = 100 * 1024 * 1024
MAX_ERRORS = 50


class PackageRejected(AppError):
    status = 422
    slug = "package-rejected"
    title = "Paketet togs inte emot"
    title_en = "The package was rejected"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(
            "Paketet är felaktigt och har inte sparats. Se errors.",
            "The package is invalid and was not stored. See errors.",
            errors=errors,
        )


class FileMeta(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    rows: int | None = Field(default=None, ge=0)
    bytes: int = Field(ge=0)


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = Field(pattern=f"^{layout.FORMAT}$")
    format_version: int = Field(ge=1, le=layout.FORMAT_VERSION)
    package_id: uuid.UUID
    municipality_code: str = Field(pattern=r"^\d{4}$")
    municipality_name: str = Field(max_length=200)
    county_code: str = Field(pattern=r"^\d{2}$")
    period: str = Field(pattern=r"^\d{4}(-\d{4})?$")
    period_from: date
    period_to: date
    selection: str = Field(max_length=500)
    recipient: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    catalogue_version: str = Field(min_length=1, max_length=40)
    key_version: int = Field(ge=1)
    pseudonymisation: str = Field(max_length=500)
    generated_at: str = Field(max_length=40)
    software: str = Field(max_length=100)
    counts: dict[str, int] = Field(max_length=10)
    files: dict[str, FileMeta] = Field(max_length=MAX_MEMBERS)
    local_variables: list[str] = Field(default_factory=list, max_length=200)

    COUNT_KEYS: ClassVar[tuple[str, ...]] = (
        "cases",
        "excluded_cases",
        "interventions",
        "risk_assessments",
        "surveys",
    )


@dataclass(frozen=True)
class VerifiedPackage:
    manifest: Manifest
    manifest_sha256: str
    files: Mapping[str, tuple[bytes, int | None]]
    """Name -> (content, rows) for every member but the manifest."""


SAFE_NAME = re.compile(r"^[a-z0-9_.]{1,60}$")


def _segment(name: str, index: int) -> str:
    """A file or column name for a pointer: itself when it is one of ours in
    form, else its position (a name from a package is never echoed as is)."""
    return name if SAFE_NAME.fullmatch(name) else str(index)


def _error(pointer: str, code: str, sv: str, en: str) -> FieldError:
    return FieldError(pointer, code, sv, en)


def _reject(pointer: str, code: str, sv: str, en: str) -> PackageRejected:
    return PackageRejected([_error(pointer, code, sv, en)])


def _read_zip(blob: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except zipfile.BadZipFile:
        raise _reject(
            "", "not_a_package", "Filen är inte ett ISU-paket (zip).", "Not an ISU package (zip)."
        ) from None
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_UNPACKED:
        raise _reject("", "too_large", "Paketet är för stort.", "The package is too large.")
    members: dict[str, bytes] = {}
    for position, info in enumerate(infos):
        if info.filename in members or "/" in info.filename or "\\" in info.filename:
            raise _reject(
                "", "bad_member", "Paketet har en otillåten fil.", "The package has a bad member."
            )
        try:
            data = archive.read(info)
        except (zipfile.BadZipFile, OSError, ValueError):
            pointer = f"/files/{_segment(info.filename, position)}"
            raise _reject(
                pointer, "corrupt", "Filen i paketet är skadad.", "A member is corrupt."
            ) from None
        if len(data) != info.file_size:
            raise _reject("", "corrupt", "Paketet är skadat.", "The package is corrupt.")
        members[info.filename] = data
    return members


def _manifest(members: Mapping[str, bytes]) -> tuple[Manifest, str]:
    raw = members.get(layout.MANIFEST)
    if raw is None:
        raise _reject("/manifest", "missing", "manifest.json saknas.", "manifest.json is missing.")
    try:
        data = json.loads(raw.decode("utf-8"))
        manifest = Manifest.model_validate(data)
    except (UnicodeDecodeError, ValueError) as exc:
        errors = (
            [
                _error(
                    "/manifest/"
                    + "/".join(
                        str(p) if isinstance(p, int) or SAFE_NAME.fullmatch(p) else "*"
                        for p in err["loc"]
                    ),
                    err["type"],
                    "Manifestet har ett ogiltigt eller saknat fält.",
                    "The manifest has an invalid or missing field.",
                )
                for err in exc.errors(include_input=False, include_url=False)
            ]
            if isinstance(exc, ValidationError)
            else [_error("/manifest", "json_invalid", "Ogiltig JSON.", "Invalid JSON.")]
        )
        raise PackageRejected(errors) from None
    return manifest, hashlib.sha256(raw).hexdigest()


def _check_manifest(manifest: Manifest) -> list[FieldError]:
    errors = []
    info = municipalities().get(manifest.municipality_code)
    if info is None:
        errors.append(
            _error(
                "/manifest/municipality_code",
                "unknown_municipality",
                "Okänd kommunkod.",
                "Unknown municipality code.",
            )
        )
    elif info.county_code != manifest.county_code:
        errors.append(
            _error(
                "/manifest/county_code",
                "wrong_county",
                "Länet stämmer inte med kommunen.",
                "The county does not match the municipality.",
            )
        )
    years = layout.parse_period(manifest.period)
    if years is None or (date(years[0], 1, 1), date(years[1], 12, 31)) != (
        manifest.period_from,
        manifest.period_to,
    ):
        errors.append(
            _error(
                "/manifest/period",
                "bad_period",
                "Perioden är ogiltig eller stämmer inte med datumen.",
                "The period is invalid or does not match its dates.",
            )
        )
    expected = {layout.CODEBOOK, *layout.TABLES}
    if set(manifest.files) != expected:
        errors.append(
            _error(
                "/manifest/files",
                "wrong_files",
                "Manifestet listar fel filer.",
                "The manifest lists the wrong files.",
            )
        )
    if set(manifest.counts) != set(Manifest.COUNT_KEYS):
        errors.append(
            _error(
                "/manifest/counts",
                "wrong_counts",
                "Manifestets antal är ofullständiga.",
                "The manifest's counts are incomplete.",
            )
        )
    return errors


def _check_files(manifest: Manifest, members: Mapping[str, bytes]) -> list[FieldError]:
    errors = []
    expected = {layout.MANIFEST, *manifest.files}
    for position, name in enumerate(members):
        if name in expected:
            continue
        errors.append(
            _error(
                f"/files/{_segment(name, position)}",
                "unexpected_file",
                "Filen finns inte i manifestet.",
                "The file is not in the manifest.",
            )
        )
    for name, meta in manifest.files.items():
        pointer = f"/files/{escape_pointer_segment(name)}"
        body = members.get(name)
        if body is None:
            errors.append(_error(pointer, "missing_file", "Filen saknas.", "The file is missing."))
        elif hashlib.sha256(body).hexdigest() != meta.sha256:
            errors.append(
                _error(
                    f"{pointer}/sha256",
                    "checksum_mismatch",
                    "Kontrollsumman stämmer inte: filen har ändrats.",
                    "The checksum does not match: the file has been altered.",
                )
            )
    return errors


class _Rows:
    """Collects row errors up to :data:`MAX_ERRORS`."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, pointer: str, code: str, sv: str, en: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(_error(pointer, code, sv, en))


def _valid(column: Column, text: str, manifest: Manifest) -> tuple[str, str, str] | None:
    """(code, sv, en) when ``text`` is not a valid value of ``column``."""
    kind = column.kind
    if kind == "key":
        if not re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{64}", text):
            return ("bad_key", "Ogiltig pseudonym.", "Invalid pseudonym.")
    elif kind == "municipality":
        if text != manifest.municipality_code:
            return (
                "foreign_municipality",
                "Raden gäller en annan kommun än manifestet.",
                "The row is for another municipality than the manifest.",
            )
    elif kind == "district":
        district = districts().get(text)
        if district is None or district.municipality_code != manifest.municipality_code:
            return ("unknown_district", "Okänd stadsdel.", "Unknown district.")
    elif kind in ("code", "integer"):
        if not re.fullmatch(r"-?\d{1,9}", text):
            return ("not_integer", "Ange ett heltal.", "Give an integer.")
        number = int(text)
        if kind == "code" and number not in column.codes:
            return ("unknown_code", "Koden finns inte i kodlistan.", "Unknown code.")
        if column.minimum is not None and number < column.minimum:
            return ("too_small", "Värdet är för litet.", "The value is too small.")
        if column.maximum is not None and number > column.maximum:
            return ("too_large", "Värdet är för stort.", "The value is too large.")
    elif kind == "codes":
        try:
            values = json.loads(text)
        except ValueError:
            values = None
        if not isinstance(values, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in values
        ):
            return ("not_code_list", "Ange en lista med koder.", "Give a list of codes.")
        if set(values) - column.codes:
            return ("unknown_code", "Koden finns inte i kodlistan.", "Unknown code.")
    elif kind == "date":
        try:
            date.fromisoformat(text)
        except ValueError:
            return ("bad_date", "Ogiltigt datum (ÅÅÅÅ-MM-DD).", "Invalid date (YYYY-MM-DD).")
    elif kind == "enum":
        if text not in column.values:
            return ("unknown_value", "Okänt värde.", "Unknown value.")
    elif kind == "flag" and text not in ("0", "1"):
        return ("bad_flag", "Ange 0 eller 1.", "Give 0 or 1.")
    return None


def _table(
    name: str,
    body: bytes,
    known: Mapping[str, Column],
    manifest: Manifest,
    rows: _Rows,
) -> tuple[list[str], list[list[str]]]:
    table = escape_pointer_segment(name)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        rows.add(f"/{table}", "string_unicode", "Filen är inte UTF-8.", "Not UTF-8.")
        return [], []
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    data = list(reader)
    for i, name_in_header in enumerate(header):
        if name_in_header not in known:
            rows.add(
                f"/{table}/columns/{_segment(name_in_header, i)}",
                "unknown_column",
                "Kolumnen finns inte i navets variabelkatalog (eller är en lokal variabel "
                "utan exportmedgivande).",
                "The column is not in the hub's catalogue (or is a local variable not "
                "opted in to export).",
            )
        elif name_in_header in header[:i]:
            rows.add(
                f"/{table}/columns/{_segment(name_in_header, i)}",
                "duplicate_column",
                "Kolumnen finns två gånger.",
                "The column appears twice.",
            )
    for expected in known.values():
        if expected.required and expected.name not in header:
            rows.add(
                f"/{table}/columns/{escape_pointer_segment(expected.name)}",
                "missing_column",
                "Kolumnen saknas.",
                "The column is missing.",
            )
    if rows.errors:
        return header, []
    for number, row in enumerate(data, start=1):
        if len(row) != len(header):
            rows.add(f"/{table}/{number}", "bad_row", "Fel antal fält.", "Wrong number of fields.")
            continue
        for column_name, text in zip(header, row, strict=True):
            spec = known[column_name]
            pointer = f"/{table}/{number}/{escape_pointer_segment(column_name)}"
            if text == "":
                if spec.required:
                    rows.add(pointer, "missing", "Uppgiften saknas.", "This field is required.")
                continue
            problem = _valid(spec, text, manifest)
            if problem is not None:
                rows.add(pointer, *problem)
    return header, data


def _local_columns(
    members: Mapping[str, bytes], manifest: Manifest, rows: _Rows
) -> dict[str, Column]:
    """Declared local variables: owned by the municipality or its county."""
    try:
        codebook = json.loads(members[layout.CODEBOOK].decode("utf-8"))
        definitions = codebook.get("local_variables", [])
        if not isinstance(definitions, list):
            raise TypeError
    except (KeyError, UnicodeDecodeError, ValueError, TypeError, AttributeError):
        rows.add("/codebook.json", "json_invalid", "Ogiltig kodbok.", "Invalid codebook.")
        return {}
    out: dict[str, Column] = {}
    for i, raw in enumerate(definitions):
        try:
            variable = LocalVariable.model_validate(raw)
        except ValidationError:
            rows.add(
                f"/codebook.json/local_variables/{i}",
                "bad_definition",
                "Ogiltig lokal variabel.",
                "Invalid local variable.",
            )
            continue
        kind, owner = owner_of_local_key(variable.key)
        own = (kind == "municipality" and owner == manifest.municipality_code) or (
            kind == "county" and owner == manifest.county_code
        )
        if not own or variable.key not in manifest.local_variables:
            rows.add(
                f"/codebook.json/local_variables/{i}",
                "foreign_local_variable",
                "Variabeln tillhör inte kommunen eller dess län.",
                "The variable belongs to neither the municipality nor its county.",
            )
            continue
        column = layout.local_column(variable)
        if column is not None and re.fullmatch(LOCAL_KEY_PATTERN, column.name):
            out[column.name] = column
    return out


def verify(blob: bytes, catalogue: Catalogue) -> VerifiedPackage:
    """The verified package, or :class:`PackageRejected` naming every problem."""
    members = _read_zip(blob)
    manifest, digest = _manifest(members)
    errors = _check_manifest(manifest) + _check_files(manifest, members)
    if errors:
        raise PackageRejected(errors)
    rows = _Rows()
    tables = layout.layout(catalogue)
    tables[layout.CASES] = tables[layout.CASES] + list(
        _local_columns(members, manifest, rows).values()
    )
    parsed: dict[str, tuple[list[str], list[list[str]]]] = {}
    for name in layout.TABLES:
        known = {c.name: c for c in tables[name]}
        parsed[name] = _table(name, members[name], known, manifest, rows)
        declared = manifest.files[name].rows
        if not rows.errors and declared != len(parsed[name][1]):
            rows.add(
                f"/files/{name}/rows",
                "row_count",
                "Antalet rader stämmer inte med manifestet.",
                "The row count does not match the manifest.",
            )
    if not rows.errors:
        _check_consistency(manifest, parsed, rows)
    if rows.errors:
        raise PackageRejected(rows.errors)
    files = {
        name: (members[name], manifest.files[name].rows)
        for name in manifest.files
        if name != layout.MANIFEST
    }
    return VerifiedPackage(manifest, digest, files)


def _check_consistency(
    manifest: Manifest, parsed: Mapping[str, tuple[list[str], list[list[str]]]], rows: _Rows
) -> None:
    header, data = parsed[layout.CASES]
    at = {name: i for i, name in enumerate(header)}
    keys: set[str] = set()
    actualised = next(n for n in header if n.endswith("_actualised_on"))
    for number, row in enumerate(data, start=1):
        key = row[at["case_key"]]
        if key in keys:
            rows.add(
                f"/cases.csv/{number}/case_key",
                "duplicate_case",
                "Ärendet finns två gånger.",
                "The case appears twice.",
            )
        keys.add(key)
        opened = date.fromisoformat(row[at[actualised]])
        if not manifest.period_from <= opened <= manifest.period_to:
            rows.add(
                f"/cases.csv/{number}/{actualised}",
                "outside_period",
                "Ärendet aktualiserades utanför perioden.",
                "The case was opened outside the period.",
            )
    counts = {
        "cases": len(data),
        "excluded_cases": sum(1 for r in data if r[at["is_excluded"]] == "1"),
        "interventions": len(parsed[layout.INTERVENTIONS][1]),
        "risk_assessments": len(parsed[layout.RISKS][1]),
        "surveys": sum(1 for r in data if r[at["survey_answered_on"]] != "")
        if "survey_answered_on" in at
        else 0,
    }
    for key, value in counts.items():
        if manifest.counts.get(key) != value:
            rows.add(
                f"/manifest/counts/{key}",
                "count_mismatch",
                "Antalet stämmer inte med tabellerna.",
                "The count does not match the tables.",
            )
    for name in (layout.INTERVENTIONS, layout.RISKS):
        child_header, child_rows = parsed[name]
        position = child_header.index("case_key")
        for number, row in enumerate(child_rows, start=1):
            if row[position] not in keys:
                rows.add(
                    f"/{name}/{number}/case_key",
                    "unknown_case",
                    "Posten hör inte till något ärende i paketet.",
                    "The record belongs to no case of the package.",
                )
