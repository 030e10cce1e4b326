"""Reading population extracts for the key ratios' denominator (SCB CSV,
Kolada N02104 JSON) and the rule for which year's figure is used."""

from __future__ import annotations

import json

import pytest

from app.indicators.population import Figure, PopulationFileError, parse
from exporters.indicators import Population


def test_packaged_csv_format() -> None:
    text = "kommunkod,year,sex,population_18plus\n0114,2024,T,36000\n0114,2024,K,18000\n"
    assert parse(text) == [Figure("0114", 2024, "T", 36000), Figure("0114", 2024, "K", 18000)]


def test_swedish_headers_semicolons_spaces_and_a_lost_leading_zero() -> None:
    text = "\ufeffRegion;År;Kön;Antal\n114;2025;Totalt;36 500\n114;2025;kvinnor;18 300\n"
    text += "114;2025;män;18 200\n0180-01;2025;T;100000\n"
    assert parse(text) == [
        Figure("0114", 2025, "T", 36500),
        Figure("0114", 2025, "K", 18300),
        Figure("0114", 2025, "M", 18200),
        Figure("0180-01", 2025, "T", 100000),
    ]


def test_kolada_n02104_json() -> None:
    doc = {
        "values": [
            {
                "kpi": "N02104",
                "municipality": "0180",
                "period": 2025,
                "values": [
                    {"gender": "T", "count": 1, "status": "", "value": 800000.0},
                    {"gender": "K", "count": 1, "status": "", "value": 400000.0},
                    {"gender": "M", "count": 1, "status": "", "value": 400000.0},
                ],
            }
        ]
    }
    assert parse(json.dumps(doc)) == [
        Figure("0180", 2025, "T", 800000),
        Figure("0180", 2025, "K", 400000),
        Figure("0180", 2025, "M", 400000),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kommunkod,year,sex,population\n9999,2025,T,1\n", "unknown area"),
        ("kommunkod,year,sex,population\n0114,2025,X,1\n", "sex must be T, K or M"),
        ("kommunkod,year,sex,population\n0114,2025,T,-5\n", "negative count"),
        ("kommunkod,year,sex,population\n0114,20x5,T,5\n", "must be integers"),
        ("kommunkod,year,population\n0114,2025,5\n", "missing column: sex"),
        (
            "kommunkod,year,sex,population\n0114,2025,T,10\n0114,2025,K,4\n0114,2025,M,5\n",
            "T ≠ K \\+ M",
        ),
        ('{"values": [{"kpi": "N01951", "values": []}]}', "not N02104"),
        ("kommunkod,year,sex,population\n", "no figures"),
    ],
)
def test_bad_files_are_refused_without_quoting_values(text: str, message: str) -> None:
    with pytest.raises(PopulationFileError, match=message) as info:
        parse(text)
    assert "9999" not in str(info.value)


def test_population_year_rule() -> None:
    population = Population({("0114", 2019, "T"): 35000, ("0114", 2023, "T"): 36200})
    assert population.lookup("0114", 2025, "T", "same") is None
    assert population.lookup("0114", 2025, "T", "latest") == (36200, 2023)
    assert population.lookup("0114", 2023, "T", "same") == (36200, 2023)
    assert population.lookup("0114", 2018, "T", "latest") is None
