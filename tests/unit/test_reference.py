"""Packaged reference data: counties, municipalities, districts, population."""

from __future__ import annotations

import re

from app import reference


def test_290_municipalities_and_21_counties() -> None:
    assert len(reference.municipalities()) == 290
    assert len(reference.counties()) == 21


def test_codes_keep_leading_zeros() -> None:
    assert "0114" in reference.municipalities()
    assert "01" in reference.counties()
    assert all(re.fullmatch(r"[0-9]{4}", code) for code in reference.municipalities())
    assert all(re.fullmatch(r"[0-9]{2}", code) for code in reference.counties())


def test_every_municipality_has_an_existing_county() -> None:
    counties = reference.counties()
    for code, municipality in reference.municipalities().items():
        assert municipality.code == code
        assert municipality.county_code in counties


def test_known_municipalities() -> None:
    stockholm = reference.municipalities()["0180"]
    assert stockholm.name == "Stockholms kommun"
    assert stockholm.short_name == "Stockholm"
    assert stockholm.county_code == "01"
    assert reference.municipalities()["1480"].short_name == "Göteborg"
    assert reference.counties()["14"].name == "Västra Götalands län"


def test_stockholm_and_goteborg_have_districts() -> None:
    districts = reference.districts()
    by_municipality: dict[str, list[str]] = {}
    for district in districts.values():
        by_municipality.setdefault(district.municipality_code, []).append(district.name)
    assert len(by_municipality["0180"]) == 13
    assert "Hägersten-Älvsjö" in by_municipality["0180"]
    assert sorted(by_municipality["1480"]) == ["Centrum", "Hisingen", "Nordost", "Sydväst"]
    for code, district in districts.items():
        assert district.code == code
        assert district.municipality_code in reference.municipalities()
        assert re.fullmatch(rf"{district.municipality_code}-[0-9]{{2}}", code)


def test_adult_population_stockholm_2019() -> None:
    # Read from population_18plus.csv: 0180,2019,T,779853 (K 397094, M 382759).
    total = reference.adult_population("0180", 2019, "T")
    women = reference.adult_population("0180", 2019, "K")
    men = reference.adult_population("0180", 2019, "M")
    assert total == 779_853
    assert women is not None
    assert men is not None
    assert total == women + men


def test_adult_population_total_equals_women_plus_men_everywhere() -> None:
    for code in reference.municipalities():
        for year in reference.population_years():
            total = reference.adult_population(code, year, "T")
            women = reference.adult_population(code, year, "K")
            men = reference.adult_population(code, year, "M")
            assert total is not None
            assert women is not None
            assert men is not None
            assert total == women + men


def test_adult_population_unknown_is_none() -> None:
    assert reference.adult_population("9999", 2019, "T") is None
    assert reference.adult_population("0180", 1990, "T") is None
    assert reference.adult_population("0180-01", 2019, "T") is None


def test_population_years() -> None:
    years = reference.population_years()
    assert years == [2019]
    years.append(1900)  # a fresh list: mutating it must not touch the cache
    assert reference.population_years() == [2019]


def test_is_reporting_unit_code() -> None:
    assert reference.is_reporting_unit_code("0180")
    assert reference.is_reporting_unit_code("0114")
    assert reference.is_reporting_unit_code("0180-01")
    assert reference.is_reporting_unit_code("1480-04")
    assert not reference.is_reporting_unit_code("180")
    assert not reference.is_reporting_unit_code("9999")
    assert not reference.is_reporting_unit_code("0180-99")
    assert not reference.is_reporting_unit_code("01")
    assert not reference.is_reporting_unit_code("")


def test_loaders_are_cached() -> None:
    assert reference.municipalities() is reference.municipalities()
    assert reference.districts() is reference.districts()


def test_total_population_and_size_classes() -> None:
    assert reference.total_population("0114") == 50_323  # Upplands Väsby, 31 Dec 2024
    assert reference.total_population("9999") is None
    codes = reference.municipalities()
    assert sum(reference.total_population(code) or 0 for code in codes) == 10_587_710
    assert reference.size_class("0180") == "200000-"
    assert reference.size_class("0114") == "40000-99999"
    assert reference.size_class("2506") == "-14999"  # Arjeplog, 2 599
    assert reference.size_class("9999") is None
    counts = dict.fromkeys((key for key, *_rest in reference.SIZE_CLASSES), 0)
    for code in codes:
        counts[reference.size_class(code) or "none"] += 1
    assert counts == {
        "200000-": 4,
        "100000-199999": 16,
        "40000-99999": 48,
        "15000-39999": 90,
        "-14999": 132,
    }
