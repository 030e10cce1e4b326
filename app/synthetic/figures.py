"""The published figures the generator is calibrated to.

Source: SKR, *Socialtjänstens stöd till våldsutsatta vuxna — SU-Kvinnofrid
2021–2023*, Kapitel 2 (``shared/seeds/001_*.txt``). Each constant names its
diagram; percentages are over the cases where the variable is registered, as
in the report. Where the report prints only a few numbers, the rest are this
project's assumptions and are marked ``# assumed``. Codes are the catalogue's
(``variables/*.yaml``). Tests compare generated data with these constants, so
a figure is written once, here.
"""

from __future__ import annotations

from typing import Final

# --- Diagram 1: the funnel -------------------------------------------------
FUNNEL: Final = {
    "aktualiserade": 3070,
    "fatt_insats": 2623,
    "avslutade": 2456,
    "avslutsorsak": 2421,
    "maluppfoljning": 2082,
    "brukarenkat": 878,
}

# --- Who the clients are (Diagrams 2-6, text p. 27) -------------------------
SEX: Final = {1: 94.0, 2: 6.0}  # Diagram 2 (N=3 048)
AGE_BANDS: Final = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 74), (75, 95))
AGE_BAND_LABELS: Final = ("18–24", "25–34", "35–44", "45–54", "55–64", "65–74", "75–")
AGE: Final = (12.0, 32.0, 32.0, 15.0, 5.0, 2.0, 1.0)  # Diagram 3 (N=3 006)
AGE_HRV: Final = (34.0, 32.0, 21.0, 9.0, 3.0, 0.5, 0.5)  # Diagram 21, HRV (N=296)
ORIGIN: Final = {1: 57.0, 2: 6.0, 3: 8.0, 4: 24.0, 5: 4.0}  # Diagram 4 (N=3 017)
# Diagram 22 and its text: most HRV clients are born outside Europe, then born in
# Sweden to parents born abroad; 8 % each born in Sweden with a Swedish-born
# parent and born elsewhere in Europe.
ORIGIN_HRV: Final = {1: 8.0, 2: 20.0, 3: 8.0, 4: 60.0, 5: 4.0}
HONOUR: Final = {1: 10.0, 2: 84.0, 3: 6.0}  # Diagram 5 (N=2 987)
# Diagram 6 (multi-choice): the client 59, social services 24 (codes 3-7 together),
# other 9, police 7, health care 5, relative/friend 3, women's shelter 2, partner
# contact service 1; victim support 10 cases and the justice system 3 (text).
CONTACT_INITIATIVE: Final = {
    1: 59.0,
    2: 1.0,
    3: 6.0,  # assumed split of "Socialtjänsten" 24 %
    4: 3.0,
    5: 10.0,
    6: 3.0,
    7: 2.0,
    8: 7.0,
    9: 0.1,
    10: 5.0,
    11: 2.0,
    12: 0.33,
    13: 3.0,
    14: 9.0,
}
CONTACT_SOCIAL_SERVICES: Final = (3, 4, 5, 6, 7)
CONTACT_SOCIAL_SERVICES_SHARE: Final = 24.0
# Text p. 27: intellectual 3 %, physical 4 %, psychiatric 16 %.
DISABILITY: Final = {1: 4.0, 2: 16.0, 3: 3.0}
DISABILITY_DONT_KNOW: Final = 8.0  # assumed

# --- The violence (Diagrams 7, 8) -------------------------------------------
SEVERITY: Final = {1: 34.0, 2: 46.0, 3: 20.0}  # Diagram 7 (N=2 916)
SEVERITY_HRV_VERY: Final = 37.0  # text p. 28 and p. 47
SEVERITY_NON_HRV_VERY: Final = 18.0  # text p. 47
SEVERITY_YOUNG: Final = {1: 27.0, 2: 50.0, 3: 23.0}  # text p. 28: 18-24 years
SEVERITY_HRV: Final = {1: 20.0, 2: 43.0, 3: 37.0}  # 37 % published, the split assumed
# Diagram 8 (multi-choice, N=3 013).
PERPETRATOR: Final = {1: 31.0, 2: 59.0, 3: 8.0, 4: 5.0, 5: 2.0, 6: 9.0}

# --- Interventions (Diagrams 9, 10, 11) ------------------------------------
# Diagram 9: share of cases with at least one intervention (N=2 623).
INTERVENTIONS: Final = {
    4: 63.0,
    3: 52.0,
    7: 28.0,
    10: 21.0,
    1: 18.0,
    8: 14.0,
    2: 13.0,
    13: 9.0,
    11: 7.0,
    19: 4.0,
    12: 4.0,
    9: 3.0,
    5: 3.0,
    14: 2.0,
    6: 2.0,
}
# Diagram 23 and text p. 47: the HRV group gets safety reviews, sheltered housing
# and practical support more often, individual counselling less (52 %), and the
# honour-specific interventions (15-18). Only 52 % is published; the rest assumed.
INTERVENTIONS_HRV: Final = {
    4: 52.0,
    3: 55.0,
    7: 50.0,
    10: 40.0,
    1: 30.0,
    8: 20.0,
    2: 18.0,
    13: 12.0,
    11: 8.0,
    19: 5.0,
    12: 8.0,
    9: 3.0,
    5: 2.0,
    14: 3.0,
    6: 1.0,
    15: 5.0,
    16: 1.0,
    17: 1.0,
    18: 3.0,
}
# Diagram 10: mean number of (distinct types of) interventions per case with at
# least one intervention, by group.
MEAN_INTERVENTIONS: Final = {
    "overall": 2.4,
    "hrv": 3.3,
    "not_hrv": 2.3,
    "born_outside_europe": 2.9,
    "born_in_sweden": 2.2,
    "age_18_24": 2.9,
    "age_65_74": 1.9,
    "very_severe": 2.8,
    "not_severe": 2.1,
    "risk_assessed": 2.8,
    "not_risk_assessed": 2.0,
    "intellectual_disability": 2.6,
    "goal_achieved": 3.0,
}
IMPLEMENTATION: Final = {1: 46.0, 2: 20.0, 3: 26.0, 4: 9.0}  # Diagram 11 (N=1 981)

# --- Collaboration (Diagrams 12, 13; text p. 33) ----------------------------
COLLABORATION_REGISTERED: Final = 2371  # of 3 070 cases
# Diagram 12 (N=1 561 with at least one partner); resource centre: 7 cases.
COLLABORATION: Final = {
    7: 73.0,
    6: 19.0,
    5: 19.0,
    9: 15.0,
    2: 8.0,
    1: 5.0,
    3: 1.0,
    4: 1.0,
    8: 0.45,
}
COLLABORATION_COUNT: Final = {0: 34.0, 1: 46.0, 2: 15.0, 3: 4.0, 4: 1.0}  # Diagram 13 (N=2 371)

# --- Closing (Diagrams 14-17) ------------------------------------------------
CLOSING_REASON: Final = {1: 32.0, 3: 31.0, 4: 17.0, 2: 8.0, 7: 7.0, 5: 6.0, 6: 0.3}  # Diagram 14
GOAL_FOLLOWUP: Final = {1: 35.0, 2: 22.0, 3: 11.0, 4: 6.0, 5: 26.0}  # Diagram 15 (N=2 082)
# Diagram 16: closed cases by duration in 90-day bins (N=2 163).
DURATION_BINS: Final = (1023, 564, 269, 135, 85, 46, 27, 14)
DURATION_BIN_DAYS: Final = 90
# Diagram 17 (N=1 526): among cases closed because the goal was reached (1), the
# client declined (3) or did not come back (4), the share of each by duration bin.
# Bins 1 and 4 are in the text (21 % goal reached, 51 % declined, "nearly three
# in ten" not back; "nearly three in four", 13 % and 14 %); the middle bins'
# goal shares are read from the chart, the split of their remainder assumed.
REASON_BY_DURATION: Final = (
    {1: 21.0, 3: 52.0, 4: 27.0},
    {1: 40.0, 3: 42.0, 4: 18.0},
    {1: 58.0, 3: 24.0, 4: 18.0},
    {1: 73.0, 3: 13.0, 4: 14.0},
)

# --- Client survey (Diagrams 18-20) -----------------------------------------
SURVEY_CHANGE: Final = {1: 50.0, 2: 21.0, 3: 8.0, 4: 0.4, 5: 1.0, 6: 20.0}  # Diagram 18 (N=836)
SURVEY_IMPORTANCE: Final = {5: 16.0, 4: 46.0, 3: 10.0, 2: 6.0, 1: 1.0, 6: 21.0}  # Diagram 19
SURVEY_INFLUENCE: Final = {5: 16.0, 4: 44.0, 3: 10.0, 2: 4.0, 1: 1.0, 6: 25.0}  # Diagram 20
SURVEY_ANSWERED: Final = {"survey_violence_change": 836, "survey_influence": 784}  # of 878

# --- Risk assessments (Diagrams 26, 27 and text pp. 50-51) -------------------
RISK_ASSESSED: Final = 56.0  # Diagram 26: share of all cases with an assessment
RISK_ASSESSED_HRV: Final = 66.0  # text p. 47
# Diagram 27 (N=1 716 assessed cases): FREDA 54 %, conversation without a method
# 48 %, SARA/Patriark/other method 3 % together, SAM 6 cases.
RISK_INSTRUMENTS: Final = {1: 54.0, 6: 48.0, "sara_patriark_other": 3.0, 4: 0.35}

# --- Missing values: registered / 3 070 (the N of each diagram) --------------
REGISTERED: Final = {
    "sex": 3048,
    "age": 3006,
    "origin": 3017,
    "honour_context": 2987,
    "violence_severity": 2916,
    "perpetrator": 3013,
}
