"""A seeded, deterministic generator of whole synthetic cases.

Pure: a numpy Generator seeded from the configuration, no database, no clock
(the as-of date is a parameter). :func:`generate_cases` yields one dict per
case in the import line format (``docs/data.md``), streaming, so a million
cases need no more memory than a few thousand.

The distributions follow Kapitel 2 of the SU-Kvinnofrid report
(:mod:`app.synthetic.figures`, :mod:`app.synthetic.model`). Every generated
case satisfies the API's rules: aktualisering ≤ intervention starts ≤ avslut
≤ the as-of date, efter values and the survey only on closed cases, 203 only
when 202 is an improvement, adults only.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from statistics import NormalDist
from typing import Any

import numpy as np

from app.reference import municipalities
from app.synthetic import figures as F
from app.synthetic import model as M
from app.synthetic.identity import (
    SyntheticUnit,
    birth_date_for_age,
    municipality_weight,
    personnummer,
    serial_for,
    units_for,
)
from app.synthetic.sampling import (
    MultiChoice,
    SystematicDecks,
    Uniforms,
    Urn,
    Urns,
    bernoulli,
    calibrate_shares,
    inclusion_probabilities,
    normalise,
)

DEFAULT_CASES = F.FUNNEL["aktualiserade"]
DEFAULT_SEED = 20_231_231
DEFAULT_PERIOD_DAYS = 730
DEFAULT_FOLLOW_UP_DAYS = 90
MAX_INTERVENTION_TYPES = 10
PILOT_CASES = 12_000
PILOT_SEED = 1
PILOT_TODAY = date(2020, 1, 1)  # any date: the pilot's dates play no part in the fit

# Synthetic free text (rarely used), from the kinds of comments the report
# quotes; never anything about a person.
PERPETRATOR_OTHER_COMMENTS = (
    "Vän till klienten.",
    "Granne.",
    "Tillfällig relation.",
    "Före detta partners nya partner.",
    "Barnets partner.",
    "Våldsutövarens umgängeskrets.",
)
COLLABORATION_OTHER_COMMENTS = (
    "Familjerätten.",
    "Försäkringskassan.",
    "Hyresvärd.",
    "Budget- och skuldrådgivning.",
    "Arbetsförmedlingen.",
    "Migrationsverket.",
    "Kriminalvården.",
    "Målsägandebiträde.",
)
INTERVENTION_OTHER_COMMENTS = (
    "Stöd inför rättegång.",
    "Hjälp med skyddade personuppgifter.",
    "Stöd vid flytt.",
)
IMPLEMENTATION_OTHER_COMMENTS = (
    "Klienten har återtagit sin ansökan.",
    "Insatsen pågår i annan verksamhet.",
)
SURVEY_SUGGESTIONS = (
    "Längre stöd.",
    "Mer hjälp med boende.",
    "Hjälp att hitta en ny bostad.",
    "Stöd vid rättegång.",
    "Hjälp med andra myndighetskontakter.",
    "Fler samtal.",
    "Stöd att lära känna den nya staden.",
)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. Cases are opened evenly over ``period_days`` days that
    end ``follow_up_days`` before ``today`` and are followed until ``today``
    (interventions, closing, survey), like the report's compilation, which came
    after its registration period: with the report's durations, opening cases
    right up to the as-of date would leave too few closed."""

    today: date
    cases: int = DEFAULT_CASES
    seed: int = DEFAULT_SEED
    period_days: int = DEFAULT_PERIOD_DAYS
    follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS
    municipalities: tuple[str, ...] | None = None
    """Municipality codes (cases spread by adult population); None: all."""
    returning_share: float = 0.08
    """Share of cases whose client had an earlier, closed case (re-aktualisering)."""

    @property
    def period_start(self) -> date:
        return self.period_end - timedelta(days=self.period_days - 1)

    @property
    def period_end(self) -> date:
        return self.today - timedelta(days=self.follow_up_days)


@dataclass
class Client:
    client_id: str
    kind: str
    sex: int | None
    birth: date | None
    origin: int | None
    estimated_age: bool


@dataclass
class Profile:
    """Everything about a case that the number of interventions depends on."""

    index: int
    municipality: str
    unit: SyntheticUnit
    unit_index: int
    actualised: date
    client: Client
    returning: bool
    honour: int | None
    sex: int | None
    band: int
    age: int
    origin: int | None
    disability: list[int] | None
    contact: list[int] | None
    child_followup: list[int] | None
    perpetrator: list[int] | None
    severity: int | None
    change_goal: int | None
    risk: tuple[int, ...] | None
    closed: date | None
    reason: int | None
    has_intervention: bool
    goal: int | None
    survey: bool
    values: dict[str, Any] = field(default_factory=dict)


def generate_cases(config: GeneratorConfig) -> Iterator[dict[str, Any]]:
    """The cases of ``config``, one import line (a dict) at a time."""
    return CaseGenerator(config).lines()


def _lognormal_multipliers(n: int = 16, sigma: float = 0.45) -> list[float]:
    normal = NormalDist()
    values = [math.exp(sigma * normal.inv_cdf((j + 0.5) / n)) for j in range(n)]
    mean = sum(values) / n
    return [v / mean for v in values]


MULTIPLIERS = _lognormal_multipliers()


@dataclass(frozen=True)
class Calibration:
    """Per-group multipliers of the intervention rate (Diagram 10) and the
    type shares per group (Diagram 9), fitted on a pilot sample."""

    base: float
    factors: dict[str, float]
    shares_hrv: list[float]
    shares_rest: list[float]
    type_codes: list[int]
    achieved: dict[str, float]


def _groups(p: Profile, assessed: bool) -> list[str]:
    groups = []
    if p.honour == 1:
        groups.append("hrv")
    if p.honour == 2:
        groups.append("not_hrv")
    if p.origin == 4:
        groups.append("born_outside_europe")
    if p.origin == 1:
        groups.append("born_in_sweden")
    if p.band == 0:
        groups.append("age_18_24")
    if p.band == 5:
        groups.append("age_65_74")
    if p.severity == 3:
        groups.append("very_severe")
    if p.severity == 1:
        groups.append("not_severe")
    groups.append("risk_assessed" if assessed else "not_risk_assessed")
    if p.disability and 3 in p.disability:
        groups.append("intellectual_disability")
    if p.goal == 1:
        groups.append("goal_achieved")
    return groups


@cache
def calibration(period_days: int, follow_up_days: int) -> Calibration:
    """Fit the intervention model on a pilot sample of profiles (fixed seed, so
    the fit is the same for every generated file with this period)."""
    pilot = CaseGenerator(
        GeneratorConfig(
            today=PILOT_TODAY,
            cases=PILOT_CASES,
            seed=PILOT_SEED,
            period_days=period_days,
            follow_up_days=follow_up_days,
        ),
        pilot=True,
    )
    profiles = [p for p in (pilot.profile(i) for i in range(PILOT_CASES)) if p.has_intervention]
    names = [k for k in F.MEAN_INTERVENTIONS if k != "overall"]
    memberships = [set(_groups(p, p.risk is not None)) for p in profiles]
    member = np.array([[name in groups for name in names] for groups in memberships], dtype=bool)
    log_factors = np.zeros(len(names))
    # Diagram 9's shares add up to 2.43 interventions per case, printed as 2,4.
    overall = sum(F.INTERVENTIONS.values()) / 100
    base = overall
    targets = np.array([F.MEAN_INTERVENTIONS[n] for n in names])
    z = np.array(MULTIPLIERS)

    def expected(rates: np.ndarray) -> np.ndarray:
        clipped = np.clip(rates[:, None] * z[None, :], 1.0, MAX_INTERVENTION_TYPES)
        return np.asarray(clipped.mean(axis=1), dtype=float)

    for _ in range(60):
        for j in range(len(names)):
            rates = base * np.exp(member @ log_factors)
            mean = expected(rates[member[:, j]]).mean()
            log_factors[j] += 0.8 * math.log(targets[j] / mean)
        rates = base * np.exp(member @ log_factors)
        base *= overall / expected(rates).mean()
    rates = base * np.exp(member @ log_factors)
    counts = expected(rates)
    achieved = {n: float(counts[member[:, j]].mean()) for j, n in enumerate(names)}
    achieved["overall"] = float(counts.mean())

    # Type shares: the HRV group's own profile, the rest so that all together
    # reproduce Diagram 9.
    hrv = np.array([p.honour == 1 for p in profiles])
    sizes_hrv = _size_distribution(rates[hrv])
    sizes_rest = _size_distribution(rates[~hrv])
    codes = sorted(set(F.INTERVENTIONS) | set(F.INTERVENTIONS_HRV))
    mean_all = float(counts.mean())
    mean_hrv = float(counts[hrv].mean())
    mean_rest = float(counts[~hrv].mean())
    n_hrv, n_rest = int(hrv.sum()), int((~hrv).sum())
    total_published = sum(F.INTERVENTIONS.values())
    total_hrv = sum(F.INTERVENTIONS_HRV.values())
    target_all = [F.INTERVENTIONS.get(c, 0.0) / total_published * mean_all for c in codes]
    target_hrv = [F.INTERVENTIONS_HRV.get(c, 0.0) / total_hrv * mean_hrv for c in codes]
    target_rest = [
        max(0.0, (a * (n_hrv + n_rest) - h * n_hrv) / n_rest)
        for a, h in zip(target_all, target_hrv, strict=True)
    ]
    scale = mean_rest / sum(target_rest)
    target_rest = [t * scale for t in target_rest]
    return Calibration(
        base=float(base),
        factors={n: float(math.exp(f)) for n, f in zip(names, log_factors, strict=True)},
        shares_hrv=calibrate_shares(target_hrv, sizes_hrv),
        shares_rest=calibrate_shares(target_rest, sizes_rest),
        type_codes=codes,
        achieved=achieved,
    )


def _size_distribution(rates: np.ndarray) -> dict[int, float]:
    """The distribution of the number of types for cases with these rates."""
    sizes: dict[int, float] = {}
    for rate in rates.tolist():
        for z in MULTIPLIERS:
            x = max(1.0, min(float(MAX_INTERVENTION_TYPES), rate * z))
            low = math.floor(x)
            frac = x - low
            sizes[low] = sizes.get(low, 0.0) + (1 - frac)
            if frac > 0:
                sizes[low + 1] = sizes.get(low + 1, 0.0) + frac
    return sizes


class CaseGenerator:
    def __init__(self, config: GeneratorConfig, *, pilot: bool = False) -> None:
        if config.cases < 0:
            raise ValueError("cases must be zero or more")
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.u = Uniforms(self.rng)
        self.model = model = M.Model(config.period_days, config.follow_up_days)
        rng, u = self.rng, self.u
        self._calibration = (
            None if pilot else calibration(config.period_days, config.follow_up_days)
        )

        codes = config.municipalities or tuple(sorted(municipalities()))
        unknown = [c for c in codes if c not in municipalities()]
        if unknown:
            raise ValueError("unknown municipality code")
        weights = [float(municipality_weight(c)) for c in codes]
        self._municipalities = list(codes)
        self._municipality_cumulative = np.cumsum(normalise(weights)).tolist()
        self._units = {c: units_for(c) for c in codes}
        self._unit_cumulative = {
            c: np.cumsum(normalise([x.weight for x in units])).tolist()
            for c, units in self._units.items()
        }
        self._used_ids: dict[str, set[str]] = {c: set() for c in codes}
        self._local_counter: dict[str, int] = dict.fromkeys(codes, 0)
        self._former: dict[str, list[tuple[int, Client]]] = {c: [] for c in codes}

        def registered(dist: dict[Any, float], share: float) -> dict[Any, float]:
            scaled: dict[Any, float] = {
                k: v * share for k, v in zip(dist, normalise(list(dist.values())), strict=True)
            }
            scaled[None] = 1.0 - share
            return scaled

        reg = M._registered
        self.returning = Urn(bernoulli(config.returning_share), rng)
        self.honour: Urn[int | None] = Urn(registered(F.HONOUR, reg("honour_context")), rng)
        self.sex: Urn[int | None] = Urn(registered(F.SEX, reg("sex")), rng)
        self.band: Urns[int] = Urns(
            {
                True: dict(enumerate(F.AGE_HRV)),
                False: dict(enumerate(model.age_rest)),
            },
            rng,
        )
        self.origin: Urns[int | None] = Urns(
            {
                True: registered(F.ORIGIN_HRV, reg("origin")),
                False: registered(model.origin_rest, reg("origin")),
            },
            rng,
        )
        self.id_kind: Urn[str] = Urn(M.CLIENT_ID_KIND, rng)
        self.estimated_age = Urn(bernoulli(0.77), rng)
        self.disability_kind: Urn[str | None] = Urn(
            registered(
                {
                    "none": 100 - F.DISABILITY_DONT_KNOW - 21.0,
                    "dont_know": F.DISABILITY_DONT_KNOW,
                    "any": 21.0,
                },
                M.DISABILITY_REGISTERED,
            ),
            rng,
        )
        disability_mean = sum(F.DISABILITY.values()) / 21.0
        self.disability = MultiChoice(
            F.DISABILITY, {1: 2 - disability_mean, 2: disability_mean - 1}, rng, u
        )
        contact_mean = sum(F.CONTACT_INITIATIVE.values()) / 100
        self.contact_registered = Urn(bernoulli(M.CONTACT_REGISTERED), rng)
        self.contact = MultiChoice(
            F.CONTACT_INITIATIVE, {1: 2 - contact_mean, 2: contact_mean - 1}, rng, u, urn_size=400
        )
        self.child_registered = Urn(bernoulli(M.CHILD_FOLLOWUP_REGISTERED), rng)
        self.child = MultiChoice(
            M.CHILD_FOLLOWUP,
            {0: M.CHILD_FOLLOWUP_NONE, 1: 0.3, 2: 0.17, 3: 0.08},
            rng,
            u,
        )
        self.perpetrator_registered = Urn(bernoulli(reg("perpetrator")), rng)
        self.perpetrator_main: Urns[int] = Urns(
            {
                "hrv": M.PERPETRATOR_MAIN_HRV,
                "man": M.PERPETRATOR_MAIN_MEN,
                "woman": model.perpetrator_women,
            },
            rng,
            size=200,
        )
        addons: dict[Hashable, dict[int | None, float]] = {
            main: _or_none(extras) for main, extras in M.PERPETRATOR_ADDONS.items()
        }
        self.perpetrator_addon: Urns[int | None] = Urns(addons, rng)
        self.severity: Urns[int | None] = Urns(
            {
                "hrv_young": registered(F.SEVERITY_HRV, reg("violence_severity")),
                "hrv_old": registered(F.SEVERITY_HRV, reg("violence_severity")),
                "young": registered(model.severity_young, reg("violence_severity")),
                "old": registered(model.severity_old, reg("violence_severity")),
            },
            rng,
        )
        self.change_goal: Urn[int | None] = Urn(
            registered(M.CHANGE_GOAL, M.CHANGE_GOAL_REGISTERED), rng
        )
        self.risk_assessed: Urns[bool] = Urns(
            {key: bernoulli(rate) for key, rate in model.risk_rate.items()}, rng
        )
        self.risk_combination: Urns[tuple[int, ...]] = Urns(
            {"man": M.RISK_COMBINATIONS_MEN, "woman": model.risk_women}, rng, size=400
        )
        closure = model.closure
        self.will_close = Urn(bernoulli(closure.will_close), rng, size=1000)
        self.duration_bin: Urn[int] = Urn(closure.latent_bins, rng, size=1000)
        self.reason_registered = Urn(
            bernoulli(F.FUNNEL["avslutsorsak"] / F.FUNNEL["avslutade"]), rng, size=1000
        )
        # Few cases last long: smaller decks keep Diagram 17's shares there too.
        self.reason: list[Urn[int]] = [
            Urn(dist, rng, size=100 if b < 3 else 50) for b, dist in enumerate(M.reason_by_bin())
        ]
        self.has_intervention: Urns[bool] = Urns(
            {
                **{key: bernoulli(rate) for key, rate in model.intervention_rate.items()},
                "open": bernoulli(model.intervention_rate_open),
            },
            rng,
        )
        self.goal_registered: Urns[bool] = Urns(
            {key: bernoulli(rate) for key, rate in model.goal_registered.items()}, rng
        )
        self.goal: Urns[int] = Urns(
            {"reached": M.GOAL_WHEN_REACHED, "other": model.goal_other}, rng
        )
        self.survey: Urns[bool] = Urns(
            {
                "reached": bernoulli(M.SURVEY_WHEN_GOAL_REACHED),
                "other": bernoulli(model.survey_other_rate),
            },
            rng,
        )
        # The rest is not needed for the pilot, but is cheap to set up.
        # Per group, the rate multipliers and the rounding of rate x multiplier
        # come from decks, so each group's mean number of interventions is
        # close to its target even in small groups (Diagram 10).
        keys = [
            *MULTIPLIER_KEYS_EXTRA,
            *((hrv, band) for hrv in (True, False) for band in range(len(F.AGE))),
        ]
        self.multiplier: Urns[float] = Urns(
            {key: dict.fromkeys(MULTIPLIERS, 1.0) for key in keys}, rng, size=len(MULTIPLIERS)
        )
        steps = len(MULTIPLIERS)
        self.rounding: Urns[float] = Urns(
            {key: {(j + 0.5) / steps: 1.0 for j in range(steps)} for key in keys}, rng, size=steps
        )
        self.collaboration_registered = Urn(
            bernoulli(F.COLLABORATION_REGISTERED / M.N_ALL), rng, size=1000
        )
        self.collaboration = MultiChoice(
            F.COLLABORATION,
            {k: v for k, v in F.COLLABORATION_COUNT.items() if k > 0},
            rng,
            u,
        )
        self.collaboration_count: Urn[int] = Urn(F.COLLABORATION_COUNT, rng)
        self.implementation_registered = Urn(bernoulli(M.IMPLEMENTATION_REGISTERED), rng)
        self.implementation: Urns[int] = Urns(
            {
                "reached": M.IMPLEMENTATION_WHEN_REACHED,
                "left": M.IMPLEMENTATION_WHEN_LEFT,
                "other": model.implementation_other,
            },
            rng,
        )
        answered = F.SURVEY_ANSWERED
        self.survey_change_answered = Urn(
            bernoulli(answered["survey_violence_change"] / F.FUNNEL["brukarenkat"]), rng
        )
        self.survey_change: Urns[int] = Urns(
            {"reached": M.SURVEY_CHANGE_WHEN_GOAL_REACHED, "other": model.survey_change_other},
            rng,
        )
        self.survey_importance_answered = Urn(bernoulli(M.SURVEY_IMPORTANCE_ANSWERED), rng)
        self.survey_importance: Urn[int] = Urn(F.SURVEY_IMPORTANCE, rng)
        self.survey_positive_answered = Urn(bernoulli(M.SURVEY_POSITIVE_ANSWERED), rng)
        self.survey_positive: Urn[int] = Urn(M.SURVEY_POSITIVE, rng)
        self.survey_influence_answered = Urn(
            bernoulli(answered["survey_influence"] / F.FUNNEL["brukarenkat"]), rng
        )
        self.survey_influence: Urn[int] = Urn(F.SURVEY_INFLUENCE, rng)
        self.survey_language: Urn[int] = Urn(M.SURVEY_LANGUAGE, rng)
        self.survey_mode: Urn[int] = Urn(M.SURVEY_MODE, rng)
        self._type_tables: dict[tuple[bool, int], list[float]] = {}
        self.type_decks = SystematicDecks(
            len(self._calibration.type_codes) if self._calibration else 0, rng, u
        )

    # --- the stream -----------------------------------------------------------

    def lines(self) -> Iterator[dict[str, Any]]:
        for i in range(self.config.cases):
            yield self.complete(self.profile(i))

    # --- a case's profile -----------------------------------------------------

    def _pick(self, cumulative: list[float]) -> int:
        return min(bisect.bisect_right(cumulative, self.u()), len(cumulative) - 1)

    def _actualised(self, i: int) -> date:
        """Cases spread evenly over the period (stratified: one per slot)."""
        days = self.config.period_days
        offset = min(int((i + self.u()) * days / max(self.config.cases, 1)), days - 1)
        return self.config.period_start + timedelta(days=offset)

    def profile(self, i: int) -> Profile:
        u = self.u
        config = self.config
        municipality = self._municipalities[self._pick(self._municipality_cumulative)]
        unit_index = self._pick(self._unit_cumulative[municipality])
        unit = self._units[municipality][unit_index]
        actualised = self._actualised(i)
        honour = self.honour.draw()
        hrv = honour == 1

        former = self._returning_client(municipality, actualised) if self.returning.draw() else None
        if former is not None:
            client = former
            sex = client.sex
            origin = client.origin
            if client.birth is not None:
                age = _age_on(client.birth, actualised)
            else:
                age = self._age_in_band(self.band.draw(hrv))
            band = _band_of(age)
        else:
            sex = self.sex.draw()
            band = self.band.draw(hrv)
            age = self._age_in_band(band)
            origin = self.origin.draw(hrv)
            client = self._new_client(municipality, sex, age, origin, actualised)

        disability = self._disability()
        contact = self.contact.draw() if self.contact_registered.draw() else None
        child = self.child.draw() if self.child_registered.draw() else None
        perpetrator = self._perpetrator(hrv, sex) if self.perpetrator_registered.draw() else None
        severity = self.severity.draw(("hrv_" if hrv else "") + ("young" if band == 0 else "old"))
        change_goal = self.change_goal.draw()
        risk = (
            self.risk_combination.draw("man" if sex == 2 else "woman")
            if self.risk_assessed.draw((hrv, severity))
            else None
        )

        closed: date | None = None
        if self.will_close.draw():
            low, high = M.ClosureModel.bin_days(self.duration_bin.draw())
            duration = u.between(low, high)
            end = actualised + timedelta(days=duration)
            if end <= config.today:
                closed = end
        reason: int | None = None
        goal: int | None = None
        survey = False
        if closed is not None:
            b = min((closed - actualised).days // F.DURATION_BIN_DAYS, len(F.DURATION_BINS) - 1)
            reason = self.reason[b].draw() if self.reason_registered.draw() else None
            if self.goal_registered.draw(change_goal):
                goal = self.goal.draw("reached" if reason == 1 else "other")
            survey = self.survey.draw("reached" if goal == 1 else "other")
            has_intervention = self.has_intervention.draw(reason)
        else:
            has_intervention = self.has_intervention.draw("open")
        profile = Profile(
            index=i,
            municipality=municipality,
            unit=unit,
            unit_index=unit_index,
            actualised=actualised,
            client=client,
            returning=former is not None,
            honour=honour,
            sex=sex,
            band=band,
            age=age,
            origin=origin,
            disability=disability,
            contact=contact,
            child_followup=child,
            perpetrator=perpetrator,
            severity=severity,
            change_goal=change_goal,
            risk=risk,
            closed=closed,
            reason=reason,
            has_intervention=has_intervention,
            goal=goal,
            survey=survey,
        )
        if closed is not None:
            self._former[municipality].append((closed.toordinal(), client))
        return profile

    def _age_in_band(self, band: int) -> int:
        low, high = F.AGE_BANDS[band]
        if band == len(F.AGE_BANDS) - 1:
            # Fewer of the oldest: a triangular spread from 75 upwards.
            span = high - low + 1
            return low + min(int(span * (1 - math.sqrt(1 - self.u()))), span - 1)
        return self.u.between(low, high)

    def _returning_client(self, municipality: str, actualised: date) -> Client | None:
        """A client of a recent case of the municipality that closed before this
        one opened (a few random probes; None when there is none). The client
        leaves the pool until this new case closes: one open case at a time."""
        pool = self._former[municipality]
        if len(pool) > 4000:
            del pool[:-2000]
        day = actualised.toordinal()
        for _ in range(min(len(pool), 20)):
            index = len(pool) - 1 - self.u.below(min(len(pool), 2000))
            closed, client = pool[index]
            if closed < day:
                pool[index] = pool[-1]
                pool.pop()
                return client
        return None

    def _new_client(
        self, municipality: str, sex: int | None, age: int, origin: int | None, on: date
    ) -> Client:
        kind = self.id_kind.draw()
        used = self._used_ids[municipality]
        if kind == "local":
            self._local_counter[municipality] += 1
            code = f"LOKAL-{municipality}-{self._local_counter[municipality]:07d}"
            return Client(code, kind, sex, None, origin, self.estimated_age.draw())
        for _ in range(50):
            birth = birth_date_for_age(age, on, self.u)
            code = personnummer(
                birth, serial_for(sex, self.u), samordning=kind == "samordningsnummer"
            )
            if code not in used:
                used.add(code)
                return Client(code, kind, sex, birth, origin, False)
        raise RuntimeError("no free synthetic identifier")  # pragma: no cover

    def _disability(self) -> list[int] | None:
        kind = self.disability_kind.draw()
        if kind is None:
            return None
        if kind == "none":
            return [4]
        if kind == "dont_know":
            return [5]
        return self.disability.draw()

    def _perpetrator(self, hrv: bool, sex: int | None) -> list[int]:
        main = self.perpetrator_main.draw("hrv" if hrv else ("man" if sex == 2 else "woman"))
        extra = self.perpetrator_addon.draw(main)
        return sorted({main, extra} - {None})  # type: ignore[arg-type]

    # --- the rest of the case -------------------------------------------------

    def complete(self, p: Profile) -> dict[str, Any]:
        u = self.u
        today = self.config.today
        end = p.closed or today
        window = (end - p.actualised).days
        values: dict[str, Any] = {}
        comments: dict[str, str] = {}
        if p.sex is not None:
            values["sex"] = p.sex
        if p.client.birth is None and p.client.estimated_age:
            values["age"] = p.age
            values["age_basis"] = 2
        if p.disability is not None:
            values["disability"] = p.disability
        if p.origin is not None:
            values["origin"] = p.origin
        if p.child_followup is not None:
            values["child_followup"] = p.child_followup
        if p.contact is not None:
            values["contact_initiative"] = p.contact
        if p.perpetrator is not None:
            values["perpetrator"] = p.perpetrator
            if 6 in p.perpetrator and u.chance(0.3):
                comments["perpetrator"] = _choice(PERPETRATOR_OTHER_COMMENTS, u)
        if p.honour is not None:
            values["honour_context"] = p.honour
        if p.severity is not None:
            values["violence_severity"] = p.severity
        if p.change_goal is not None:
            values["change_goal"] = p.change_goal
        if self.collaboration_registered.draw():
            partners = self.collaboration.draw(self.collaboration_count.draw())
            values["collaboration"] = partners
            if 9 in partners and u.chance(0.5):
                comments["collaboration"] = _choice(COLLABORATION_OTHER_COMMENTS, u)

        line: dict[str, Any] = {
            "source_ref": f"SYN-{p.municipality}-{p.index + 1:07d}",
            "municipality": p.municipality,
            "unit": p.unit.name,
            "unit_kind": p.unit.kind_code,
        }
        if p.unit.district is not None:
            line["district"] = p.unit.district
        line.update(
            {
                "client_id": p.client.client_id,
                "actualised_on": p.actualised.isoformat(),
                "caseworker_ref": f"hl-{p.municipality}-{p.unit_index + 1}{u.between(1, 6)}",
                "values": values,
            }
        )
        if comments:
            line["comments"] = comments
        line["interventions"] = self._interventions(p, window) if p.has_intervention else []
        line["risk_assessments"] = self._risk_assessments(p, window)
        line["close"] = self._close(p) if p.closed is not None else None
        line["survey"] = self._survey(p) if p.survey else None
        return line

    def _interventions(self, p: Profile, window: int) -> list[dict[str, Any]]:
        cal = self._calibration
        assert cal is not None
        u = self.u
        rate = cal.base
        for group in _groups(p, p.risk is not None):
            rate *= cal.factors.get(group, 1.0)
        key = _multiplier_key(p)
        x = rate * self.multiplier.draw(key)
        x = max(1.0, min(float(MAX_INTERVENTION_TYPES), x))
        k = math.floor(x) + (1 if self.rounding.draw(key) < x - math.floor(x) else 0)
        k = max(1, min(MAX_INTERVENTION_TYPES, k))
        hrv = p.honour == 1
        table = self._type_tables.get((hrv, k))
        if table is None:
            shares = cal.shares_hrv if hrv else cal.shares_rest
            table = self._type_tables[(hrv, k)] = inclusion_probabilities(shares, k)
        types = [cal.type_codes[j] for j in self.type_decks.sample((hrv, k), table)]
        records = []
        first = min(window, _geometric(u, 7.0))
        for n, code in enumerate(types):
            start = first if n == 0 else u.between(first, min(window, first + 150))
            records.append(self._intervention(p, code, start))
        if types and u.chance(0.05):
            # The same kind of support again later (a separate record).
            code = types[u.below(len(types))]
            records.append(self._intervention(p, code, u.between(first, window)))
        records.sort(key=lambda r: (r["intervention_start_on"], r["intervention_type"]))
        return records

    def _intervention(self, p: Profile, code: int, offset: int) -> dict[str, Any]:
        u = self.u
        record: dict[str, Any] = {
            "intervention_start_on": (p.actualised + timedelta(days=offset)).isoformat(),
            "intervention_type": code,
        }
        if u.chance(0.97):
            with_decision = code in (2, 10, 13, 14, 16, 17)
            r = u()
            if with_decision:
                record["intervention_grounds"] = 1 if r < 0.9 else (2 if r < 0.97 else 3)
            else:
                record["intervention_grounds"] = 1 if r < 0.35 else (2 if r < 0.93 else 3)
        if code == 19 and u.chance(0.3):
            record["comments"] = {"intervention_type": _choice(INTERVENTION_OTHER_COMMENTS, u)}
        return record

    def _risk_assessments(self, p: Profile, window: int) -> list[dict[str, Any]]:
        if p.risk is None:
            return []
        u = self.u
        records = []
        for instrument in p.risk:
            offset = min(window, _geometric(u, 5.0))
            score = self._initial_score(p.severity)
            dates = [offset]
            if window - offset > 30 and u.chance(0.35):
                dates.append(u.between(offset + 30, min(window, offset + 150)))
                if p.closed is not None and window - dates[-1] > 14 and u.chance(0.3):
                    dates.append(window)
            for n, day in enumerate(dates):
                if n > 0:
                    # Repeated assessments rarely change (text p. 51).
                    r = u()
                    step = 0 if r < 0.42 else (-1 if r < 0.77 else 1)
                    score = min(3, max(1, score + step))
                phase = 1 if n == 0 else (3 if p.closed is not None and day == window else 2)
                record: dict[str, Any] = {
                    "assessed_on": (p.actualised + timedelta(days=day)).isoformat(),
                    "assessment_phase": phase,
                    "risk_instrument": instrument,
                }
                if not (instrument == 6 and u.chance(0.15)):
                    record["score"] = score
                records.append(record)
        records.sort(key=lambda r: (r["assessed_on"], r["risk_instrument"]))
        return records

    def _initial_score(self, severity: int | None) -> int:
        weights = {1: (60, 30, 10), 2: (30, 45, 25), 3: (15, 35, 50)}.get(
            severity or 0, (40, 40, 20)
        )
        r = self.u() * 100
        return 1 if r < weights[0] else (2 if r < weights[0] + weights[1] else 3)

    def _close(self, p: Profile) -> dict[str, Any]:
        assert p.closed is not None
        values: dict[str, Any] = {}
        comments: dict[str, str] = {}
        if p.reason is not None:
            values["closing_reason"] = p.reason
        if p.goal is not None:
            values["goal_followup"] = p.goal
        if p.has_intervention and self.implementation_registered.draw():
            key = "reached" if p.reason == 1 else ("left" if p.reason in (3, 4) else "other")
            implementation = self.implementation.draw(key)
            values["implementation"] = implementation
            if implementation == 4 and self.u.chance(0.4):
                comments["implementation"] = _choice(IMPLEMENTATION_OTHER_COMMENTS, self.u)
        close: dict[str, Any] = {"closed_on": p.closed.isoformat(), "values": values}
        if comments:
            close["comments"] = comments
        return close

    def _survey(self, p: Profile) -> dict[str, Any]:
        assert p.closed is not None
        u = self.u
        answered = min(p.closed + timedelta(days=u.between(0, 14)), self.config.today)
        survey: dict[str, Any] = {
            "answered_on": answered.isoformat(),
            "language": self.survey_language.draw(),
            "mode": self.survey_mode.draw(),
        }
        if self.survey_change_answered.draw():
            change = self.survey_change.draw("reached" if p.goal == 1 else "other")
            survey["survey_violence_change"] = change
            if change in (1, 2) and self.survey_importance_answered.draw():
                survey["survey_support_importance"] = self.survey_importance.draw()
        if self.survey_positive_answered.draw():
            survey["survey_positive"] = self.survey_positive.draw()
        if self.survey_influence_answered.draw():
            survey["survey_influence"] = self.survey_influence.draw()
        if u.chance(M.SURVEY_SUGGESTIONS):
            survey["survey_suggestions"] = _choice(SURVEY_SUGGESTIONS, u)
        return survey


MULTIPLIER_KEYS_EXTRA: tuple[str, ...] = ("intellectual_disability", "goal_achieved")


def _multiplier_key(p: Profile) -> Hashable:
    if p.disability and 3 in p.disability:
        return "intellectual_disability"
    if p.goal == 1:
        return "goal_achieved"
    return (p.honour == 1, p.band)


def _or_none(extras: dict[int, float]) -> dict[int | None, float]:
    """Add-on perpetrators and, as ``None``, the chance of none."""
    result: dict[int | None, float] = {None: 1 - sum(extras.values())}
    for code, p in extras.items():
        result[code] = p
    return result


def _choice(options: tuple[str, ...], u: Uniforms) -> str:
    return options[u.below(len(options))]


def _geometric(u: Uniforms, mean: float) -> int:
    """Days until something happens, mostly soon (mean about ``mean``)."""
    return int(-mean * math.log(1.0 - u()))


def _age_on(birth: date, day: date) -> int:
    had_birthday = (day.month, day.day) >= (birth.month, birth.day)
    return day.year - birth.year - (0 if had_birthday else 1)


def _band_of(age: int) -> int:
    for b, (low, high) in enumerate(F.AGE_BANDS):
        if low <= age <= high:
            return b
    return len(F.AGE_BANDS) - 1
