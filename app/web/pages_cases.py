"""Caseworker pages: the unit's cases, a new case, one page per case and phase.

Every save calls the same service function as the API (app.cases.service,
app.cases.records) with the signed-in person's principal, inside a savepoint:
a rejected save is undone whole and the form comes back with what the person
typed and every error at once, each next to its field and in the summary. A
save that would bring a warning (the catalogue's consistency checks) is undone
too and shown for confirmation; "Spara ändå" saves it. Saves carry the case
version the person saw, so a concurrent change is reported, never overwritten.
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
from app.cases.bodies import Submitted, read_body
from app.cases.consistency import CaseWarning, case_warnings, new_warnings
from app.cases.exclusion import ExclusionReason
from app.cases.records import CLIENT_ANSWER
from app.cases.schemas import CaseSchemas
from app.cases.scope import get_case
from app.cases.status import PHASE_STATUSES
from app.catalogue.loader import Catalogue
from app.errors import AppError, Conflict, FieldError, PreconditionFailed, ValidationFailed
from app.local_variables.service import for_municipality
from app.models import STATUSES, Case
from app.quality import service as quality
from app.units import service as units
from app.web import survey as survey_links
from app.web.caseforms import PHASES, CaseForms, answered, extra_label, option_label
from app.web.deps import Form, GetPage, Page, PostPage
from app.web.forms import (
    Field,
    FormState,
    changed,
    confirmation_token,
    parse,
    raw_from_form,
    raw_from_values,
)
from app.web.labels import (
    CASE_PHASE_LABELS,
    EXCLUSION_LABELS,
    OTHER_FIELD_LABELS,
    PHASE_LABELS,
    STATUS_LABELS,
)
from app.web.rendering import WebRoute, redirect, render

T = TypeVar("T")

PAGE_SIZE = 50

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

CONFIRM = "bekrafta"
"""The form field "Spara ändå" posts: the token of the warnings it confirms."""


def next_step(case: Case, progress: dict[str, tuple[int, int]]) -> tuple[str, str] | None:
    """Where the caseworker goes next, by the case's status and what is filled in."""
    status = case.status
    if status == "aktualiserad":
        done, asked = progress["fore"]
        if done < asked:
            return (
                "fore",
                "Registrera uppgifterna före stöd/insats: vem som utövar våldet, "
                "våldets grad, förändringsmål och en riskskattning.",
            )
        return ("under", "Registrera stöd och insatser när klienten får dem.")
    return {
        "fatt_insats": ("efter", "Avsluta ärendet när stödet är klart."),
        "avslutad": ("efter", "Ange avslutsorsak och måluppföljning."),
        "avslutsorsak_angiven": ("efter", "Ange måluppföljningen."),
        "maluppfoljning_angiven": ("brukarenkat", "Gör brukarenkäten med klienten."),
    }.get(status)


def attempt(session: Session, action: Callable[[], T]) -> tuple[T | None, AppError | None]:
    """Run a service call in a savepoint: a refusal undoes everything it did
    (values, revision, audit event) and is returned, not raised."""
    try:
        with session.begin_nested():
            return action(), None
    except (ValidationFailed, PreconditionFailed, Conflict) as exc:
        session.expunge_all()  # nothing of the refused change stays in memory
        return None, exc


class _Unconfirmed(Exception):
    """The save brings warnings the person has not confirmed: undo it."""

    def __init__(self, warnings: list[CaseWarning]) -> None:
        super().__init__("unconfirmed warnings")
        self.warnings = warnings


@dataclass
class Refusal:
    """Why a save did not happen: an error, or warnings to confirm."""

    error: AppError | None = None
    warnings: list[CaseWarning] = field(default_factory=list)


def save(
    page: Page,
    form: dict[str, list[str]],
    action: Callable[[], Case],
    before: list[CaseWarning],
) -> tuple[Case | None, Refusal | None]:
    """A case save in a savepoint. If it brings warnings the case did not have
    (``before``) and the post does not confirm exactly those, it is undone and
    the warnings returned for the person to confirm."""
    confirmed = (form.get(CONFIRM) or [""])[0]

    def run() -> Case:
        case = action()
        brought = new_warnings(before, case_warnings(page.catalogue, case))
        if brought and confirmation_token(brought) != confirmed:
            raise _Unconfirmed(brought)
        return case

    try:
        with page.session.begin_nested():
            return run(), None
    except (ValidationFailed, PreconditionFailed, Conflict) as exc:
        page.session.expunge_all()
        return None, Refusal(error=exc)
    except _Unconfirmed as exc:
        page.session.expunge_all()
        return None, Refusal(warnings=exc.warnings)


def checked(
    model: type[BaseModel], body: dict[str, Any], form_errors: list[FieldError]
) -> Submitted:
    """A form's body read like the API's, with the form's own parse errors."""
    submitted = read_body(model, body)
    return Submitted(submitted.data, (*form_errors, *submitted.errors))


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
        unit_names = units.unit_names(page.session, page.user.principal)
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
            next_step=next_step(case, progress),
            unit_name=unit_names.get(case.unit_id, ""),
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
        refusal: Refusal,
        seen_version: int | None,
    ) -> Response:
        """The page again, the refused form as typed, its errors beside the
        fields (or the warnings to confirm)."""
        case = get_case(page.session, page.user.principal, case_id)
        state = FormState(fields, raw_from_form(fields, form))
        forms = PageForms({name: state})
        error = refusal.error
        if error is None:
            state.warnings = refusal.warnings
            return self._view(page, case, phase, forms, status=409)
        if isinstance(error, PreconditionFailed) and seen_version is not None:
            local = self.forms(page, case.municipality_code).local
            names = service.changes_since(page.case_ctx, case, seen_version)
            forms.conflict = [_label_of(page.catalogue, dict(local), n) for n in names]
        else:
            state.attach(_errors_of(error))
        return self._view(page, case, phase, forms, status=error.status)

    def _save(
        self,
        page: Page,
        case_id: uuid.UUID,
        phase: str,
        name: str,
        fields: list[Field],
        form: dict[str, list[str]],
        action: Callable[[], Case],
        seen_version: int | None,
        message: str,
    ) -> Response:
        """Save a form of a case page: redirect on success, else the page with
        the errors or the warnings to confirm."""
        case = get_case(page.session, page.user.principal, case_id)
        before = case_warnings(page.catalogue, case)
        _, refusal = save(page, form, action, before)
        if refusal is not None:
            return self._refused(page, case_id, phase, name, fields, form, refusal, seen_version)
        return redirect(f"/arenden/{case_id}/fas/{phase}?meddelande={message}")

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
        mina: Annotated[str | None, Query()] = None,
        efter: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        status = status if status in STATUSES else None
        fas = fas if fas in PHASE_STATUSES else None
        excluded = {"ja": True, "nej": False}.get(undantagna or "")
        mine = mina == "ja"
        result = service.list_cases(
            page.case_ctx,
            status=status,
            phase=fas,
            reference=(ref or "").strip() or None,
            excluded=excluded,
            mine=mine,
            unit_id=None,
            actualised_from=None,
            actualised_to=None,
            limit=PAGE_SIZE,
            cursor=efter or None,
            with_total=True,
        )
        rows = result["items"]
        lacking = quality.missing_by_case(
            page.session, page.catalogue, page.user.principal, [r["id"] for r in rows]
        )
        filters = {
            "status": status or "",
            "fas": fas or "",
            "ref": ref or "",
            "undantagna": undantagna if excluded is not None else "",
            "mina": "ja" if mine else "",
        }
        return render(
            page.request,
            "cases.html",
            rows=rows,
            total=result["total"],
            next_cursor=result["next_cursor"],
            first_page=efter is None,
            filters=filters,
            missing={case_id: _missing_by_phase(checks) for case_id, checks in lacking.items()},
            status_labels=STATUS_LABELS,
            phase_labels=PHASE_LABELS,
            case_phase_labels=CASE_PHASE_LABELS,
            unit_names=units.unit_names(page.session, page.user.principal),
            is_coordinator=page.is_coordinator,
        )

    def _unit_choices(self, page: Page) -> list[tuple[str, str]] | None:
        if not page.is_coordinator:
            return None
        return [(str(u.id), u.name) for u in units.active_units(page.session, page.user.principal)]

    def new_case_form(self, page: GetPage) -> Response:
        fields = self.forms(page).create_fields(self._unit_choices(page))
        return render(
            page.request, "case_new.html", form=FormState(fields), csrf=page.user.csrf_token
        )

    def create_case(self, page: PostPage, form: Form) -> Response:
        fields = self.forms(page).create_fields(self._unit_choices(page))
        body, errors = parse(fields, form)
        submitted = checked(self.schemas.create, _drop_empty(body), errors)
        case, refusal = save(
            page, form, lambda: service.create_case(page.case_ctx, submitted), before=[]
        )
        if case is None:
            state = FormState(fields, raw_from_form(fields, form))
            if refusal is not None and refusal.error is not None:
                state.attach(_errors_of(refusal.error))
                status = refusal.error.status
            else:
                state.warnings = refusal.warnings if refusal else []
                status = 409
            return render(
                page.request, "case_new.html", status=status, form=state, csrf=page.user.csrf_token
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
        users = units.usernames(
            page.session, page.user.principal, {r["changed_by"] for r in result["revisions"]}
        )
        revisions = [
            {
                **r,
                "who": (
                    CLIENT
                    if r["action"] == CLIENT_ANSWER
                    else users.get(r["changed_by"], "(annan kommun eller borttagen)")
                ),
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
        stored = service.serialise(page.case_ctx, case)
        diff = changed(body, stored)
        if not diff and not errors:
            return redirect(f"/arenden/{case_id}/fas/{phase}?meddelande=oforandrat")
        submitted = checked(self.schemas.update, diff, errors)
        return self._save(
            page,
            case_id,
            phase,
            "values",
            fields,
            form,
            lambda: service.update_case(page.case_ctx, case_id, version, submitted),
            version,
            "sparat",
        )

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
        add: Callable[[Submitted], tuple[Case, Any]],
        message: str,
    ) -> Response:
        get_case(page.session, page.user.principal, case_id, with_children=False)
        body, errors = parse(fields, form)
        submitted = checked(model, _drop_empty(body), errors)
        return self._save(
            page,
            case_id,
            phase,
            name,
            fields,
            form,
            lambda: add(submitted)[0],
            None,
            message,
        )

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
                names = service.changes_since(page.case_ctx, case, version)
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
        submitted = checked(self.schemas.close, _drop_empty(body), errors)
        return self._save(
            page,
            case_id,
            "efter",
            "close",
            fields,
            form,
            lambda: service.close_case(page.case_ctx, case_id, version, submitted),
            version,
            "avslutat",
        )

    def put_survey(self, case_id: uuid.UUID, page: PostPage, form: Form) -> Response:
        """Answers given by phone, on paper or in the meeting, typed in by the caseworker."""
        fields = self.forms(page).survey_fields()
        version = _version(form)
        body, errors = parse(fields, form)
        submitted = checked(self.schemas.survey_in, _drop_empty(body), errors)

        def put() -> Case:
            case = records.put_survey(page.case_ctx, case_id, version, submitted)
            survey_links.revoke_links(page.session, case_id)
            return case

        return self._save(
            page, case_id, "brukarenkat", "survey", fields, form, put, version, "enkat"
        )

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
                state.attach(_errors_of(refused))
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
                [FieldError("/reason", "unknown_code", "Välj en orsak.", "Choose a reason.")]
            )
            return self._refused(
                page, case_id, None, "exclusion", [], form, Refusal(error=error), None
            )
        _, refused = attempt(
            page.session,
            lambda: service.set_exclusion(
                page.case_ctx, case_id, version, None if include else reason
            ),
        )
        if refused is not None:
            return self._refused(
                page, case_id, None, "exclusion", [], form, Refusal(error=refused), version
            )
        message = "inkluderat" if include else "undantaget"
        return redirect(f"/arenden/{case_id}?meddelande={message}")


CLIENT = "Klienten (via enkätlänken)"
"""Who answered a survey on a one-time link, in the history."""

ACTION_LABELS = {
    CLIENT_ANSWER: "Brukarenkät besvarad av klienten",
    "create": "Registrerat",
    "update": "Ändrat",
    "close": "Avslutat",
    "delete": "Borttaget",
    "put": "Brukarenkät registrerad",
    "exclude": "Undantaget från statistiken",
    "include": "Räknas i statistiken igen",
}


def _errors_of(error: AppError) -> list[FieldError]:
    return list(error.errors) or [FieldError("", error.slug, error.detail, error.detail_en)]


def _missing_by_phase(checks: list[Any]) -> list[tuple[str, int, str]]:
    """(phase, how many, their labels) of what a case lacks, in phase order."""
    result = []
    for phase in PHASES:
        labels = [c.label.sv for c in checks if c.phase.value == phase]
        if labels:
            result.append((phase, len(labels), ", ".join(labels)))
    return result


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
