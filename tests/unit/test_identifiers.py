"""Client identifier normalisation (acceptance P2, P3)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.security.identifiers import (
    ClientIdentifier,
    InvalidClientIdentifier,
    age_on,
    normalise_client_identifier,
)

TODAY = date(2026, 11, 25)


def normalise(raw: str) -> ClientIdentifier:
    return normalise_client_identifier(raw, today=TODAY)


def luhn(digits: str) -> str:
    """Independent reference Luhn check digit for the test data."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str(-total % 10)


# --- P2: one person, one canonical form -------------------------------------


@pytest.mark.parametrize("raw", ["19121212-1212", "121212-1212", "191212121212", " 1212121212 "])
def test_p2_all_forms_give_one_canonical(raw: str) -> None:
    ident = normalise(raw)
    assert ident.kind == "personnummer"
    assert ident.canonical == "191212121212"
    assert ident.birth_date == date(1912, 12, 12)


def test_ten_digit_form_is_read_as_an_adult() -> None:
    # The register holds adults: a '-' number whose recent-century reading
    # would be under 18 belongs to the previous century.
    # Luhn of 081125123: 0,8,2,1,4,5,2,2,6 = 30 → check digit 0.
    assert normalise("081125-1230").birth_date == date(2008, 11, 25)  # 18 today
    # 081126123: 0,8,2,1,4,6,2,2,6 = 31 → check digit 9; would be 17 → 1908.
    assert normalise("081126-1239").birth_date == date(1908, 11, 26)
    # 850101123 → 7,5,0,1,0,1,2,2,6 = 24 → check digit 6.
    assert normalise("8501011236").canonical == "198501011236"


# --- P3: centenarians, samordningsnummer, rejections ------------------------


def test_p3_plus_separator_means_100_or_older() -> None:
    ident = normalise("121212+1212")
    assert ident.kind == "personnummer"
    assert ident.canonical == "191212121212"
    assert ident.birth_date == date(1912, 12, 12)


def test_plus_separator_from_the_year_of_the_100th_birthday() -> None:
    # Skatteverket: '+' is used from the calendar year the person turns 100,
    # so 261201+NNNC in 2026 (birthday still ahead) is 1926, not 1826.
    # 261201123: 4,6,2,2,0,1,2,2,6 = 25 → check digit 5.
    assert normalise("261201+1235").birth_date == date(1926, 12, 1)


def test_p3_samordningsnummer() -> None:
    # 701063-2391 (Skatteverket's sample): day 63 = 3 + 60, born 1970-10-03.
    # Luhn over 701063239 with weights 2,1,2,1,...:
    #   7*2=14→1+4=5, 0, 1*2=2, 0, 6*2=12→1+2=3, 3, 2*2=4, 3, 9*2=18→1+8=9
    #   sum = 5+0+2+0+3+3+4+3+9 = 29 → check digit (10 - 9) % 10 = 1.
    for raw in ("701063-2391", "7010632391", "19701063-2391", "197010632391"):
        ident = normalise(raw)
        assert ident.kind == "samordningsnummer"
        assert ident.canonical == "197010632391"
        assert ident.birth_date == date(1970, 10, 3)


def test_p3_wrong_check_digit() -> None:
    with pytest.raises(InvalidClientIdentifier) as exc_info:
        normalise("121212-1213")
    assert exc_info.value.reason_code == "checksum"


def test_p3_31_february() -> None:
    # 800231-1234: Luhn over 800231123:
    #   8*2=16→7, 0, 0, 2, 3*2=6, 1, 1*2=2, 2, 3*2=6 → sum 26 → check digit 4.
    # So only the date is wrong.
    with pytest.raises(InvalidClientIdentifier) as exc_info:
        normalise("800231-1234")
    assert exc_info.value.reason_code == "date"


@pytest.mark.parametrize(
    "without_check", ["19801301-123", "800001-123", "19800100-123", "000229-123"]
)
def test_other_impossible_dates(without_check: str) -> None:
    # Month 13, month 00, day 00, and 29 Feb 1900 (in 2017 "000229" cannot be
    # 2000: that person would be 16). The check digit is made correct, so only
    # the date is wrong.
    raw = without_check + luhn(without_check.replace("-", "")[-9:])
    with pytest.raises(InvalidClientIdentifier) as exc_info:
        normalise_client_identifier(raw, today=date(2017, 1, 1))
    assert exc_info.value.reason_code == "date"


def test_p3_future_birth_date() -> None:
    # 20270101-1237: Luhn over 270101123 = 4+7+0+1+0+1+2+2+6 = 23 → 7.
    with pytest.raises(InvalidClientIdentifier) as exc_info:
        normalise("20270101-1237")
    assert exc_info.value.reason_code == "future"


def test_twelve_digits_with_plus_must_be_a_centenarian() -> None:
    assert normalise("19121212+1212").canonical == "191212121212"
    # 19850101123C is valid with '-', but '+' contradicts the explicit century.
    with pytest.raises(InvalidClientIdentifier) as exc_info:
        normalise("19850101+1236")
    assert exc_info.value.reason_code == "format"


def test_p3_local_free_form_code() -> None:
    first = normalise("ABC 123")
    second = normalise(" abc  123 ")
    assert first.kind == "local"
    assert first.birth_date is None
    assert first.canonical == second.canonical == "local:abc 123"


def test_local_code_unicode_normalisation() -> None:
    composed = normalise("Åsa-1")  # U+00C5
    decomposed = normalise("A\u030asa-1")  # A + combining ring
    assert composed.canonical == decomposed.canonical == "local:åsa-1"
    assert normalise("STRASSE 1").canonical == normalise("Straße 1").canonical


@pytest.mark.parametrize(
    "value",
    ["121212 1212", "12121-21212", "12345678901", "1212121212121", "121212--1212"],
)
def test_near_numbers_are_local_codes(value: str) -> None:
    # Only 10 or 12 digits with at most one -/+ before the last four count as
    # personnummer; anything else is the unit's own code.
    assert normalise(value).kind == "local"


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "a" * 65, "abc\tdef", "abc\x00def", "abc\u200bdef", "line\nbreak", "\x7f"],
)
def test_local_code_format_errors(raw: str) -> None:
    with pytest.raises(InvalidClientIdentifier) as exc_info:
        normalise(raw)
    assert exc_info.value.reason_code == "format"


def test_local_code_length_limit_is_inclusive() -> None:
    assert normalise(" " + "x" * 64 + " ").canonical == "local:" + "x" * 64


@pytest.mark.parametrize(
    "raw",
    [
        "121212-1213",
        "1212121213",
        "800231-1234",
        "20270101-1237",
        "19850101+1236",
        "abc\x00def",
        "a" * 65,
    ],
)
def test_exception_never_contains_the_value(raw: str) -> None:
    with pytest.raises(InvalidClientIdentifier) as exc_info:
        normalise(raw)
    exc = exc_info.value
    digits = "".join(ch for ch in raw if ch.isdigit())
    for text in (str(exc), repr(exc), *map(str, exc.args)):
        assert raw.strip() not in text
        if digits:
            assert digits not in text
            assert digits[-4:] not in text
    assert exc.__cause__ is None
    assert exc.__suppress_context__ or exc.__context__ is None
    assert " / " in str(exc)  # Swedish and English


def test_repr_does_not_leak_identifier() -> None:
    ident = normalise("19121212-1212")
    assert "1212" not in repr(ident)
    assert "1912" not in repr(ident)


def test_age_on() -> None:
    born = date(1912, 12, 12)
    assert age_on(born, date(2026, 12, 11)) == 113
    assert age_on(born, date(2026, 12, 12)) == 114
    leap = date(2004, 2, 29)
    assert age_on(leap, date(2022, 2, 28)) == 17
    assert age_on(leap, date(2022, 3, 1)) == 18
    assert age_on(leap, date(2024, 2, 29)) == 20
    with pytest.raises(ValueError):
        age_on(born, date(1900, 1, 1))


# --- properties --------------------------------------------------------------

_ADULT_BIRTH_DATES = st.dates(min_value=date(1927, 1, 1), max_value=date(2008, 11, 25))
_SERIALS = st.integers(min_value=0, max_value=999)


@given(born=_ADULT_BIRTH_DATES, serial=_SERIALS, coordination=st.booleans())
def test_property_all_forms_agree(born: date, serial: int, coordination: bool) -> None:
    day = born.day + (60 if coordination else 0)
    nine = f"{born:%y%m}{day:02d}{serial:03d}"
    ten = nine + luhn(nine)
    forms = [ten, f"{ten[:6]}-{ten[6:]}", f"{born.year // 100:02d}{ten}"]
    results = {normalise(raw) for raw in forms}
    assert len(results) == 1
    (ident,) = results
    assert ident.canonical == f"{born.year // 100:02d}{ten}"
    assert ident.birth_date == born
    assert ident.kind == ("samordningsnummer" if coordination else "personnummer")


@given(
    born=st.dates(min_value=date(1827, 1, 1), max_value=date(1926, 12, 31)),
    serial=_SERIALS,
)
def test_property_plus_form_agrees_with_twelve_digits(born: date, serial: int) -> None:
    nine = f"{born:%y%m%d}{serial:03d}"
    ten = nine + luhn(nine)
    plus = normalise(f"{ten[:6]}+{ten[6:]}")
    full = normalise(f"{born:%Y}{ten[2:]}")
    assert plus == full
    assert plus.birth_date == born


@given(
    born=_ADULT_BIRTH_DATES,
    serial=_SERIALS,
    wrong=st.integers(min_value=1, max_value=9),
)
def test_property_any_wrong_check_digit_is_rejected(born: date, serial: int, wrong: int) -> None:
    nine = f"{born:%y%m%d}{serial:03d}"
    bad = str((int(luhn(nine)) + wrong) % 10)
    with pytest.raises(InvalidClientIdentifier) as exc_info:
        normalise(f"{nine[:6]}-{nine[6:]}{bad}")
    assert exc_info.value.reason_code == "checksum"


def test_today_is_accepted_but_tomorrow_is_future() -> None:
    tomorrow = TODAY + timedelta(days=1)
    for born, expected in ((TODAY, None), (tomorrow, "future")):
        nine = f"{born:%y%m%d}123"
        raw = f"{born:%Y}{nine[2:]}{luhn(nine)}"
        if expected is None:
            assert normalise(raw).birth_date == born
        else:
            with pytest.raises(InvalidClientIdentifier) as exc_info:
                normalise(raw)
            assert exc_info.value.reason_code == expected
