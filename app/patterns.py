"""The regular expressions the register checks text with, in one place.

Request bodies, catalogue values, local variables, client identifiers,
caseworker references, request ids and the log filter all use these; a second
copy elsewhere would drift (ISO dates once accepted a timestamp in one place
and not in another).
"""

from __future__ import annotations

import re
from typing import Final

ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
"""A date as ``YYYY-MM-DD`` and nothing else (no time, no week dates)."""

LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
"""Lone surrogates: what undecodable bytes and JSON escapes such as ``"\\ud800"``
become. Valid JSON, but text no database can store or encrypt."""

PERSONAL_NUMBER: Final = re.compile(r"(?P<date>[0-9]{6}|[0-9]{8})(?P<sep>[-+]?)(?P<tail>[0-9]{4})")
"""A whole value shaped like a personnummer or samordningsnummer (ASCII digits
only: ``\\d`` would also match e.g. Arabic-Indic digits)."""

EMBEDDED_PERSONAL_NUMBER: Final = re.compile(
    r"(?<![0-9])(?:[0-9]{2})?[0-9]{6}[-+ ]?[0-9]{4}(?![0-9])"
)
"""Something shaped like a personnummer anywhere in a text, valid or not."""


def unstorable(text: str) -> str | None:
    """``nul_character`` or ``string_unicode`` when ``text`` cannot be stored."""
    if "\x00" in text:
        return "nul_character"
    if LONE_SURROGATE.search(text):
        return "string_unicode"
    return None
