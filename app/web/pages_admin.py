"""Coordinator pages: data quality, local variables, users and tokens, exports.

Each calls the service the API calls (app.quality, app.local_variables,
app.units, app.stats) with the signed-in person's principal, so scope and
audit are the API's. Data quality is open to caseworkers too (their own unit).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from app.clock import today, utcnow
from app.deps import request_id
from app.errors import AppError, FieldError, NotFound, ValidationFailed
from app.local_variables import service as local_variables
from app.quality import service as quality
from app.units import service as units
from app.web.caseforms import PHASES
from app.web.deps import Form, GetPage, Page, PostPage
from app.web.forms import Choice, Field, FormState, parse, raw_from_form
from app.web.labels import PHASE_LABELS, ROLE_LABELS, STATUS_LABELS
from app.web.pages_cases import attempt
from app.web.rendering import WebRoute, redirect, render

EXPORT_MEDIA = {
    "csv": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}
EXPORT_FORMATS = {
    "xlsx": "Excel (ett blad per diagram)",
    "csv": "CSV (zip, också för svenskt Excel)",
    "html": "Rapport med diagram (HTML)",
}


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _date_needed(pointer: str) -> FieldError:
    return FieldError(
        pointer, "invalid_date", "Ange ett datum (ÅÅÅÅ-MM-DD).", "Give a date (YYYY-MM-DD)."
    )


def _general(error: AppError) -> list[FieldError]:
    return list(error.errors) or [FieldError("", error.slug, error.detail, error.detail_en)]


# --- data quality ------------------------------------------------------------


def quality_page(
    page: GetPage,
    unit: str | None = None,
    fran: str | None = None,
    till: str | None = None,
) -> Response:
    unit_id = _uuid(unit)
    report = quality.report(
        page.session,
        page.catalogue,
        page.user.principal,
        unit_id=unit_id,
        actualised_from=_date(fran),
        actualised_to=_date(till),
        request_id=request_id(page.request),
    )
    return render(
        page.request,
        "quality.html",
        report=report,
        units=units.active_units(page.session, page.user.principal),
        unit=unit or "",
        fran=fran or "",
        till=till or "",
        phase_labels=PHASE_LABELS,
        is_coordinator=page.is_coordinator,
    )


CSV_COLUMNS = ("Aktualiserat", "Handläggarens referens", "Verksamhet", "Status", "Ärende")


def _cases_csv(page: Page, items: list[dict[str, Any]]) -> bytes:
    """The drill-down as CSV for Excel (semicolons, UTF-8 with BOM)."""
    names = units.unit_names(page.session, page.user.principal)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    base = str(page.request.base_url).rstrip("/")
    for item in items:
        writer.writerow(
            [
                item["actualised_on"].isoformat(),
                item["caseworker_ref"] or "",
                names.get(item["unit_id"], ""),
                STATUS_LABELS.get(item["status"], item["status"]),
                f"{base}/arenden/{item['id']}",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _drill_down(
    page: Page,
    result: dict[str, Any],
    *,
    title: str,
    lead: str,
    phase: str | None,
    csv_name: str,
    format: str | None,
) -> Response:
    if format == "csv":
        return _download(
            _cases_csv(page, result["items"]), "text/csv; charset=utf-8", f"{csv_name}.csv"
        )
    return render(
        page.request,
        "quality_cases.html",
        result=result,
        title=title,
        lead=lead,
        phase=phase,
        phase_label=PHASE_LABELS.get(phase or "", ""),
        status_labels=STATUS_LABELS,
        csv_link=str(page.request.url.include_query_params(format="csv")),
        unit_names=units.unit_names(page.session, page.user.principal),
    )


def lacking_page(
    page: GetPage,
    variabel: str,
    unit: str | None = None,
    fran: str | None = None,
    till: str | None = None,
    format: str | None = None,
) -> Response:
    result = quality.cases_lacking(
        page.session,
        page.catalogue,
        page.user.principal,
        variable=variabel[:80],
        unit_id=_uuid(unit),
        actualised_from=_date(fran),
        actualised_to=_date(till),
        limit=1000,
        offset=0,
        request_id=request_id(page.request),
    )
    variable = page.catalogue.variables.get(variabel)
    local = local_variables.for_municipality(
        page.session, page.user.principal.municipality_code or ""
    ).get(variabel)
    known = variable or local
    phase = known.phase.value if known else "bakgrund"
    label = known.label.sv if known else variabel
    return _drill_down(
        page,
        result,
        title=f"Ärenden som saknar ”{label}”",
        lead=f"Uppgiften registreras under {PHASE_LABELS.get(phase, phase).lower()}.",
        phase=phase,
        csv_name=f"saknar-{variabel[:80]}",
        format=format,
    )


def warned_page(
    page: GetPage,
    kontroll: str,
    unit: str | None = None,
    fran: str | None = None,
    till: str | None = None,
    format: str | None = None,
) -> Response:
    result = quality.cases_warned(
        page.session,
        page.catalogue,
        page.user.principal,
        check=kontroll[:80],
        unit_id=_uuid(unit),
        actualised_from=_date(fran),
        actualised_to=_date(till),
        limit=1000,
        offset=0,
        request_id=request_id(page.request),
    )
    check = page.catalogue.checks[kontroll]
    return _drill_down(
        page,
        result,
        title=f"Att kontrollera: {check.label.sv}",
        lead="Sparat, men värt en extra blick. Öppna ärendet: översikten säger vad som ser "
        "motsägelsefullt ut.",
        phase=None,
        csv_name=f"kontrollera-{kontroll[:80]}",
        format=format,
    )


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        raise NotFound() from None


# --- local variables -----------------------------------------------------------


def _local_fields() -> list[Field]:
    return [
        Field(
            name="name",
            kind="text",
            label="Namn (nyckel)",
            hint="Små bokstäver a–z, siffror och understreck, t.ex. boende. "
            "Nyckeln blir k<kommunkod>.<namn> och kan aldrig återanvändas.",
            required=True,
            max_length=60,
        ),
        Field(
            name="type",
            kind="select",
            label="Typ",
            choices=(Choice("single", "Ett svar"), Choice("multi", "Flera svar")),
            required=True,
        ),
        Field(
            name="phase",
            kind="select",
            label="Fas",
            choices=tuple(Choice(p, PHASE_LABELS[p]) for p in PHASES if p != "brukarenkat"),
            required=True,
        ),
        Field(name="label_sv", kind="text", label="Benämning (svenska)", required=True),
        Field(name="label_en", kind="text", label="Benämning (engelska)", required=True),
        Field(
            name="question_sv",
            kind="text",
            label="Fråga till handläggaren (svenska)",
            required=True,
        ),
        Field(
            name="question_en",
            kind="text",
            label="Fråga till handläggaren (engelska)",
            required=True,
        ),
        Field(
            name="options",
            kind="comment",
            label="Svarsalternativ",
            hint="Ett per rad: svensk text | engelsk text. Börja raden med ! för ett "
            "alternativ som inte kan kombineras med andra (t.ex. ”Vet ej”). "
            "Koderna blir 1, 2, 3 … i den ordningen.",
            required=True,
        ),
        Field(
            name="empty_allowed",
            kind="checkbox",
            label="Flera svar: inget valt betyder ”registrerat som inget”",
        ),
        Field(
            name="export_opt_in",
            kind="checkbox",
            label="Får följa med i export utanför kommunen",
        ),
    ]


_LOCAL_POINTERS = {
    "/definition/key": "/name",
    "/definition/type": "/type",
    "/definition/phase": "/phase",
    "/definition/label/sv": "/label_sv",
    "/definition/label/en": "/label_en",
    "/definition/label": "/label_sv",
    "/definition/question/sv": "/question_sv",
    "/definition/question/en": "/question_en",
    "/definition/question": "/question_sv",
    "/definition/options": "/options",
    "/definition/empty_allowed": "/empty_allowed",
}


def _local_error(error: FieldError) -> FieldError:
    for prefix, target in _LOCAL_POINTERS.items():
        if error.pointer == prefix or error.pointer.startswith(prefix + "/"):
            return FieldError(target, error.code, error.detail, error.detail_en)
    return error


def _definition(page: Page, body: dict[str, Any]) -> dict[str, Any]:
    options: list[dict[str, Any]] = []
    for line in (body.get("options") or "").splitlines():
        text = line.strip()
        if not text:
            continue
        exclusive = text.startswith("!")
        sv, _, en = text.lstrip("!").partition("|")
        options.append(
            {
                "code": len(options) + 1,
                "label": {"sv": sv.strip(), "en": en.strip() or sv.strip()},
                "exclusive": exclusive,
            }
        )
    definition: dict[str, Any] = {
        "key": f"k{page.user.principal.municipality_code}.{(body.get('name') or '').strip()}",
        "phase": body.get("phase") or "",
        "type": body.get("type") or "",
        "label": {"sv": body.get("label_sv") or "", "en": body.get("label_en") or ""},
        "question": {"sv": body.get("question_sv") or "", "en": body.get("question_en") or ""},
        "options": options,
    }
    if body.get("empty_allowed"):
        definition["empty_allowed"] = True
    return definition


def local_variables_page(page: GetPage, sparat: str | None = None) -> Response:
    page.require_coordinator()
    return _local_view(page, FormState(_local_fields()), message=sparat)


def _local_view(
    page: Page, form: FormState, *, status: int = 200, message: str | None = None
) -> Response:
    rows = local_variables.list_visible(page.session, page.user.principal, request_id(page.request))
    return render(
        page.request,
        "local_variables.html",
        status=status,
        rows=rows,
        form=form,
        csrf=page.user.csrf_token,
        phase_labels=PHASE_LABELS,
        own_prefix=f"k{page.user.principal.municipality_code}.",
        message={"1": "Variabeln är skapad.", "avregistrerad": "Variabeln är avregistrerad."}.get(
            message or ""
        ),
    )


def define_local_variable(page: PostPage, form: Form) -> Response:
    page.require_coordinator()
    fields = _local_fields()
    body, errors = parse(fields, form)
    if not errors:
        definition = _definition(page, body)
        _, refused = attempt(
            page.session,
            lambda: local_variables.define(
                page.session,
                page.user.principal,
                definition,
                export_opt_in=bool(body.get("export_opt_in")),
                request_id=request_id(page.request),
            ),
        )
        if refused is None:
            return redirect("/lokala-variabler?sparat=1")
        errors = [_local_error(e) for e in _general(refused)]
    state = FormState(fields, raw_from_form(fields, form))
    state.attach(errors)
    return _local_view(page, state, status=422)


def retire_local_variable(variable_id: uuid.UUID, page: PostPage) -> Response:
    page.require_coordinator()
    local_variables.retire(page.session, page.user.principal, variable_id, request_id(page.request))
    return redirect("/lokala-variabler?sparat=avregistrerad")


# --- users and tokens ------------------------------------------------------------


def _user_fields(page: Page) -> list[Field]:
    unit_choices = tuple(
        Choice(str(u.id), u.name) for u in units.active_units(page.session, page.user.principal)
    )
    return [
        Field(
            name="username",
            kind="text",
            label="Användarnamn",
            hint="Bara namnet personen loggar in med; inga personnummer.",
            required=True,
            max_length=100,
        ),
        Field(
            name="role",
            kind="select",
            label="Roll",
            choices=tuple(Choice(r, ROLE_LABELS[r]) for r in units.MUNICIPAL_ROLES),
            required=True,
        ),
        Field(
            name="unit_id",
            kind="select",
            label="Verksamhet (för handläggare)",
            choices=(Choice("", "–"), *unit_choices),
        ),
    ]


def users_page(page: GetPage) -> Response:
    page.require_coordinator()
    return _users_view(page, FormState(_user_fields(page)))


def _users_view(
    page: Page,
    form: FormState,
    *,
    status: int = 200,
    secret: dict[str, Any] | None = None,
) -> Response:
    listing = units.list_users(
        page.admin_ctx, role=None, municipality_code=None, limit=1000, offset=0
    )
    return render(
        page.request,
        "users.html",
        status=status,
        users=listing["items"],
        unit_names=units.unit_names(page.session, page.user.principal),
        role_labels=ROLE_LABELS,
        form=form,
        csrf=page.user.csrf_token,
        secret=secret,
        me=page.user.principal.user_id,
    )


def create_user(page: PostPage, form: Form) -> Response:
    page.require_coordinator()
    fields = _user_fields(page)
    body, errors = parse(fields, form)

    def create() -> tuple[units.IssuedToken, units.TemporaryPassword]:
        issued = units.admin_create_user(
            page.admin_ctx,
            {
                "username": (body.get("username") or "").strip(),
                "role": body.get("role") or "",
                "municipality_code": None,
                "unit_id": _uuid_or_none(body.get("unit_id")),
                "county_code": None,
                "expires_in_days": 90,
            },
        )
        return issued, units.admin_set_temporary_password(
            page.admin_ctx, issued.user.id, first=True
        )

    if not errors:
        done, refused = attempt(page.session, create)
        if done is not None:
            issued, temporary = done
            return _users_view(
                page,
                FormState(fields),
                secret={
                    "username": issued.user.username,
                    "password": temporary.password,
                    "token": issued.token,
                    "created": True,
                },
            )
        if refused is not None:
            errors = _general(refused)
    state = FormState(fields, raw_from_form(fields, form))
    state.attach(errors)
    return _users_view(page, state, status=422)


def _uuid_or_none(text: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text)) if text else None
    except ValueError:
        return None


def reset_password(user_id: uuid.UUID, page: PostPage) -> Response:
    page.require_coordinator()
    temporary = units.admin_set_temporary_password(page.admin_ctx, user_id)
    return _users_view(
        page,
        FormState(_user_fields(page)),
        secret={"username": temporary.user.username, "password": temporary.password},
    )


def new_token(user_id: uuid.UUID, page: PostPage) -> Response:
    page.require_coordinator()
    issued = units.admin_issue_token(page.admin_ctx, user_id, 90)
    return _users_view(
        page,
        FormState(_user_fields(page)),
        secret={"username": issued.user.username, "token": issued.token},
    )


def revoke(user_id: uuid.UUID, page: PostPage, form: Form) -> Response:
    page.require_coordinator()
    deactivate = (form.get("deactivate") or [""])[0] == "1"
    units.admin_revoke(page.admin_ctx, user_id, deactivate=deactivate)
    return redirect("/anvandare")


# --- exports ----------------------------------------------------------------------


def export_page(page: GetPage) -> Response:
    page.require_coordinator()
    return _export_view(page, today().replace(month=1, day=1).isoformat(), today().isoformat())


def _export_view(
    page: Page,
    fran: str,
    till: str,
    *,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> Response:
    last_year = today().year - 1
    return render(
        page.request,
        "export.html",
        status=status,
        fran=fran,
        till=till,
        formats=EXPORT_FORMATS,
        errors=errors or [],
        years=list(range(today().year, today().year - 6, -1)),
        last_year=last_year,
        csrf=page.user.csrf_token,
    )


def _download(content: bytes, media: str, name: str) -> Response:
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def export_kolada(page: GetPage, ar: str | None = None, format: str = "xlsx") -> Response:
    """Kolada's key ratios U30750–U30752 for one year (same service as
    ``GET /api/v1/stats/kolada``, audited there)."""
    page.require_coordinator()
    from app.indicators import service as indicators
    from app.indicators.router import get_indicators
    from exporters.kolada import kolada_csv, kolada_xlsx

    year = int(ar) if ar and ar.isdigit() and len(ar) == 4 else None
    if year is None or format not in ("xlsx", "csv"):
        error = FieldError(
            "/ar", "invalid", "Välj ett år och ett format.", "Choose a year and a format."
        )
        return _export_view(page, "", "", errors=[error], status=422)
    try:
        report = indicators.kolada_for(
            page.session,
            page.catalogue,
            get_indicators(page.request),
            page.user.principal,
            year,
            {},
            today=today(),
            request_id=request_id(page.request),
        )
    except ValidationFailed as exc:
        return _export_view(page, "", "", errors=list(exc.errors), status=422)
    if format == "csv":
        return _download(kolada_csv(report), "text/csv; charset=utf-8", f"kolada-{year}.csv")
    return _download(kolada_xlsx(report), EXPORT_MEDIA["xlsx"], f"kolada-{year}.xlsx")


def export_skr(page: PostPage, form: Form) -> Response:
    """The municipality's pseudonymised package for SKR's national compilation
    (same service as ``POST /api/v1/exports/skr``, audited there)."""
    page.require_coordinator()
    from app.submissions.package import export_package

    period = (form.get("period") or [""])[0].strip()[:9]
    try:
        content, package = export_package(
            page.session,
            page.catalogue,
            page.keyring,
            page.user.principal,
            period=period,
            recipient="skr",
            recipient_public_key=None,
            generated_at=utcnow(),
            request_id=request_id(page.request),
        )
    except ValidationFailed as exc:
        return _export_view(page, "", "", errors=list(exc.errors), status=422)
    municipality = page.user.principal.municipality_code
    name = f"skr-{municipality}-{period}-{package.package_id[:8]}.zip"
    return _download(content, "application/zip", name)


def export_summary(
    page: GetPage,
    fran: str | None = None,
    till: str | None = None,
    format: str = "xlsx",
) -> Response:
    """The national compilation's tables for the municipality (unprotected:
    the municipality's own data), as a download. Same service as
    ``GET /api/v1/stats/summary`` (audited as ``export.summary``)."""
    page.require_coordinator()
    from app.stats import service as stats
    from exporters.writers.csv_writer import write_csv_zip
    from exporters.writers.html import write_html
    from exporters.writers.xlsx_writer import write_xlsx

    start, end = _date(fran), _date(till)
    errors = []
    if start is None:
        errors.append(_date_needed("/fran"))
    if end is None:
        errors.append(_date_needed("/till"))
    if format not in EXPORT_FORMATS:
        errors.append(FieldError("/format", "unknown_code", "Välj ett format.", "Choose a format."))
    if errors or start is None or end is None:
        return _export_view(page, fran or "", till or "", errors=errors, status=422)
    try:
        summary = stats.summary_for(
            page.session,
            page.catalogue,
            page.user.principal,
            stats.SummaryQuery(start, end),
            threshold=page.settings.suppression_threshold,
            today=today(),
            request_id=request_id(page.request),
        )
    except ValidationFailed as exc:
        return _export_view(page, fran or "", till or "", errors=list(exc.errors), status=422)
    writers = {"csv": write_csv_zip, "xlsx": write_xlsx, "html": write_html}
    suffix = {"csv": "zip", "xlsx": "xlsx", "html": "html"}[format]
    name = f"isu-sammanstallning-{start.isoformat()}-{end.isoformat()}.{suffix}"
    return _download(writers[format](summary), EXPORT_MEDIA[format], name)


def build_admin_router() -> APIRouter:
    router = APIRouter(route_class=WebRoute, include_in_schema=False)
    router.add_api_route("/datakvalitet", quality_page, methods=["GET"])
    router.add_api_route("/datakvalitet/saknas", lacking_page, methods=["GET"])
    router.add_api_route("/datakvalitet/kontrollera", warned_page, methods=["GET"])
    router.add_api_route("/lokala-variabler", local_variables_page, methods=["GET"])
    router.add_api_route("/lokala-variabler", define_local_variable, methods=["POST"])
    router.add_api_route(
        "/lokala-variabler/{variable_id}/avregistrera", retire_local_variable, methods=["POST"]
    )
    router.add_api_route("/anvandare", users_page, methods=["GET"])
    router.add_api_route("/anvandare", create_user, methods=["POST"])
    router.add_api_route("/anvandare/{user_id}/losenord", reset_password, methods=["POST"])
    router.add_api_route("/anvandare/{user_id}/token", new_token, methods=["POST"])
    router.add_api_route("/anvandare/{user_id}/sparra", revoke, methods=["POST"])
    router.add_api_route("/export", export_page, methods=["GET"])
    router.add_api_route("/export/sammanstallning", export_summary, methods=["GET"])
    router.add_api_route("/export/kolada", export_kolada, methods=["GET"])
    router.add_api_route("/export/skr", export_skr, methods=["POST"])
    return router
