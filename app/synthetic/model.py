"""Derived distributions: the published figures turned into the conditional
distributions the generator draws from.

Where the report gives a figure for the whole population and for one group
(e.g. age overall and for honour-related cases), the rest of the population
gets the distribution that makes the mixture reproduce the published total
(:func:`~app.synthetic.sampling.mixture_rest`). Everything here is
deterministic; nothing draws random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np

from app.synthetic import figures as F
from app.synthetic.sampling import mixture_rest, normalise

N_ALL = F.FUNNEL["aktualiserade"]
Dist = dict[int, float]

# Perpetrator: one main perpetrator per case, sometimes one more (an add-on).
# Codes: 1 current partner, 2 former partner, 3 parent, 4 other relative,
# 5 child, 6 other. Add-on probabilities (assumed) by main perpetrator.
PERPETRATOR_ADDONS: Final[dict[int, dict[int, float]]] = {
    1: {6: 0.06, 2: 0.02, 3: 0.015, 5: 0.01},
    2: {6: 0.06, 1: 0.02, 4: 0.02, 5: 0.015},
    3: {4: 0.50, 6: 0.05},
    4: {3: 0.30},
    5: {6: 0.10},
    6: {},
}
# Main perpetrator in honour-related cases (more parents, fewer partners; text
# p. 47) and for men outside the honour context (more parents and "other";
# text p. 49). Assumed shares.
PERPETRATOR_MAIN_HRV: Final[Dist] = {1: 0.30, 2: 0.27, 3: 0.35, 4: 0.0, 5: 0.02, 6: 0.06}
PERPETRATOR_MAIN_MEN: Final[Dist] = {1: 0.25, 2: 0.40, 3: 0.17, 4: 0.0, 5: 0.06, 6: 0.12}

# Risk instruments, as combinations per assessed case (Diagram 27): FREDA and
# conversation without a method together in about 5 % of cases.
RISK_COMBINATIONS: Final[dict[tuple[int, ...], float]] = {
    (1,): 48.65,
    (6,): 42.65,
    (1, 6): 5.35,
    (2,): 1.0,
    (3,): 1.0,
    (5,): 1.0,
    (4,): 0.35,
}
# Men are assessed with FREDA less often (text p. 49); assumed shares.
RISK_COMBINATIONS_MEN: Final[dict[tuple[int, ...], float]] = {
    (1,): 30.0,
    (6,): 58.0,
    (1, 6): 4.0,
    (2,): 2.0,
    (3,): 1.0,
    (5,): 4.0,
    (4,): 1.0,
}
# Assessed more often when the violence is very severe (text p. 50); relative
# rates outside the honour context, scaled to the published total.
RISK_BY_SEVERITY: Final[dict[int | None, float]] = {1: 0.80, 2: 1.0, 3: 1.30, None: 0.72}

# Closing reasons outside Diagram 17's three (2 utredning utan insats, 7 andra
# orsaker, 5 flyttat, 6 avlidit), and the share of the three by duration bin.
OTHER_REASONS: Final[Dist] = {2: 8.0, 7: 7.0, 5: 6.0, 6: 0.3}
ABC_SHARE_BY_BIN: Final = (0.74, 0.80, 0.85, 0.88, 0.90, 0.90, 0.90, 0.90)
REASON_LONG: Final[Dist] = {1: 80.0, 3: 10.0, 4: 10.0}
# Share of cases with at least one intervention, by closing reason (assumed;
# open cases get the rate that reproduces Diagram 1's 2 623 of 3 070).
INTERVENTION_BY_REASON: Final[dict[int | None, float]] = {
    1: 0.99,
    3: 0.85,
    4: 0.82,
    2: 0.45,
    7: 0.90,
    5: 0.90,
    6: 0.90,
    None: 0.85,
}
# Goal follow-up: registered less often without a goal (text p. 25), by 110.
GOAL_REGISTERED_BY_CHANGE_GOAL: Final[dict[int | None, float]] = {
    2: 0.92,
    1: 0.45,
    3: 0.70,
    None: 0.75,
}
GOAL_WHEN_REACHED: Final[Dist] = {1: 65.0, 2: 25.0, 3: 2.0, 4: 1.0, 5: 7.0}
# Implementation by closing reason: all interventions stopped mostly when the
# client declined or did not come back (text p. 32).
IMPLEMENTATION_WHEN_REACHED: Final[Dist] = {1: 75.0, 2: 17.0, 3: 2.0, 4: 6.0}
IMPLEMENTATION_WHEN_LEFT: Final[Dist] = {1: 20.0, 2: 22.0, 3: 48.0, 4: 10.0}
IMPLEMENTATION_REGISTERED: Final = 0.936
# The survey: more often answered, and more often "much better", when the goal
# was reached (the "top group" is 11 % of closed cases, text p. 44).
SURVEY_WHEN_GOAL_REACHED: Final = 0.55
SURVEY_CHANGE_WHEN_GOAL_REACHED: Final[Dist] = {1: 75.0, 2: 12.0, 3: 2.0, 4: 0.0, 5: 0.0, 6: 11.0}
SURVEY_IMPORTANCE_ANSWERED: Final = 0.95
SURVEY_POSITIVE: Final[Dist] = {1: 82.0, 2: 4.0, 3: 14.0}
SURVEY_POSITIVE_ANSWERED: Final = 0.97
SURVEY_LANGUAGE: Final[Dist] = {1: 88.0, 2: 5.0, 3: 5.0, 4: 2.0}
SURVEY_MODE: Final[Dist] = {1: 55.0, 2: 30.0, 3: 10.0, 4: 5.0}
SURVEY_SUGGESTIONS: Final = 0.25

CHANGE_GOAL: Final[Dist] = {2: 80.0, 1: 12.0, 3: 8.0}
CHANGE_GOAL_REGISTERED: Final = 0.90
CONTACT_REGISTERED: Final = 0.98
DISABILITY_REGISTERED: Final = 0.96
CHILD_FOLLOWUP_REGISTERED: Final = 0.65
CHILD_FOLLOWUP_NONE: Final = 0.45
CHILD_FOLLOWUP: Final[Dist] = {1: 20.0, 2: 25.0, 3: 15.0, 4: 35.0, 5: 30.0, 6: 20.0, 7: 5.0}
# Client identifiers: personnummer, samordningsnummer, the unit's own code; a
# local code carries an estimated age in most cases (the rest have no age,
# Diagram 3's N=3 006 of 3 070).
CLIENT_ID_KIND: Final = {"personnummer": 88.0, "samordningsnummer": 3.0, "local": 9.0}


def _registered(key: str) -> float:
    return F.REGISTERED[key] / N_ALL


def _dist(mapping: dict[int, float]) -> Dist:
    return dict(zip(mapping, normalise(list(mapping.values())), strict=True))


def solve_main_perpetrator() -> Dist:
    """Main-perpetrator shares such that main plus add-ons reproduce Diagram 8."""
    codes = list(F.PERPETRATOR)
    index = {c: i for i, c in enumerate(codes)}
    addon = np.zeros((len(codes), len(codes)))
    for main, extras in PERPETRATOR_ADDONS.items():
        for extra, p in extras.items():
            addon[index[main], index[extra]] = p
    target = np.array([F.PERPETRATOR[c] / 100 for c in codes])
    main_shares = np.linalg.solve(np.eye(len(codes)) + addon.T, target)
    return dict(zip(codes, normalise(main_shares.clip(min=0).tolist()), strict=True))


@dataclass(frozen=True)
class ClosureModel:
    """Durations and closing, for cases opened evenly over ``period_days`` days
    and followed for ``follow_up_days`` more days until the as-of date.

    A case opened on day ``t`` will close after a latent duration; it is closed
    by the as-of date when ``t + duration`` falls within the period plus the
    follow-up. The latent duration bins are weighted by the inverse of that
    chance, so the closed cases' durations follow Diagram 16, and
    ``will_close`` makes the closed share Diagram 1's 2 456 of 3 070 where the
    period and follow-up allow it (``closed_share`` says what they allow).
    """

    period_days: int
    follow_up_days: int
    latent_bins: Dist = field(init=False)
    will_close: float = field(init=False)
    closed_share: float = field(init=False)

    def chance(self, duration: int) -> float:
        """The chance that a case with this duration is closed by the as-of date."""
        horizon = self.period_days + self.follow_up_days
        return min(self.period_days, max(horizon - duration, 0)) / self.period_days

    def bin_chance(self, b: int) -> float:
        low, high = self.bin_days(b)
        return sum(self.chance(d) for d in range(low, high + 1)) / (high - low + 1)

    def __post_init__(self) -> None:
        observed = normalise(list(F.DURATION_BINS))
        weights: Dist = {}
        for b, share in enumerate(observed):
            chance = self.bin_chance(b)
            weights[b] = share / chance if chance > 0 else 0.0
        weights = _dist(weights)
        reachable = sum(w * self.bin_chance(b) for b, w in weights.items())
        target = F.FUNNEL["avslutade"] / N_ALL
        object.__setattr__(self, "latent_bins", weights)
        object.__setattr__(self, "will_close", min(1.0, target / reachable))
        object.__setattr__(self, "closed_share", self.will_close * reachable)

    @staticmethod
    def bin_days(b: int) -> tuple[int, int]:
        """Durations (closed_on - actualised_on, in days) drawn for bin ``b``; the
        bin's last day is left out so that a duration counted either as the
        difference or inclusively falls in the same 90-day bin."""
        return b * F.DURATION_BIN_DAYS + 1, (b + 1) * F.DURATION_BIN_DAYS - 1


def reason_by_bin() -> list[Dist]:
    """Closing reason by duration bin (Diagram 17, with Diagram 14's others)."""
    others = _dist(OTHER_REASONS)
    result = []
    for b, abc_share in enumerate(ABC_SHARE_BY_BIN):
        abc = _dist(F.REASON_BY_DURATION[b] if b < len(F.REASON_BY_DURATION) else REASON_LONG)
        dist = {code: abc_share * p for code, p in abc.items()}
        for code, p in others.items():
            dist[code] = (1 - abc_share) * p
        result.append(dist)
    return result


def closing_reasons() -> Dist:
    """The closing reason of closed cases implied by :func:`reason_by_bin`."""
    observed = normalise(list(F.DURATION_BINS))
    total: Dist = {}
    for share, dist in zip(observed, reason_by_bin(), strict=True):
        for code, p in dist.items():
            total[code] = total.get(code, 0.0) + share * p
    return total


@dataclass(frozen=True)
class Model:
    """Every distribution the generator draws from, for one period length."""

    period_days: int
    follow_up_days: int
    closure: ClosureModel = field(init=False)
    hrv: float = field(init=False)
    age_rest: list[float] = field(init=False)
    origin_rest: Dist = field(init=False)
    severity_young: Dist = field(init=False)
    severity_old: Dist = field(init=False)
    perpetrator_main: Dist = field(init=False)
    perpetrator_women: Dist = field(init=False)
    risk_women: dict[tuple[int, ...], float] = field(init=False)
    risk_rate: dict[tuple[bool, int | None], float] = field(init=False)
    intervention_rate: dict[int | None, float] = field(init=False)
    intervention_rate_open: float = field(init=False)
    goal_registered: dict[int | None, float] = field(init=False)
    goal_other: Dist = field(init=False)
    survey_other_rate: float = field(init=False)
    survey_change_other: Dist = field(init=False)
    implementation_other: Dist = field(init=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        closure = ClosureModel(self.period_days, self.follow_up_days)
        put(self, "closure", closure)
        hrv = F.HONOUR[1] / sum(F.HONOUR.values()) * _registered("honour_context")
        put(self, "hrv", hrv)
        age_all = dict(enumerate(F.AGE))
        age_hrv = dict(enumerate(F.AGE_HRV))
        age_rest = mixture_rest(age_all, [(hrv, age_hrv)])
        put(self, "age_rest", [age_rest[b] for b in range(len(F.AGE))])
        put(self, "origin_rest", mixture_rest(F.ORIGIN, [(hrv, F.ORIGIN_HRV)]))

        # Severity by honour context and youth (18-24), Diagram 7 and its text.
        young_hrv = hrv * normalise(list(F.AGE_HRV))[0]
        young_rest = (1 - hrv) * age_rest[0]
        severity_young = mixture_rest(
            F.SEVERITY_YOUNG, [(young_hrv / (young_hrv + young_rest), F.SEVERITY_HRV)]
        )
        put(self, "severity_young", severity_young)
        put(
            self,
            "severity_old",
            mixture_rest(F.SEVERITY, [(hrv, F.SEVERITY_HRV), (young_rest, severity_young)]),
        )

        main = solve_main_perpetrator()
        put(self, "perpetrator_main", main)
        men = F.SEX[2] / 100 * _registered("sex")
        put(
            self,
            "perpetrator_women",
            mixture_rest(
                main, [(hrv, PERPETRATOR_MAIN_HRV), ((1 - hrv) * men, PERPETRATOR_MAIN_MEN)]
            ),
        )
        put(self, "risk_women", mixture_rest(RISK_COMBINATIONS, [(men, RISK_COMBINATIONS_MEN)]))

        # Risk assessed: 66 % in honour-related cases, the rest by severity so
        # that the total is Diagram 26's 56 %.
        sev_registered = _registered("violence_severity")
        young = age_rest[0]
        severity_rest = {
            code: sev_registered
            * (young * severity_young[code] + (1 - young) * self.severity_old[code])
            for code in F.SEVERITY
        }
        rest_target = (F.RISK_ASSESSED / 100 - hrv * F.RISK_ASSESSED_HRV / 100) / (1 - hrv)
        base = (
            sum(severity_rest[c] * RISK_BY_SEVERITY[c] for c in F.SEVERITY)
            + (1 - sev_registered) * RISK_BY_SEVERITY[None]
        )
        rates: dict[tuple[bool, int | None], float] = {}
        for code in (*F.SEVERITY, None):
            rates[(True, code)] = F.RISK_ASSESSED_HRV / 100
            rates[(False, code)] = min(1.0, RISK_BY_SEVERITY[code] * rest_target / base)
        put(self, "risk_rate", rates)

        # Interventions: the open cases' rate makes the total Diagram 1's 2 623.
        reasons = closing_reasons()
        reason_registered = F.FUNNEL["avslutsorsak"] / F.FUNNEL["avslutade"]
        closed_rate = (
            reason_registered * sum(p * INTERVENTION_BY_REASON[c] for c, p in reasons.items())
            + (1 - reason_registered) * INTERVENTION_BY_REASON[None]
        )
        put(self, "intervention_rate", dict(INTERVENTION_BY_REASON))
        closed = closure.closed_share
        target = F.FUNNEL["fatt_insats"] / N_ALL
        put(
            self, "intervention_rate_open", min(1.0, (target - closed * closed_rate) / (1 - closed))
        )

        # Goal follow-up: registered by 110, scaled to 2 082 of 2 456 closed.
        change_goal = _dist(CHANGE_GOAL)
        base_goal = (
            CHANGE_GOAL_REGISTERED
            * sum(p * GOAL_REGISTERED_BY_CHANGE_GOAL[c] for c, p in change_goal.items())
            + (1 - CHANGE_GOAL_REGISTERED) * GOAL_REGISTERED_BY_CHANGE_GOAL[None]
        )
        goal_target = F.FUNNEL["maluppfoljning"] / F.FUNNEL["avslutade"]
        put(
            self,
            "goal_registered",
            {
                c: min(1.0, p * goal_target / base_goal)
                for c, p in GOAL_REGISTERED_BY_CHANGE_GOAL.items()
            },
        )
        reached = reason_registered * reasons[1]
        put(self, "goal_other", mixture_rest(F.GOAL_FOLLOWUP, [(reached, GOAL_WHEN_REACHED)]))

        # The survey: 878 of 2 456 closed cases.
        goal_one = goal_target * normalise(list(F.GOAL_FOLLOWUP.values()))[0]
        survey_target = F.FUNNEL["brukarenkat"] / F.FUNNEL["avslutade"]
        put(
            self,
            "survey_other_rate",
            (survey_target - goal_one * SURVEY_WHEN_GOAL_REACHED) / (1 - goal_one),
        )
        from_goal = goal_one * SURVEY_WHEN_GOAL_REACHED / survey_target
        put(
            self,
            "survey_change_other",
            mixture_rest(F.SURVEY_CHANGE, [(from_goal, SURVEY_CHANGE_WHEN_GOAL_REACHED)]),
        )

        # Implementation among closed cases with interventions.
        with_int = {c: p * INTERVENTION_BY_REASON[c] for c, p in reasons.items()}
        total = sum(with_int.values())
        put(
            self,
            "implementation_other",
            mixture_rest(
                F.IMPLEMENTATION,
                [
                    (with_int[1] / total, IMPLEMENTATION_WHEN_REACHED),
                    ((with_int[3] + with_int[4]) / total, IMPLEMENTATION_WHEN_LEFT),
                ],
            ),
        )
