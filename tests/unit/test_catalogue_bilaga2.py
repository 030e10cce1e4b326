"""The YAML catalogue against Bilaga 2 ("Variabler i SU-Kvinnofrid 2021–2023").

Every expected value below is typed by hand from Bilaga 2 of the report; nothing
is read from the YAML or the seed text to build the expectation. Line-break
hyphenation of the printed appendix is repaired ("upp märksammade" ->
"uppmärksammade", "umgänge /överlämning" -> "umgänge/överlämning",
"Hälso-och sjukvård" -> "Hälso- och sjukvård" as printed in variable 49).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from app.catalogue.spec import CatalogueFile, Group, Phase, Storage, Text, Variable, VariableType
from tests.catalogue_lock import catalogue_paths, load_catalogue

COMMENT = "Kommentar (möjlighet till)"


@dataclass(frozen=True)
class Expected:
    key: str
    suv: int | None
    phase: str
    type: str
    label: str
    question: str
    options: dict[int, str] = field(default_factory=dict)
    comment: int | None = None
    exclusive: frozenset[int] = frozenset()
    project_specific: bool = False
    project_specific_options: frozenset[int] = frozenset()
    storage: str = "values"
    group: str | None = None
    empty_allowed: bool = False
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None


# fmt: off
BILAGA2: tuple[Expected, ...] = (
    # --- Bakgrund ärendet ---------------------------------------------------------
    Expected(
        "unit_kind", 1, "bakgrund", "single", "Verksamhet", "Ange verksamhet",
        {1: "Myndighet", 2: "Utförare", 3: "Både myndighet och utförare", 4: "Annat"},
        storage="structural",
    ),
    Expected(
        "municipality", 2, "bakgrund", "text", "Kommun/stadsdel", "Välj kommun eller stadsdel",
        project_specific=True, storage="structural",
    ),
    Expected(
        "caseworker_ref", 3, "bakgrund", "text", "Handläggare",
        "Ange en uppgift som identifierar handläggaren (så som verksamheten bestämt)",
        storage="structural", max_length=64,
    ),
    Expected(
        "client_id", 4, "bakgrund", "text", "Klienten",
        "Ange en uppgift som identifierar klienten (så som verksamheten bestämt)",
        storage="structural", max_length=64,
    ),
    Expected(
        "actualised_on", 5, "bakgrund", "date", "Datum för aktualisering",
        "Vilket datum blev klienten aktuell?",
        storage="structural",
    ),
    # --- Bakgrund klienten --------------------------------------------------------
    Expected(
        "sex", 14, "bakgrund", "single", "Kön", "Ange klientens juridiska kön",
        {1: "Kvinna", 2: "Man"},
    ),
    Expected(
        "age", 15, "bakgrund", "integer", "Ålder/uppskattad ålder",
        "Ange klientens ålder/uppskattad ålder vid aktualisering",
        minimum=18, maximum=120,
    ),
    Expected(
        "age_basis", None, "bakgrund", "single", "Faktisk eller uppskattad ålder",
        "Är åldern faktisk eller uppskattad?",
        {1: "Faktisk ålder", 2: "Uppskattad ålder"},
    ),
    Expected(
        "disability", 19, "bakgrund", "multi", "Funktionsnedsättning",
        "Har klienten någon funktionsnedsättning?",
        {
            1: "Fysisk funktionsnedsättning",
            2: "Psykisk funktionsnedsättning",
            3: "Intellektuell funktionsnedsättning",
            4: "Nej",
            5: "Vet ej",
        },
        comment=6, exclusive=frozenset({4, 5}),
    ),
    Expected(
        "origin", 20, "bakgrund", "single", "Ursprung", "Ange klientens födelseland",
        {
            1: "Född i Sverige, med minst en förälder född i Sverige",
            2: "Född i Sverige, med båda föräldrarna födda utomlands",
            3: "Född i övriga Europa",
            4: "Född utanför Europa",
            5: "Vet inte",
        },
        comment=6, project_specific=True,
    ),
    Expected(
        "child_followup", 41, "bakgrund", "multi", "Uppföljning barnet/barnen",
        "Vilka av barnets/barnens behov och rättigheter har blivit uppmärksammade?",
        {
            1: "Tillgång till relevant information om möjlighet att framföra sina åsikter",
            2: "Skolgång",
            3: "Hälso- och sjukvård",
            4: "Stöd- och behandlingsinsatser",
            5: "Planering för tryggt boende/utflyttning",
            6: "Säkerhet i samband med umgänge/överlämning",
            7: "Annat",
        },
        comment=8, empty_allowed=True,
    ),
    Expected(
        "contact_initiative", 49, "bakgrund", "multi", "Initiativ till aktuell kontakt",
        "Vem tog initiativ till klientens kontakt med verksamheten?",
        {
            1: "Klienten själv",
            2: "Via Partnerkontaktverksamhet",
            3: "Försörjningsstödenhet",
            4: "Missbruksenhet",
            5: "Barn- och ungdomsenhet",
            6: "Social omsorgsenhet",
            7: "Äldreomsorgsenhet",
            8: "Polis",
            9: "Rättsväsende",
            10: "Hälso- och sjukvård",
            11: "Kvinnojour",
            12: "Brottsofferjour",
            13: "Anhörig/vän",
            14: "Annat",
        },
        comment=15,
    ),
    # --- Före stöd/insats -----------------------------------------------------------
    Expected(
        "perpetrator", 58, "fore", "multi", "Utövare av våldet",
        "Vem eller vilka utövar våld mot klienten?",
        {
            1: "Nuvarande partner",
            2: "Före detta partner",
            3: "Förälder/föräldrar",
            4: "Annan släkting/släktingar",
            5: "Barn",
            6: "Annan",
        },
        comment=7,
    ),
    Expected(
        "honour_context", 59, "fore", "single", "Hedersrelaterat våld",
        "Utövas våldet i en hederskontext?",
        {1: "Ja", 2: "Nej", 3: "Vet inte"},
    ),
    Expected(
        "violence_severity", 67, "fore", "single", "Våldets grad övergripande",
        "Hur skulle du övergripande karaktärisera det våld klienten är utsatt för?",
        {1: "Ej grovt", 2: "Grovt", 3: "Mycket grovt"},
        comment=4,
    ),
    Expected(
        "risk_instrument", 90, "fore", "single", "Upprepad skattning risk/farlighet",
        "Skattningsinstrument och skattningar",
        {
            1: "FREDA farlighetsbedömning",
            2: "SARA",
            3: "Patriark",
            4: "SAM",
            5: "Annan bedömningsmetod",
            6: "Annat samtal med klient utan bedömningsmetod",
        },
        project_specific_options=frozenset({5, 6}), storage="group", group="risk_assessment",
    ),
    Expected(
        "change_goal", 110, "fore", "single", "Individuellt förändringsmål våldsutsatthet",
        "Finns det något individuellt övergripande förändringsmål?",
        {1: "Nej", 2: "Ja", 3: "Annat"},
        comment=4,
    ),
    # --- Under stöd/insats ------------------------------------------------------------
    Expected(
        "intervention_start_on", 117, "under", "date", "Datum för när stödet/insatsen påbörjades",
        "Vilket datum påbörjades stödet/insatsen?",
        storage="group", group="intervention",
    ),
    Expected(
        "intervention_type", 118, "under", "single", "Stöd och insatser från socialtjänsten",
        "Vilket stöd eller vilka insatser har klienten beviljats/fått?",
        {
            1: "Praktiskt stöd",
            2: "Ekonomiskt stöd",
            3: "Rådgivning/information",
            4: "Stödsamtal (enskilt)",
            5: "Säkerhetskontakt/partnerkontakt",
            6: "Gruppsamtal",
            7: "Genomgång av säkerhet",
            8: "Hjälp med kontakt med annan aktör",
            9: "Särskilt stöd i föräldraroll",
            10: "Skyddat boende",
            11: "Hjälp med ny bostad (ej skyddat boende)",
            12: "Byte av kommun",
            13: "Tillfälligt boende",
            14: "Kontaktperson",
            15: "Familjearbete inriktning i heder",
            16: "Familjehemsplacering, familj med hederskompetens",
            17: "Familjehemsplacering med släkt",
            18: "Kontaktperson inriktning heder",
            19: "Annat",
        },
        comment=20, storage="group", group="intervention",
    ),
    Expected(
        "intervention_grounds", 126, "under", "single", "Typ av insats",
        "På vilken grund ges insatsen?",
        {1: "Med biståndsbeslut", 2: "Utan biståndsbeslut", 3: "Vet inte"},
        comment=4, project_specific=True, storage="group", group="intervention",
    ),
    Expected(
        "collaboration", 127, "under", "multi", "Samverkan",
        "Med vilken annan myndighet/aktör sker samverkan?",
        {
            1: "Primärvård",
            2: "Vuxenpsykiatri",
            3: "Akutmottagning",
            4: "Ungdomsmottagning",
            5: "Polisen",
            6: "Kvinnojour eller liknande",
            7: "Annan verksamhet inom socialtjänsten",
            8: "Resurscentrum/expertis på hedersrelaterat våld",
            9: "Annan (ange i kommentar)",
        },
        comment=10, project_specific=True, empty_allowed=True,
    ),
    # --- Efter stöd/insats --------------------------------------------------------------
    Expected(
        "implementation", 161, "efter", "single", "Genomförandet av stöd/insats i ärendet",
        "Genomförandet av stöd/insatser i ärendet",
        {
            1: "Alla planerade stöd/insatser har genomförts",
            2: "Vissa stöd/insatser har genomförts, andra har avbrutits eller inte genomförts",
            3: "Samtliga stöd/insatser har avbrutits",
            4: "Annat",
        },
        comment=5,
    ),
    Expected(
        "goal_followup", 192, "efter", "single", "Måluppföljning individuellt förändringsmål",
        "Hur har klientens situation förändrats i förhållande till det övergripande, "
        "individuella förändringsmålet?",
        {
            1: "Positiv förändring och målet uppnått (mål uppfyllda)",
            2: "Positiv förändring men målet inte uppnått (mål delvis uppfyllda)",
            3: "Ingen förändring",
            4: "Negativ förändring (mål är inte uppfyllda)",
            5: "Går inte att bedöma om målet har uppfyllts",
        },
        comment=6,
    ),
    Expected(
        "closed_on", 256, "efter", "date", "Datum för när ärendet avslutats",
        "Vilket datum avslutades ärendet?",
        storage="structural",
    ),
    Expected(
        "closing_reason", 257, "efter", "single", "Avslutsorsak – verksamhet",
        "Vad var orsaken till avslut i aktuell verksamhet?",
        {
            1: "Målet med stödet/insatsen har uppnåtts",
            2: "Utredning avslutad utan insats",
            3: "Klienten har tackat nej till vidare stöd/insats",
            4: "Klienten har inte återkommit",
            5: "Klienten har flyttat",
            6: "Klienten har avlidit",
            7: "Andra orsaker",
        },
        comment=8,
    ),
    # --- Brukaruppföljning ------------------------------------------------------------
    Expected(
        "survey_violence_change", 202, "brukarenkat", "single", "Förändring våldsutsatthet",
        "Hur har klientens situation förändrats sedan stödet/insatsen från verksamheten "
        "påbörjades?",
        {
            1: "Förbättrats mycket",
            2: "Förbättrats lite",
            3: "Ingen förändring",
            4: "Försämrats lite",
            5: "Försämrats mycket",
            6: "Vet inte",
        },
        storage="group", group="survey",
    ),
    Expected(
        "survey_support_importance", 203, "brukarenkat", "single",
        "Insatsernas betydelse för eventuell förbättring",
        "Om problemen med våldsutsatthet har förbättrats, vilken betydelse har "
        "stödet/insatsen haft?",
        {
            1: "Ingen betydelse",
            2: "Liten betydelse",
            3: "Varken stor eller liten betydelse",
            4: "Stor betydelse",
            5: "Helt avgörande betydelse",
            6: "Vet inte",
        },
        storage="group", group="survey",
    ),
    Expected(
        "survey_positive", 206, "brukarenkat", "single", "Positiva inslag",
        "Oavsett förändring, var det några inslag i stödet/insatsen som klienten upplevde "
        "som särskilt positiva?",
        {1: "Ja", 2: "Nej", 3: "Vet inte"},
        comment=4, storage="group", group="survey",
    ),
    Expected(
        "survey_influence", 212, "brukarenkat", "single", "Delaktighet i val av stöd/insatser",
        "I vilken utsträckning uppfattade klienten möjlighet att påverka val av stöd/insats?",
        {
            1: "Ingen möjlighet alls",
            2: "Liten möjlighet",
            3: "Varken stor eller liten möjlighet",
            4: "Stor möjlighet",
            5: "Mycket stor möjlighet",
            6: "Vet inte",
        },
        storage="group", group="survey",
    ),
    Expected(
        "survey_suggestions", 217, "brukarenkat", "text", "Klientförslag till förbättringar",
        "Klientens förslag på förbättringar av insatsen/nya insatser eller andra förslag",
        storage="group", group="survey", max_length=2000,
    ),
)
# fmt: on

SUV_NUMBERS = (
    1, 2, 3, 4, 5, 14, 15, 19, 20, 41, 49, 58, 59, 67, 90, 110,
    117, 118, 126, 127, 161, 192, 256, 257, 202, 203, 206, 212, 217,
)  # fmt: skip

# The bracketed client-facing wording of Bilaga 2 ("såsom frågan är ställd i brukarenkäten").
SURVEY_QUESTIONS = {
    "survey_violence_change": "Hur har din situation när det gäller våldsutsatthet förändrats "
    "sedan stödet/insatsen från oss påbörjades?",
    "survey_support_importance": "Om situationen gällande våldsutsattheten har förbättrats, "
    "vilken betydelse har stödet/insatsen haft?",
    "survey_positive": "Oavsett förändring, var det några inslag i stödet/insatsen du upplevde "
    "som särskilt positiva?",
    "survey_influence": "I vilken utsträckning upplevde du att det fanns möjlighet att påverka "
    "val av insats/stöd?",
    "survey_suggestions": "Har du egna förslag på förbättringar av insatsen/stödet eller förslag "
    "på nya insatser/stöd?",
}

ARABIC = re.compile(r"[\u0600-\u06FF]")


@pytest.fixture(scope="module")
def files() -> dict[str, CatalogueFile]:
    paths = catalogue_paths()
    return {path.stem: file for path, file in zip(paths, load_catalogue(paths), strict=True)}


@pytest.fixture(scope="module")
def variables(files: dict[str, CatalogueFile]) -> dict[str, Variable]:
    found: dict[str, Variable] = {}
    for file in files.values():
        for variable in file.variables:
            assert variable.key not in found, f"{variable.key} defined twice"
            found[variable.key] = variable
    return found


@pytest.fixture(scope="module")
def groups(files: dict[str, CatalogueFile]) -> dict[str, Group]:
    return {group.key: group for file in files.values() for group in file.groups}


@pytest.mark.parametrize("expected", BILAGA2, ids=[e.key for e in BILAGA2])
def test_variable_matches_bilaga2(expected: Expected, variables: dict[str, Variable]) -> None:
    assert expected.key in variables, f"{expected.key} is missing from the catalogue"
    v = variables[expected.key]
    assert v.suv == expected.suv
    assert v.phase is Phase(expected.phase)
    assert v.type is VariableType(expected.type)
    assert v.label.sv == expected.label
    assert v.question.sv == expected.question
    assert {o.code: o.label.sv for o in v.options} == expected.options
    assert [o.code for o in v.options] == sorted(expected.options), "options in code order"
    assert not any(o.retired for o in v.options)
    assert not v.retired
    if expected.comment is None:
        assert v.comment is None
    else:
        assert v.comment is not None
        assert v.comment.code == expected.comment
        assert v.comment.label.sv == COMMENT
    assert v.exclusive_codes == expected.exclusive
    assert v.project_specific is expected.project_specific
    assert {o.code for o in v.options if o.project_specific} == expected.project_specific_options
    assert v.storage is Storage(expected.storage)
    assert v.group == expected.group
    assert v.empty_allowed is expected.empty_allowed
    assert (v.minimum, v.maximum, v.max_length) == (
        expected.minimum,
        expected.maximum,
        expected.max_length,
    )
    for text in (v.label, v.question, *(o.label for o in v.options)):
        assert text.en.strip(), f"{expected.key}: empty English text"


def test_catalogue_holds_exactly_the_expected_variables(variables: dict[str, Variable]) -> None:
    assert set(variables) == {e.key for e in BILAGA2}


def test_exactly_29_distinct_suv_numbers(variables: dict[str, Variable]) -> None:
    suvs = [v.suv for v in variables.values() if v.suv is not None]
    assert len(suvs) == 29
    assert len(set(suvs)) == 29
    assert sorted(suvs) == sorted(SUV_NUMBERS)
    assert len(set(SUV_NUMBERS)) == 29


def test_one_file_per_phase(files: dict[str, CatalogueFile]) -> None:
    # One file per phase, and the consistency checks (no variables) apart.
    assert set(files) == {p.value for p in Phase} | {"checks"}
    assert not files["checks"].variables
    assert not files["checks"].groups
    for stem, file in files.items():
        assert file.name == stem
        assert all(v.phase.value == stem for v in file.variables)
        assert all(g.phase.value == stem for g in file.groups)


def test_comment_is_the_next_number_after_the_options(variables: dict[str, Variable]) -> None:
    for v in variables.values():
        if v.comment is not None:
            assert v.comment.code == max(o.code for o in v.options) + 1, v.key


def test_exclusivity_only_on_dont_know_and_no_in_multi_choice(
    variables: dict[str, Variable],
) -> None:
    for v in variables.values():
        for o in v.options:
            if v.type is VariableType.multi and o.label.sv in {"Nej", "Vet ej", "Vet inte"}:
                assert o.exclusive, f"{v.key} {o.code} should be exclusive"
            if v.type is VariableType.single:
                assert not o.exclusive, f"{v.key} {o.code}: exclusivity is meaningless here"


def test_group_variables_belong_to_a_group_of_their_phase(
    variables: dict[str, Variable], groups: dict[str, Group]
) -> None:
    for v in variables.values():
        if v.group is not None:
            assert v.group in groups, v.key
            assert groups[v.group].phase is v.phase, v.key


def _four_languages(where: str, text: Text) -> None:
    for lang in ("sv", "en", "ar", "so"):
        value = getattr(text, lang)
        assert isinstance(value, str), f"{where}: no {lang}"
        assert value.strip(), f"{where}: empty {lang}"
    assert text.ar is not None
    assert ARABIC.search(text.ar), f"{where}: ar is not Arabic script"
    assert text.so != text.en, f"{where}: so is not translated"


@pytest.mark.parametrize("key", list(SURVEY_QUESTIONS))
def test_survey_variables_speak_sv_en_ar_so(key: str, variables: dict[str, Variable]) -> None:
    v = variables[key]
    assert v.survey_question is not None
    assert v.survey_question.sv == SURVEY_QUESTIONS[key]
    _four_languages(f"{key} survey_question", v.survey_question)
    for o in v.options:
        _four_languages(f"{key} option {o.code}", o.label)
    if v.comment is not None:
        _four_languages(f"{key} comment", v.comment.label)


def test_only_survey_variables_have_a_survey_question(variables: dict[str, Variable]) -> None:
    assert {k for k, v in variables.items() if v.survey_question is not None} == set(
        SURVEY_QUESTIONS
    )


def test_203_is_asked_only_when_the_situation_improved(variables: dict[str, Variable]) -> None:
    v = variables["survey_support_importance"]
    assert v.applies_when is not None
    assert v.applies_when.variable == "survey_violence_change"
    assert set(v.applies_when.any_of) == {1, 2}
    source = variables[v.applies_when.variable]
    improved = [source.option(code) for code in (1, 2)]
    assert [o.label.sv if o else None for o in improved] == [
        "Förbättrats mycket",
        "Förbättrats lite",
    ]
    others = [k for k, var in variables.items() if var.applies_when is not None]
    assert others == ["survey_support_importance"]


def _extra(group: Group) -> dict[str, tuple[str, dict[int, str], bool]]:
    return {
        f.key: (f.type.value, {o.code: o.label.sv for o in f.options}, f.required)
        for f in group.extra_fields
    }


def test_groups(groups: dict[str, Group]) -> None:
    assert set(groups) == {"intervention", "risk_assessment", "survey"}

    intervention = groups["intervention"]
    assert (intervention.phase, intervention.label.sv) == (Phase.under, "Stöd/insats")
    assert intervention.extra_fields == ()
    assert intervention.max_per_case is None

    risk = groups["risk_assessment"]
    assert (risk.phase, risk.label.sv) == (Phase.fore, "Upprepad skattning risk/farlighet")
    assert risk.max_per_case is None
    assert _extra(risk) == {
        "assessed_on": ("date", {}, True),
        "assessment_phase": (
            "single",
            {1: "Före stöd/insats", 2: "Under stöd/insats", 3: "Efter stöd/insats"},
            True,
        ),
        "score": ("single", {1: "Låg risk", 2: "Förhöjd risk", 3: "Hög risk"}, False),
    }

    survey = groups["survey"]
    assert (survey.phase, survey.label.sv, survey.max_per_case) == (
        Phase.brukarenkat,
        "Brukarenkät",
        1,
    )
    assert _extra(survey) == {
        "answered_on": ("date", {}, True),
        "language": ("single", {1: "Svenska", 2: "Engelska", 3: "Arabiska", 4: "Somaliska"}, True),
        "mode": ("single", {1: "Telefon", 2: "Personligt möte", 3: "Papper", 4: "Webb"}, True),
    }
