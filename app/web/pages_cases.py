"""Caseworker pages: the unit's cases, a new case, one page per case and phase.

Every save calls the same service function as the API (app.cases.service,
app.cases.records) with the signed-in person's principal, inside a savepoint:
a rejected save is undone whole and the form comes back with what the person
typed and each error next to its field. Saves carry the case version the
person saw, so a concurrent change is reported, never overwritten.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.cases import records, service
from app.cases.exclusion import ExclusionReason
from app.cases.schemas import CaseSchemas
from app.cases.scope import get_case
from app.catalogue.loader import Catalogue
from app.errors import AppError, Conflict, FieldError, PreconditionFailed, ValidationFailed
from app.local_variables.service import for_municipality
from app.models import STATUSES, Case
from app.web import queries
from app.web import survey as survey_links
from app.web.caseforms import PHASES, CaseForms, answered, extra_label, option_label
from app.web.deps import Form, GetPage, Page, PostPage
from app.web.forms import Field, FormState, changed, parse, raw_from_form, raw_from_values, validate
from app.web.labels import (
    CASE_PHASE_LABELS,
    EXCLUSION_LABELS,
    OTHER_FIELD_LABELS,
    PHASE_LABELS,
    STATUS_LABELS,
)
from app.web.rendering import WebRoute, redirect, render

T = TypeVar("T")

MESSAGES = {
    "sparat": "Ändringarna är sparade.",
    "oforandrat": "Inget var ändrat, så inget sparades.",
    "skapat": "Ärendet är registrerat.",
    "insats": "Insatsen är registrerad.",
    "insats-borttagen": "Insatsen är borttagen.",
    "skattning": "Riskskattningen är registrerad.",
    "skattning-borttagen": "Riskskattningen är borttagen.",
    "avslutat": "Ärendet är avslutat.",
    "enkat": "Brukarenkätens svar är registrerade.",
    "undantaget": "Ärendet är undantaget från statistiken.",
    "inkluderat": "Ärendet räknas i statistiken igen.",
}

NEXT_STEP = {
    "aktualiserad": ("under", "Registrera stöd och insatser när klienten får dem."),
    "fatt_insats": ("efter", "Avsluta ärendet när stödet är klart."),
    "avslutad": ("efter", "Ange avslutsorsak och måluppföljning."),
    "avslutsorsak_angiven": ("efter", "Ange måluppföljningen."),
    "maluppfoljning_angiven": ("brukarenkat", "Gör brukarenkäten med klienten."),
}


def attempt(session: Session, action: Callable[[], T]) -> tuple[T | None, AppError | None]:
    """Run a service call in a savepoint: a refusal undoes everything it did
    (values, revision, audit event) and is returned, not raised."""
    try:
        with session.begin_nested():
            return action(), None
    except (ValidationFailed, PreconditionFailed, Conflict) as exc:
        session.expunge_all()  # nothing of the refused change stays in memory
        return None, exc


@dataclass
class PageForms:
    """The forms of one page; a refused post replaces its form's state."""

    states: dict[str, FormState] = field(default_factory=dict)
    conflict: list[str] | None = None
    """Labels of the fields someone else changed (a stale version)."""


def _label_of(catalogue: Catalogue, local: dict[str, Any], name: str) -> str:
    key = name.removeprefix("comment:")
    prefix = "Kommentar: " if name.startswith("comment:") else ""
    variable = catalogue.variables.get(key) or local.get(key)
    if variable is not None:
        return prefix + variable.label.sv
    for group in catalogue.groups.values():
        extra = next((f for f in group.extra_fields if f.key == key), None)
        if extra is not None:
            return prefix + extra.label.sv
    return prefix + OTHER_FIELD_LABELS.get(key, key)


class CasePages:
    """The case routes, bound to the app's catalogue-generated schemas."""

    def __init__(self, schemas: CaseSchemas) -> None:
        self.schemas = schemas

    # --- helpers -----------------------------------------------------------

    def forms(self, page: Page, municipality: str | None = None) -> CaseForms:
        code = municipality or page.user.principal.municipality_code or ""
        return CaseForms(page.catalogue, for_municipality(page.session, code))

    def _view(
        self,
        page: Page,
        case: Case,
        phase: str | None,
        forms: PageForms | None = None,
        *,
        status: int = 200,
        message: str | None = None,
        link: dict[str, Any] | None = None,
    ) -> Response:
        ctx = page.case_ctx
        data = service.serialise(ctx, case)
        cf = self.forms(page, case.municipality_code)
        forms = forms or PageForms()
        states = forms.states
        stored: dict[str, Any] = {
            **data,
            "values": data["values"],
            "local_values": data["local_values"],
            "comments": data["comments"],
        }
        progress = {}
        for p in PHASES:
            fields = cf.bakgrund_fields() if p == "bakgrund" else cf.values_fields(p)
            if p == "efter" and case.closed_on is not None:
                fields = [*cf.close_fields(), *cf.local_fields("efter")]
            if p == "brukarenkat":
                fields = [f for f in cf.survey_fields() if f.kind != "text"]
                progress[p] = (1, 1) if data["survey"] else (0, 1)
                continue
            progress[p] = answered(fields, stored)

        def state(name: str, fields: list[Field], body: dict[str, Any] | None) -> FormState:
            if name in states:
                return states[name]
            return FormState(fields, raw_from_values(fields, body or {}))

        context: dict[str, Any] = {}
        if phase == "bakgrund":
            context["values_form"] = state("values", cf.bakgrund_fields(), stored)
        elif phase in ("fore", "under"):
            context["values_form"] = state("values", cf.values_fields(phase), stored)
        elif phase == "efter":
            if case.closed_on is None:
                context["close_form"] = state("close", cf.close_fields(), stored)
            else:
                fields = [f for f in cf.close_fields() if f.name != "closed_on"]
                fields += cf.local_fields("efter")
                context["values_form"] = state("values", fields, stored)
        elif phase == "brukarenkat":
            survey = data["survey"]
            survey_body = {**survey, "comments": survey["comments"]} if survey else {}
            context["survey_form"] = state("survey", cf.survey_fields(), survey_body)
            local = cf.local_fields("brukarenkat")
            if local:
                context["values_form"] = state("values", local, stored)
            context["link_expires"] = survey_links.live_link_expiry(page.session, case.id)
            context["link_modes"] = self._link_modes(page.catalogue)
        if phase == "fore":
            context["risk_form"] = state("risk", cf.risk_fields(), {})
        if phase == "under":
            context["intervention_form"] = state("intervention", cf.intervention_fields(), {})
        units = queries.unit_names(page.session, page.user.principal)
        return render(
            page.request,
            "case.html",
            status=status,
            case=data,
            case_row=case,
            phase=phase,
            phases=PHASES,
            phase_labels=PHASE_LABELS,
            statuses=STATUSES,
            status_labels=STATUS_LABELS,
            progress=progress,
            next_step=NEXT_STEP.get(case.status),
            unit_name=units.get(case.unit_id, ""),
            conflict=forms.conflict,
            message=MESSAGES.get(message or ""),
            csrf=page.user.csrf_token,
            catalogue=page.catalogue,
            option_label=option_label,
            extra_label=lambda group, key, code: extra_label(page.catalogue, group, key, code),
            exclusion_labels=EXCLUSION_LABELS,
            is_coordinator=page.is_coordinator,
            link=link,
            states=states,
            **context,
        )

    def _link_modes(self, catalogue: Catalogue) -> list[tuple[int, str]]:
        mode = next(f for f in catalogue.groups["survey"].extra_fields if f.key == "mode")
        labels = {o.code: o.label.sv for o in mode.options}
        return [(code, labels[code]) for code in survey_links.LINK_MODES]

    def _refused(
        self,
        page: Page,
        case_id: uuid.UUID,
        phase: str | None,
        name: str,
        fields: list[Field],
        form: dict[str, list[str]],
        error: AppError,
        seen_version: int | None,
    ) -> Response:
        """The page again, the refused form as typed, its errors beside the fields."""
        case = get_case(page.session, page.user.principal, case_id)
        state = FormState(fields, raw_from_form(fields, form))
        forms = PageForms({name: state})
        if isinstance(error, PreconditionFailed) and seen_version is not None:
            local = self.forms(page, case.municipality_code).local
            names = queries.changes_since(page.session, case.id, seen_version)
            forms.conflict = [_label_of(page.catalogue, dict(local), n) for n in names]
        else:
            state.attach(error.errors or [FieldError("", error.slug, error.detail, error.detail_en)])
        return self._view(page, case, phase, forms, status=error.status)

    def _invalid(
        self,
        page: Page,
        case_id: uuid.UUID,
        phase: str,
        name: str,
        fields: list[Field],
        form: dict[str, list[str]],
        errors: list[FieldError],
    ) -> Response:
        return self._refused(
            page, case_id, phase, name, fields, form, ValidationFailed(errors), None
        )

    # --- routes ------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter(route_class=WebRoute, include_in_schema=False)
        router.add_api_route("/arenden", self.list_cases, methods=["GET"])
        router.add_api_route("/arenden/nytt", self.new_case_form, methods=["GET"])
        router.add_api_route("/arenden/nytt", self.create_case, methods=["POST"])
        router.add_api_route("/arenden/{case_id}", self.overview, methods=["GET"])
        router.add_api_route("/arenden/{case_id}/historik", self.history, methods=["GET"])
        router.add_api_route("/arenden/{case_id}/fas/{phase}", self.phase_page, methods=["GET"])
        router.add_api_route("/arenden/{case_id}/fas/{phase}", self.save_values, methods=["POST"])
        router.add_api_route("/arenden/{case_id}/insatser", self.add_intervention, methods=["POST"])
        router.add_api_route(
            "/arenden/{case_id}/insatser/{item_id}/ta-bort",
            self.delete_intervention,
            methods=["POST"],
        )
        router.add_api_route("/arenden/{case_id}/riskskattningar", self.add_risk, methods=["POST"])
        router.add_api_route(
            "/arenden/{case_id}/riskskattningar/{item_id}/ta-bort",
            self.delete_risk,
            methods=["POST"],
        )
        router.add_api_route("/arenden/{case_id}/avsluta", self.close_case, methods=["POST"])
        router.add_api_route("/arenden/{case_id}/enkat", self.put_survey, methods=["POST"])
        router.add_api_route("/arenden/{case_id}/enkat/lank", self.survey_link, methods=["POST"])
        router.add_api_route("/arenden/{case_id}/undantag", self.exclusion, methods=["POST"])
        return router

    def list_cases(
        self,
        page: GetPage,
        status: Annotated[str | None, Query()] = None,
        fas: Annotated[str | None, Query()] = None,
        ref: Annotated[str | None, Query(max_length=64)] = None,
        undantagna: Annotated[str | None, Query()] = None,
        sida: Annotated[int, Query(ge=1, le=100_000)] = 1,
    ) -> Response:
        status = status if status in STATUSES else None
        fas = fas if fas in queries.PHASE_STATUSES else None
        excluded = {"ja": True, "nej": False}.get(undantagna or "")
        rows, total = queries.list_cases(
            page.case_ctx,
            status=status,
            phase=fas,
            reference=(ref or "").strip() or None,
            excluded=excluded,
            unit_id=None,
            page=sida,
        )
        pages = max(1, -(-total // queries.PAGE_SIZE))
        return render(
            page.request,
            "cases.html",
            rows=rows,
            total=total,
            page_number=sida,
            pages=pages,
            status_filter=status or "",
            fas=fas or "",
            ref=ref or "",
            undantagna=undantagna if excluded is not None else "",
            status_labels=STATUS_LABELS,
            case_phase_labels=CASE_PHASE_LABELS,
            unit_names=queries.unit_names(page.session, page.user.principal),
            is_coordinator=page.is_coordinator,
        )

    def _unit_choices(self, page: Page) -> list[tuple[str, str]] | None:
        if not page.is_coordinator:
            return None
        return [(str(u.id), u.name) for u in queries.units_of(page.session, page.user.principal)]

    def new_case_form(self, page: GetPage) -> Response:
        fields = self.forms(page).create_fields(self._unit_choices(page))
        return render(
            page.request, "case_new.html", form=FormState(fields), csrf=page.user.csrf_token
        )

    def create_case(self, page: PostPage, form: Form) -> Response:
        fields = self.forms(page).create_fields(self._unit_choices(page))
        body, errors = parse(fields, form)
        body = _drop_empty(body)
        data, more = validate(self.schemas.create, body) if not errors else ({}, [])
        errors += more
        case: Case | None = None
        if not errors:
            case, refused = attempt(page.session, lambda: service.create_case(page.case_ctx, data))
            if refused is not None:
                errors = list(refused.errors) or [FieldError("", refused.slug, refused.detail, refused.detail_en)]
        if case is None:
            state = FormState(fields, raw_from_form(fields, form))
            state.attach(errors)
            return render(
                page.request, "case_new.html", status=422, form=state, csrf=page.user.csrf_token
            )
        return redirect(f"/arenden/{case.id}?meddelande=skapat")

    def overview(
        self, case_id: uuid.UUID, page: GetPage, meddelande: str | None = None
    ) -> Response:
        case = service.read_case(page.case_ctx, case_id)
        return self._view(page, case, None, message=meddelande)

    def phase_page(
        self, case_id: uuid.UUID, phase: str, page: GetPage, meddelande: str | None = None
    ) -> Response:
        if phase not in PHASES:
            raise _not_found()
        case = service.read_case(page.case_ctx, case_id)
        return self._view(page, case, phase, message=meddelande)

    def history(self, case_id: uuid.UUID, page: GetPage) -> Response:
        case = get_case(page.session, page.user.principal, case_id, with_children=False)
        result = service.history(page.case_ctx, case_id)
        local = dict(self.forms(page, case.municipality_code).local)
        users = queries.usernames(
            page.session, {r["changed_by"] for r in result["revisions"]}, page.user.principal
        )
        revisions = [
            {
                **r,
                "who": users.get(r["changed_by"], "(annan kommun eller borttagen)"),
                "labels": [_label_of(page.catalogue, local, n) for n in r["fields"]],
            }
            for r in reversed(result["revisions"])
        ]
        return render(
            page.request,
            "case_history.html",
            case_id=case_id,
            revisions=revisions,
            action_labels=ACTION_LABELS,
        )

    # --- saves -------------------------------------------------------------

    def save_values(self, case_id: uuid.UUID, phase: str, page: PostPage, form: Form) -> Response:
        if phase not in PHASES:
            raise _not_found()
        case = get_case(page.session, page.user.principal, case_id)
        cf = self.forms(page, case.municipality_code)
        if phase == "bakgrund":
            fields = cf.bakgrund_fields()
        elif phase == "efter":
            fields = [f for f in cf.close_fields() if f.name != "closed_on"]
            fields += cf.local_fields("efter")
        elif phase == "brukarenkat":
            fields = cf.local_fields("brukarenkat")
        else:
            fields = cf.values_fields(phase)
        version = _version(form)
        body, errors = parse(fields, form)
        if errors:
            return self._invalid(page, case_id, phase, "values", fields, form, errors)
        stored = service.serialise(page.case_ctx, case)
        diff = changed(body, stored)
        if not diff:
            return redirect(f"/arenden/{case_id}/fas/{phase}?meddelande=oforandrat")
        data, errors = validate(self.schemas.update, diff)
        if errors:
            return self._invalid(page, case_id, phase, "values", fields, form, errors)
        _, refused = attempt(
            page.session, lambda: service.update_case(page.case_ctx, case_id, version, data)
        )
        if refused is not None:
            return self._refused(page, case_id, phase, "values", fields, form, refused, version)
        return redirect(f"/arenden/{case_id}/fas/{phase}?meddelande=sparat")

    def _add_record(
        self,
        page: Page,
        case_id: uuid.UUID,
        form: dict[str, list[str]],
        *,
        phase: str,
        name: str,
        fields: list[Field],
        model: type[BaseModel],
        add: Callable[[dict[str, Any]], Any],
        message: str,
    ) -> Response:
        get_case(page.session, page.user.principal, case_id, with_children=False)
        body, errors = parse(fields, form)
        body = _drop_empty(body)
        data, more = validate(model, body) if not errors else ({}, [])
        errors += more
        if errors:
            return self._invalid(page, case_id, phase, name, fields, form, errors)
        _, refused = attempt(page.session, lambda: add(data))
        if refused is not None:
            return self._refused(page, case_id, phase, name, fields, form, refused, None)
        return redirect(f"/arenden/{case_id}/fas/{phase}?meddelande={message}")

    def add_intervention(self, case_id: uuid.UUID, page: PostPage, form: Form) -> Response:
        return self._add_record(
            page,
            case_id,
            form,
            phase="under",
            name="intervention",
            fields=self.forms(page).intervention_fields(),
            model=self.schemas.intervention_in,
            add=lambda data: records.add_intervention(page.case_ctx, case_id, data),
            message="insats",
        )

    def add_risk(self, case_id: uuid.UUID, page: PostPage, form: Form) -> Response:
        return self._add_record(
            page,
            case_id,
            form,
            phase="fore",
            name="risk",
            fields=self.forms(page).risk_fields(),
            model=self.schemas.risk_in,
            add=lambda data: records.add_risk(page.case_ctx, case_id, data),
            message="skattning",
        )

    def _delete(
        self,
        page: Page,
        case_id: uuid.UUID,
        form: dict[str, list[str]],
        phase: str,
        delete: Callable[[int], Any],
        message: str,
    ) -> Response:
        version = _version(form)
        _, refused = attempt(page.session, lambda: delete(version))
        if refused is not None:
            case = get_case(page.session, page.user.principal, case_id)
            forms = PageForms()
            if isinstance(refused, PreconditionFailed):
                local = dict(self.forms(page, case.municipality_code).local)
                names = queries.changes_since(page.session, case.id, version)
                forms.conflict = [_label_of(page.catalogue, local, n) for n in names]
            return self._view(page, case, phase, forms, status=refused.status)
        return redirect(f"/arenden/{case_id}/fas/{phase}?meddelande={message}")

    def delete_intervention(
        self, case_id: uuid.UUID, item_id: uuid.UUID, page: PostPage, form: Form
    ) -> Response:
        return self._delete(
            page,
            case_id,
            form,
            "under",
            lambda v: records.delete_intervention(page.case_ctx, case_id, item_id, v),
            "insats-borttagen",
        )

    def delete_risk(
        self, case_id: uuid.UUID, item_id: uuid.UUID, page: PostPage, form: Form
    ) -> Response:
        return self._delete(
            page,
            case_id,
            form,
            "fore",
            lambda v: records.delete_risk(page.case_ctx, case_id, item_id, v),
            "skattning-borttagen",
        )

    def close_case(self, case_id: uuid.UUID, page: PostPage, form: Form) -> Response:
        fields = self.forms(page).close_fields()
        version = _version(form)
        body, errors = parse(fields, form)
        body = _drop_empty(body)
        data, more = validate(self.schemas.close, body) if not errors else ({}, [])
        errors += more
        if errors:
            return self._invalid(page, case_id, "efter", "close", fields, form, errors)
        _, refused = attempt(
            page.session, lambda: service.close_case(page.case_ctx, case_id, version, data)
        )
        if refused is not None:
            return self._refused(page, case_id, "efter", "close", fields, form, refused, version)
        return redirect(f"/arenden/{case_id}/fas/efter?meddelande=avslutat")

    def put_survey(self, case_id: uuid.UUID, page: PostPage, form: Form) -> Response:
        """Answers given by phone, on paper or in the meeting, typed in by the caseworker."""
        fields = self.forms(page).survey_fields()
        version = _version(form)
        body, errors = parse(fields, form)
        body = _drop_empty(body)
        data, more = validate(self.schemas.survey_in, body) if not errors else ({}, [])
        errors += more
        if errors:
            return self._invalid(page, case_id, "brukarenkat", "survey", fields, form, errors)

        def put() -> Case:
            case = records.put_survey(page.case_ctx, case_id, version, data)
            survey_links.revoke_links(page.session, case_id)
            return case

        _, refused = attempt(page.session, put)
        if refused is not None:
            return self._refused(
                page, case_id, "brukarenkat", "survey", fields, form, refused, version
            )
        return redirect(f"/arenden/{case_id}/fas/brukarenkat?meddelande=enkat")

    def survey_link(self, case_id: uuid.UUID, page: PostPage, form: Form) -> Response:
        """A one-time link and its QR code, shown once (the page is not cached)."""
        mode_text = (form.get("mode") or [""])[0]
        mode = int(mode_text) if mode_text.isdigit() else 0
        link, refused = attempt(
            page.session, lambda: survey_links.create_link(page.case_ctx, case_id, mode)
        )
        case = get_case(page.session, page.user.principal, case_id)
        if refused is not None or link is None:
            forms = PageForms()
            state = FormState([])
            if refused is not None:
                state.attach(refused.errors or [FieldError("", refused.slug, refused.detail, refused.detail_en)])
            forms.states["link"] = state
            return self._view(
                page, case, "brukarenkat", forms, status=refused.status if refused else 422
            )
        url = str(page.request.base_url).rstrip("/") + f"/enkat/{link.token}"
        return self._view(
            page,
            case,
            "brukarenkat",
            link={"url": url, "expires_at": link.expires_at, "qr": _qr_data_uri(url)},
        )

    def exclusion(self, case_id: uuid.UUID, page: PostPage, form: Form) -> Response:
        page.require_coordinator()
        version = _version(form)
        reason = (form.get("reason") or [""])[0]
        include = reason == "include"
        if not include and reason not in {r.value for r in ExclusionReason}:
            error = ValidationFailed(
                [FieldError("/reason", "literal_error", "Välj en orsak.", "Choose a reason.")]
            )
            return self._refused(page, case_id, None, "exclusion", [], form, error, None)
        _, refused = attempt(
            page.session,
            lambda: service.set_exclusion(
                page.case_ctx, case_id, version, None if include else reason
            ),
        )
        if refused is not None:
            return self._refused(page, case_id, None, "exclusion", [], form, refused, version)
        message = "inkluderat" if include else "undantaget"
        return redirect(f"/arenden/{case_id}?meddelande={message}")


ACTION_LABELS = {
    "create": "Registrerat",
    "update": "Ändrat",
    "close": "Avslutat",
    "delete": "Borttaget",
    "put": "Brukarenkät registrerad",
    "exclude": "Undantaget från statistiken",
    "include": "Räknas i statistiken igen",
}


def _not_found() -> AppError:
    from app.errors import NotFound

    return NotFound()


def _version(form: dict[str, list[str]]) -> int:
    text = (form.get("version") or [""])[0]
    if not text.isdigit():
        raise PreconditionFailed(
            "Formuläret saknar ärendets version. Ladda om sidan.",
            "The form lacks the case version. Reload the page.",
        )
    return int(text)


def _drop_empty(body: dict[str, Any]) -> dict[str, Any]:
    """A new record or case: fields left empty are simply not given."""
    result: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, dict):
            inner = {k: v for k, v in value.items() if v is not None}
            if inner:
                result[key] = inner
        elif value is not None:
            result[key] = value
    return result


def _qr_data_uri(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg: bytes = image.to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
