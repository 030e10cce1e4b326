"""End to end in a real browser (Debian's Chromium via Selenium) against the
app served by uvicorn on a fresh migrated database, both engines.

One person's day: sign in, register a case (first with four kinds of error
at once: a date in the future, a wrong check digit, an age that is not a
number and "Fysisk" with "Nej"; every error is shown next to its field and in
the summary, nothing typed is lost), follow the next step to före (values and
a risk assessment), under (an intervention, the same one again confirmed
after a warning, collaboration), close the case, open a one-time survey link
(copied with its button) that the client answers in Arabic (right to left),
see the link refused the second time, sign out; the coordinator downloads
the summary report (the page shows it being prepared, then ready).

``ISU_SCREENSHOTS=docs/screenshots`` also saves screenshots of the main pages.
"""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from app.clock import today
from app.db import make_engine
from app.models import Case, SurveyLink, SurveyResponse
from tests.web.live import LiveApp, chromium, serve

TIMEOUT = 10
IGNORED = (NoSuchElementException, StaleElementReferenceException)


@pytest.fixture
def live(fresh_database_url: str) -> Iterator[LiveApp]:
    with serve(fresh_database_url) as running:
        yield running


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with chromium(tmp_path / "downloads") as driver:
        driver.implicitly_wait(0)
        yield driver


class Page:
    """Small vocabulary over Selenium for the steps below."""

    def __init__(self, driver: webdriver.Chrome, live: LiveApp) -> None:
        self.driver = driver
        self.live = live
        target = os.environ.get("ISU_SCREENSHOTS")
        self.shots = Path(target) if target else None

    def open(self, path: str) -> None:
        self.driver.get(self.live.url + path)

    def wait(self) -> WebDriverWait[webdriver.Chrome]:
        # A page being replaced makes elements stale for a moment: look again.
        return WebDriverWait(self.driver, TIMEOUT, ignored_exceptions=IGNORED)

    def el(self, css: str) -> WebElement:
        return self.wait().until(lambda d: d.find_element(By.CSS_SELECTOR, css))

    def text(self) -> str:
        return str(self.el("body").text)

    def wait_for(self, condition: Callable[[webdriver.Chrome], object]) -> None:
        self.wait().until(condition)

    def type(self, field_id: str, value: str) -> None:
        element = self.el(f"#{field_id}")
        element.clear()
        element.send_keys(value)

    def date(self, field_id: str, value: str) -> None:
        # Date inputs take keystrokes in the browser's locale; set the value as a person's
        # date picker would.
        self.driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            self.el(f"#{field_id}"),
            value,
        )

    def choose(self, name: str, value: str, form: str = "form.form") -> None:
        self.el(f'{form} input[name="{name}"][value="{value}"]').click()

    def select(self, field_id: str, value: str) -> None:
        Select(self.el(f"#{field_id}")).select_by_value(value)

    def submit(self, form: str) -> None:
        self.el(f"{form} button[type=submit]").click()

    def shot(self, name: str) -> None:
        if self.shots is None:
            return
        self.shots.mkdir(parents=True, exist_ok=True)
        self.driver.execute_script("window.scrollTo(0, 0)")
        height = self.driver.execute_script("return document.body.scrollHeight")
        self.driver.set_window_size(1280, min(max(int(height), 800), 2400))
        self.driver.save_screenshot(str(self.shots / f"{name}.png"))
        self.driver.set_window_size(1280, 1000)

    def sign_in(self, username: str) -> None:
        self.open("/")
        self.wait_for(lambda d: "/logga-in" in d.current_url)
        self.type("f-username", username)
        self.type("f-password", self.live.password)
        self.submit("form.form")
        self.wait_for(lambda d: d.current_url.endswith("/arenden"))


def test_caseworker_day_and_coordinator_export(
    browser: webdriver.Chrome, live: LiveApp, fresh_database_url: str, tmp_path: Path
) -> None:
    page = Page(browser, live)
    page.open("/")
    page.shot("01-logga-in")

    # Sign in; the list of the unit's cases is empty.
    page.sign_in(live.caseworker)
    assert page.el(".result-count").text == "0 ärenden"

    # A new case with four kinds of error: all are shown after one save.
    page.el("a.button[href='/arenden/nytt']").click()
    page.type("f-client_id", "19121212-1213")  # wrong check digit
    page.date("f-actualised_on", (today() + timedelta(days=3)).isoformat())
    page.type("f-caseworker_ref", "HL-17")
    page.choose("values/sex", "1")
    page.type("f-values-age", "abc")
    # "Fysisk" and "Nej" together, as a browser without the script could send them.
    browser.execute_script(
        "document.querySelectorAll('input[name=\"values/disability\"]').forEach("
        "b => { b.checked = ['1', '4'].includes(b.value); });"
    )
    page.choose("values/contact_initiative", "1")
    page.choose("values/contact_initiative", "8")
    page.submit("form.form")
    summary = page.el(".error-summary")
    # The script moves the focus to the summary once the page has loaded.
    page.wait_for(lambda d: d.switch_to.active_element == summary)
    assert len(summary.find_elements(By.CSS_SELECTOR, "li")) == 4
    for field_id, text in (
        ("f-actualised_on", "framtiden"),
        ("f-client_id", "Kontrollsiffran"),
        ("f-values-age", "heltal"),
        ("f-values-disability", "kan inte kombineras"),
    ):
        assert text in page.el(f"#{field_id}-error").text
        assert text in summary.text
    # Nothing typed is lost.
    assert page.el("#f-client_id").get_attribute("value") == "19121212-1213"
    assert page.el("#f-caseworker_ref").get_attribute("value") == "HL-17"
    assert page.el('input[name="values/sex"][value="1"]').is_selected()
    assert page.el('input[name="values/contact_initiative"][value="8"]').is_selected()
    page.shot("02-nytt-arende-fel")

    # Exclusive options: "Nej" and another disability cannot both be chosen.
    page.choose("values/disability", "1")  # takes "Fysisk" away
    page.choose("values/disability", "1")  # and back: "Nej" goes
    assert not page.el('input[name="values/disability"][value="4"]').is_selected()
    page.choose("values/disability", "4")
    assert not page.el('input[name="values/disability"][value="1"]').is_selected()

    page.type("f-client_id", "19121212-1212")
    page.el("#f-values-age").clear()  # derived from the personnummer
    page.date("f-actualised_on", "2025-03-03")
    page.submit("form.form")
    page.wait_for(lambda d: "meddelande=skapat" in d.current_url)
    assert "Ärendet är registrerat" in page.text()
    case_url = browser.current_url.split("?")[0]
    case_path = case_url.removeprefix(live.url)
    assert page.el(".funnel-step.is-current").text.endswith("Aktualiserad")
    page.shot("03-arende-oversikt")

    # The next step after registering is före, not under.
    page.el(".next-step a").click()
    page.wait_for(lambda d: d.current_url.endswith(case_path + "/fas/fore"))

    # Före: the phase's values and a risk assessment.
    page.choose("values/perpetrator", "2")
    page.choose("values/honour_context", "2")
    page.choose("values/violence_severity", "2")
    page.choose("values/change_goal", "2")
    page.el("#f-values-perpetrator ~ label")  # the field is on the page
    page.submit(f'form[action="{case_path}/fas/fore"]')
    page.wait_for(lambda d: "meddelande=sparat" in d.current_url)
    risk = f'form[action="{case_path}/riskskattningar"]'
    page.date("f-assessed_on", "2025-03-04")
    page.choose("assessment_phase", "1", risk)
    page.choose("risk_instrument", "1", risk)
    page.choose("score", "3", risk)
    page.submit(risk)
    page.wait_for(lambda d: "meddelande=skattning" in d.current_url)
    assert "FREDA farlighetsbedömning" in page.text()
    page.shot("04-fore")

    # Under: an intervention and collaboration partners.
    page.open(case_path + "/fas/under")
    intervention = f'form[action="{case_path}/insatser"]'
    page.date("f-intervention_start_on", "2025-03-10")
    page.select("f-intervention_type", "4")
    page.choose("intervention_grounds", "2", intervention)
    page.submit(intervention)
    page.wait_for(lambda d: "meddelande=insats" in d.current_url)
    # The same intervention again on the same date: a warning, saved once confirmed.
    page.date("f-intervention_start_on", "2025-03-10")
    page.select("f-intervention_type", "4")
    page.submit(intervention)
    warning = page.el(".warning-summary")
    assert "Stödsamtal (enskilt)" in warning.text
    assert "2025-03-10" in warning.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.table tbody tr")) == 1  # not yet
    page.shot("12-varning")
    page.el(f'{intervention} button[name="bekrafta"]').click()
    page.wait_for(lambda d: "meddelande=insats" in d.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "table.table tbody tr")
    assert len(rows) == 2
    page.choose("values/collaboration", "5")
    page.choose("values/collaboration", "6")
    page.submit(f'form[action="{case_path}/fas/under"]')
    page.wait_for(lambda d: "meddelande=sparat" in d.current_url)
    assert page.el(".funnel-step.is-current").text.endswith("Fått insats")
    page.shot("05-under")

    # Efter: close the case.
    page.open(case_path + "/fas/efter")
    page.date("f-closed_on", "2025-09-30")
    page.choose("values/implementation", "1")
    page.choose("values/goal_followup", "1")
    page.choose("values/closing_reason", "1")
    page.submit(f'form[action="{case_path}/avsluta"]')
    page.wait_for(lambda d: "meddelande=avslutat" in d.current_url)
    assert page.el(".funnel-step.is-current").text.endswith("Måluppföljning angiven")

    # Brukarenkät: a one-time link with a QR code.
    page.open(case_path + "/fas/brukarenkat")
    page.submit(f'form[action="{case_path}/enkat/lank"]')
    link = page.el("#survey-url").get_attribute("value") or ""
    assert "/enkat/" in link
    qr = page.el("img.qr").get_attribute("src") or ""
    assert qr.startswith("data:image/svg+xml")
    copy = page.el('button[data-copy="survey-url"]')
    assert copy.is_displayed()  # shown where the browser can copy
    copy.click()
    page.wait_for(lambda d: page.el('[data-copy-status="survey-url"]').text != "")
    page.shot("06-enkatlank")

    # The client answers in Arabic, right to left, and sees nothing of the case.
    browser.delete_all_cookies()
    browser.get(link)
    page.shot("07-enkat-sprak")
    page.el('a[hreflang="ar"]').click()
    page.wait_for(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ar"
    body = page.text()
    assert "HL-17" not in body
    assert "2025-03-03" not in body
    importance = page.el('[data-applies-when="survey_violence_change"]')
    page.wait_for(lambda d: not importance.is_displayed())  # 203 waits for 202 to improve
    page.choose("survey_violence_change", "1")
    assert importance.is_displayed()
    page.choose("survey_support_importance", "4")
    page.choose("survey_positive", "1")
    page.choose("survey_influence", "4")
    page.shot("08-enkat-arabiska")
    page.submit("form.survey-form")
    page.wait_for(lambda d: "شكرًا" in d.find_element(By.TAG_NAME, "h1").text)
    browser.get(link)
    assert "Länken är redan använd" in page.el("h1").text

    # Back as the caseworker: the funnel is complete.
    page.sign_in(live.caseworker)
    page.open(case_path)
    assert page.el(".funnel-step.is-current").text.endswith("Brukarenkät genomförd")
    page.el("form[action='/logga-ut'] button").click()
    page.wait_for(lambda d: "utloggad=1" in d.current_url)

    # The coordinator downloads the summary report.
    page.sign_in(live.coordinator)
    assert page.el(".result-count").text == "1 ärende"
    page.shot("09-arenden")
    page.open("/datakvalitet")
    page.shot("10-datakvalitet")
    page.open("/export")
    page.date("fran", "2025-01-01")
    page.date("till", today().isoformat())
    page.shot("11-export")
    page.el('button[name="format"][value="xlsx"]').click()
    downloads = tmp_path / "downloads"
    deadline = time.monotonic() + 3 * TIMEOUT
    files: list[Path] = []
    while time.monotonic() < deadline:
        files = list(downloads.glob("*.xlsx")) if downloads.exists() else []
        if files and not list(downloads.glob("*.crdownload")):
            break
        time.sleep(0.1)
    name = f"isu-sammanstallning-2025-01-01-{today().isoformat()}.xlsx"
    assert [p.name for p in files] == [name]
    assert zipfile.is_zipfile(files[0])
    # Prepared with a spinner and the seconds so far, then said to be ready.
    status = page.el("[data-download-status]")
    page.wait_for(lambda _d: status.text.startswith("Klar:"))
    assert status.text.startswith(f"Klar: {name} (")
    assert status.get_attribute("role") == "status"

    # What landed in the database: the survey with language (Arabic) and mode (web).
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as conn:
            survey = conn.execute(select(SurveyResponse)).one()
            assert (survey.language_code, survey.mode_code) == (3, 4)
            assert survey.values["survey_violence_change"] == 1
            case = conn.execute(select(Case)).one()
            assert case.status == "brukarenkat_genomford"
            assert conn.execute(select(SurveyLink.used_at)).scalar_one() is not None
    finally:
        engine.dispose()
