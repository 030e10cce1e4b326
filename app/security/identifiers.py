"""Normalisation of client identifiers before pseudonymisation.

A value that *looks like* a personnummer or samordningsnummer (10 or 12 digits,
optionally with ``-``/``+`` before the last four) must be a valid one; anything
else is the unit's own free-form code. Every accepted value gets one canonical
string, so that the same person always yields the same pseudonym.

Nothing in this module may put the identifier into an exception or a log.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

from app.patterns import EMBEDDED_PERSONAL_NUMBER, PERSONAL_NUMBER

__all__ = [
    "ClientIdentifier",
    "IdentifierKind",
    "InvalidClientIdentifier",
    "ReasonCode",
    "age_on",
    "normalise_client_identifier",
]

IdentifierKind = Literal["personnummer", "samordningsnummer", "local"]
ReasonCode = Literal["checksum", "date", "future", "format"]

LOCAL_PREFIX: Final = "local:"
LOCAL_MAX_LENGTH: Final = 64
SAMORDNING_DAY_OFFSET: Final = 60
# The register holds adults only, so a 10-digit number without "+" is read as
# belonging to someone aged 18 or over: "121212-1212" is 1912, not 2012. This
# is what acceptance criterion P2 requires (it equates 121212-1212 with
# 19121212-1212). Setting this to 0 gives the plain "not in the future" rule.
CENTURY_INFERENCE_MIN_AGE: Final = 18


# Unicode categories never allowed in a local code: control, format (e.g.
# zero-width joiners, which would make look-alike codes differ), surrogates,
# private use, unassigned, and line/paragraph separators.
_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

_MESSAGES: Final[dict[ReasonCode, str]] = {
    "checksum": (
        "Ogiltigt person- eller samordningsnummer: kontrollsiffran stämmer inte. "
        "/ Invalid personal identity or coordination number: check digit mismatch."
    ),
    "date": (
        "Ogiltigt person- eller samordningsnummer: datumdelen är inte ett giltigt datum. "
        "/ Invalid personal identity or coordination number: the date part is not a valid date."
    ),
    "future": (
        "Ogiltigt person- eller samordningsnummer: födelsedatumet ligger i framtiden. "
        "/ Invalid personal identity or coordination number: the birth date is in the future."
    ),
    "format": (
        "Ogiltig klientidentitet: tom, för lång eller innehåller otillåtna tecken. "
        "/ Invalid client identifier: empty, too long or contains disallowed characters."
    ),
}


class InvalidClientIdentifier(ValueError):
    """A rejected client identifier. The message never contains the value."""

    def __init__(self, reason_code: ReasonCode) -> None:
        self.reason_code: ReasonCode = reason_code
        super().__init__(_MESSAGES[reason_code])


@dataclass(frozen=True, slots=True)
class ClientIdentifier:
    """A normalised client identifier.

    ``canonical`` and ``birth_date`` are excluded from ``repr`` so that an
    accidentally logged object does not leak personal data.
    """

    kind: IdentifierKind
    canonical: str = field(repr=False)
    birth_date: date | None = field(repr=False)


def normalise_client_identifier(raw: str, *, today: date) -> ClientIdentifier:
    """Validate ``raw`` and return its canonical form.

    Personnummer and samordningsnummer become 12 digits ``YYYYMMDDNNNC``;
    other values become ``"local:" + NFC, whitespace-collapsed, casefolded``.
    Raises :class:`InvalidClientIdentifier` with a reason code.
    """
    value = raw.strip()
    match = PERSONAL_NUMBER.fullmatch(value)
    if match is None:
        return _local(value)
    return _personal_number(match["date"], match["sep"], match["tail"], today)


def contains_personal_number(text: str) -> bool:
    """Whether ``text`` holds something shaped like a personnummer or
    samordningsnummer (10 or 12 digits, optionally with - or +), valid or not:
    such a text must not be stored where only a reference belongs."""
    return EMBEDDED_PERSONAL_NUMBER.search(text) is not None


def age_on(birth_date: date, day: date) -> int:
    """Age in completed years on ``day``.

    Someone born on 29 February turns a year older on 1 March in common years.
    """
    if day < birth_date:
        raise ValueError("Dagen ligger före födelsedatumet. / The day is before the birth date.")
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


def _local(value: str) -> ClientIdentifier:
    text = unicodedata.normalize("NFC", value)
    if not 1 <= len(text) <= LOCAL_MAX_LENGTH:
        raise InvalidClientIdentifier("format")
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in text):
        raise InvalidClientIdentifier("format")
    collapsed = " ".join(text.split())
    return ClientIdentifier(
        kind="local", canonical=LOCAL_PREFIX + collapsed.casefold(), birth_date=None
    )


def _personal_number(date_part: str, separator: str, tail: str, today: date) -> ClientIdentifier:
    short = date_part[-6:] + tail  # YYMMDDNNNC, the form the check digit covers
    if _luhn_check_digit(short[:9]) != int(short[9]):
        raise InvalidClientIdentifier("checksum")

    month = int(short[2:4])
    day = int(short[4:6])
    kind: IdentifierKind = "personnummer"
    if day > SAMORDNING_DAY_OFFSET:
        kind = "samordningsnummer"
        day -= SAMORDNING_DAY_OFFSET

    if len(date_part) == 8:
        year = int(date_part[:4])
        if separator == "+" and today.year - year < 100:
            # "+" marks someone who turns 100 this year or earlier; an explicit
            # century that contradicts it is ambiguous, so refuse it.
            raise InvalidClientIdentifier("format")
    else:
        year = _infer_year(int(short[:2]), month, day, separator, today)

    try:
        birth_date = date(year, month, day)
    except ValueError:
        raise InvalidClientIdentifier("date") from None
    if birth_date > today:
        raise InvalidClientIdentifier("future")

    canonical = f"{year:04d}{short[2:]}"
    return ClientIdentifier(kind=kind, canonical=canonical, birth_date=birth_date)


def _infer_year(yy: int, month: int, day: int, separator: str, today: date) -> int:
    if separator == "+":
        # Skatteverket: "+" replaces "-" from the calendar year the person
        # turns 100, so take the latest matching year at least 100 years back.
        latest = today.year - 100
        return latest - (latest - yy) % 100
    # "-" or none: the most recent century in which the person is at least
    # CENTURY_INFERENCE_MIN_AGE today (hence never a future birth date).
    # Compared as tuples so an invalid date is reported as "date" afterwards.
    year = today.year - (today.year - yy) % 100
    if (year + CENTURY_INFERENCE_MIN_AGE, month, day) > (today.year, today.month, today.day):
        year -= 100
    return year


def _luhn_check_digit(digits: str) -> int:
    total = 0
    for index, char in enumerate(digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10
