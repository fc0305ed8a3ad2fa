"""The standardisation SQL of ingestion, in plain Python, for one record at a time on the request path.

Each function here mirrors one macro of the attribute modules (names, emails, addresses, tax ids,
dates) step by step, so a value comes out exactly as staging writes it, in microseconds rather than a
DuckDB round trip behind a lock. Phones are already read by phonenumbers in Python (`read_phone`).
The SQL stays the reference: tests/ingestion/test_fast.py runs both over generated messy values and
requires equal results. ASCII is the fast path; a value with other characters goes to the SQL
itself (`macros.evaluate`), since DuckDB's Unicode case mapping and accent stripping are its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import phonenumbers

from ingestion.standardise import addresses, emails, names, tax_ids
from ingestion.standardise.macros import evaluate
from ingestion.standardise.phones import read_phone

_TITLES = frozenset(names.TITLES)
_NOT_WORDS = frozenset([*names.SUFFIXES, *names.DEGREES])
_PARTICLES = frozenset(names.PARTICLES)
_GMAIL = ("gmail.com", "googlemail.com")
_EMAIL = re.compile(emails.PATTERN)
_EMAIL_PLACEHOLDERS = frozenset(emails.PLACEHOLDERS)
_US_CODES = frozenset(addresses.US_STATES.values())
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The oldest birth date ingestion keeps; 1900-01-01 and 1901-01-01 are placeholders (dates.PLACEHOLDERS).
_FIRST_BIRTH, _PLACEHOLDER_DATES = dt.date(1900, 1, 2), (dt.date(1900, 1, 1), dt.date(1901, 1, 1))


def _sql(value: str) -> bool:
    """Whether `value` must go to the SQL itself: DuckDB folds non-ASCII text its own way."""
    return not value.isascii()


def _trim(value: str) -> str:
    """DuckDB's trim() of ASCII text: spaces only (tabs and newlines stay)."""
    return value.strip(" ")


def _blank(value: str | None) -> bool:
    """nullif(trim(value), '') is null (DuckDB's trim also takes Unicode spaces)."""
    if value is None:
        return True
    return bool(evaluate("nullif(trim(?::VARCHAR), '') is null", value)) if _sql(value) else not _trim(value)


def name_tokens(value: str) -> list[str]:
    """cdp_name_tokens of an ASCII value: words, commas as words of their own, titles dropped."""
    text = value.upper().replace(".", "").replace("'", "").replace("`", "").replace(",", " , ")
    return [t for t in re.sub(r"[^A-Z,-]+", " ", text).split(" ") if t.strip("-") and t not in _TITLES]


def _words(tokens: list[str]) -> list[str]:
    return [w for w in tokens if w not in _NOT_WORDS]


def _suffix(tokens: list[str]) -> str | None:
    return next((names.SUFFIXES[w] for w in tokens if w in names.SUFFIXES), None)


def name_clean(value: str | None) -> list[str] | None:
    """cdp_name_clean: the cleaned words of a name, suffixes, degrees and commas dropped."""
    if value is None:
        return None
    if _sql(value):
        return evaluate("cdp_name_clean(?::VARCHAR)", value)
    return [w for w in _words(name_tokens(value)) if w != ","]


def clean_name(value: str | None) -> str | None:
    """cdp_name: a name as ingestion cleans it ("José" -> "JOSE")."""
    words = name_clean(value)
    return " ".join(words) or None if words is not None else None


def name_suffix(value: str | None) -> str | None:
    """cdp_name_suffix: the generational suffix in a value (JR, SR, II, III, IV), if any."""
    if value is None:
        return None
    if _sql(value):
        return evaluate("cdp_name_suffix(?::VARCHAR)", value)
    return _suffix(name_tokens(value))


def split_name(value: str | None) -> names.NameParts:
    """names.PARSE_STEPS: "SMITH, John A." or "Dr John A. Smith Jr" into cleaned parts."""
    if value is None:
        return names.NameParts(None, None, None, None)
    if _sql(value):
        return names.parse_name(value)
    tokens = name_tokens(value)
    words, suffix = _words(tokens), _suffix(tokens)
    plain = [w for w in words if w != ","]
    comma = words.index(",") + 1 if "," in words else 0  # list_position: 1-based, here 0 when absent
    if 1 < comma < len(words):  # "LAST, Given"
        given, surname = [w for w in words[comma:] if w != ","], words[:comma - 1]
    else:  # "Given Last": the surname is the last word and the particles right before it
        cut = max((i for i in range(1, len(plain)) if plain[i - 1] not in _PARTICLES), default=0)
        given, surname = plain[:cut], plain[cut:]
    return names.NameParts(given[0] if given else None, " ".join(given[1:]) or None, " ".join(surname) or None,
                           suffix)


def first_name_root(first_name: str | None) -> str | None:
    """The nickname folded (BOB -> ROBERT) of a cleaned first word, as staging joins cdp_nicknames."""
    return None if first_name is None else names.nicknames().get(first_name, first_name)


def email(value: str | None) -> str | None:
    """cdp_email: an email as ingestion stores it, or None when it is not a valid address."""
    if value is None:
        return None
    if _sql(value):
        return evaluate("cdp_email(?::VARCHAR)", value)
    if "<" in value:  # regexp_extract: '' when there is no <address>
        found = re.search(r"<([^<>]*)>", value)
        value = found.group(1) if found else ""
    unwrapped = _trim(value).lower()
    clean = unwrapped[7:] if unwrapped.startswith("mailto:") else unwrapped
    user, _, domain = clean.partition("@")
    if not _EMAIL.fullmatch(clean) or user in _EMAIL_PLACEHOLDERS:
        return None
    if domain in _GMAIL:
        folded = user.split("+")[0].replace(".", "")
        return folded + "@gmail.com" if folded else None
    return clean


def phone(value: str | None, region: str | None) -> str | None:
    """The phone in E.164 as staging's phone_map gives it: read by phonenumbers in the row's country."""
    if value is None or region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    return read_phone(value, region)[0]


def street(value: str | None) -> str | None:
    """cdp_street: USPS abbreviations, units as UNIT ("123 North Main Street, Apt. 4B" -> "123 N MAIN ST UNIT 4B")."""
    if value is None:
        return None
    if _sql(value):
        return evaluate("cdp_street(?::VARCHAR)", value)
    text = value.upper().replace(".", "").replace("'", "").replace("#", " # ")
    words = re.sub(r"[^A-Z0-9#]+", " ", text).strip(" ").split(" ")
    return " ".join(addresses.STREET_WORDS.get(w, w) for w in words).replace("UNIT UNIT", "UNIT") or None


def place_words(value: str | None) -> str | None:
    """cdp_words: folded words of letters and digits, single-spaced."""
    if value is None:
        return None
    if _sql(value):
        return evaluate("cdp_words(?::VARCHAR)", value)
    return re.sub(r"[^A-Z0-9]+", " ", value.upper().replace("'", "")).strip(" ") or None


def city(value: str | None) -> str | None:
    """cdp_city: folded words without digits, a leading St/Ft/Mt spelled out."""
    words = place_words(None if value is None else re.sub(r"[0-9]", "", value))
    if words is None or not re.match(r"(ST|FT|MT) ", words):
        return words
    return {"ST": "SAINT", "FT": "FORT", "MT": "MOUNT"}[words[:2]] + words[2:]


def state(value: str | None, region: str | None) -> str | None:
    """cdp_state: a US state's two-letter code from its name or code; elsewhere the folded words."""
    words = place_words(value)
    if region != "US" or words is None:
        return words
    code = words.replace(" ", "")
    return code if code in _US_CODES else addresses.US_STATES.get(words)


def postcode(value: str | None, region: str | None) -> str | None:
    """cdp_postcode: a postcode in its base form for the region, or None when it is not one."""
    if value is None:
        return None
    if _sql(value):
        return evaluate("cdp_postcode(?::VARCHAR, ?::VARCHAR)", value, region)
    text = _trim(value) if region == "US" else re.sub(r"[^A-Z0-9]", "", value.upper())
    if region == "US":
        if re.fullmatch(r"[0-9]{5}([ -]?[0-9]{4})?", text):
            return None if text[:5] == "00000" else text[:5]
        return text.rjust(5, "0") if re.fullmatch(r"[0-9]{3,4}", text) else None
    if region == "CA":
        return text[:3] + " " + text[3:] if re.fullmatch(r"[A-Z][0-9][A-Z][0-9][A-Z][0-9]", text) else None
    if region == "GB":
        return text[:-3] + " " + text[-3:] if re.fullmatch(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}", text) else None
    return text or None


@cache
def _countries() -> dict[str, str]:
    """cdp_countries as DuckDB built it (folded name -> code), read once: which code a folded name that two
    entries share keeps is the table's own choice."""
    return dict(evaluate("(select map(list(name), list(code)) from cdp_countries)"))


def country(value: str | None) -> str | None:
    """cdp_country: ISO 3166 alpha-2 of a code or English name."""
    words = place_words(value)
    return None if words is None else _countries().get(words)


def tax_id(value: str | None, region: str | None) -> str | None:
    """cdp_tax_id: the digits when valid for the region (a US SSN by the SSA's rules; elsewhere 5 to 20 digits)."""
    if value is None:
        return None
    if _sql(value):
        return evaluate("cdp_tax_id(?::VARCHAR, ?::VARCHAR)", value, region)
    if not re.fullmatch(r"[0-9][0-9 .-]*[0-9]", _trim(value)):
        return None
    digits = re.sub(r"[^0-9]", "", value)
    if region != "US":
        return digits if 5 <= len(digits) <= 20 else None
    valid = (len(digits) == 9 and digits[:3] not in ("000", "666") and digits[0] != "9" and digits[3:5] != "00"
             and digits[5:] != "0000" and digits not in tax_ids.VOIDED)
    return digits if valid else None


def iso_birth_date(value: str, today: dt.date | None = None) -> dt.date:
    """A YYYY-MM-DD birth date as ingestion keeps it; ValueError saying why when it would not be kept."""
    if not _ISO_DATE.fullmatch(_trim(value)):
        raise ValueError("not an ISO date (YYYY-MM-DD)")
    day = dt.date.fromisoformat(_trim(value))  # ValueError for a day that does not exist
    if day in _PLACEHOLDER_DATES:
        raise ValueError("a placeholder date")
    if not _FIRST_BIRTH <= day <= (today or dt.date.today()):
        raise ValueError(f"out of range ({day})")
    return day


@dataclass(frozen=True)
class Staged:
    """One record's standardised values, as staging writes them into staged_<source>."""

    first_name: str | None
    middle_name: str | None
    last_name: str | None
    name_suffix: str | None
    first_name_root: str | None
    email: str | None
    phone: str | None
    street: str | None
    city: str | None
    state: str | None
    postcode: str | None
    country: str | None
    tax_id: str | None
    birth_date: dt.date | None


def stage(values: Mapping[str, str | None], default_country: str = "US") -> Staged:
    """One record's canonical attributes (raw text; birth_date in ISO form) standardised as
    ingestion.standardise.records stages a row of a source whose `country:` is `default_country`.

    ValueError("birth_date: ...") when the birth date is not one ingestion would keep.
    """
    get = values.get
    raw_country = get("country")
    given = default_country.upper()
    found = given if _blank(raw_country) else country(raw_country)
    region = found or given
    words, full = name_clean(get("first_name")), split_name(get("full_name"))
    first = words[0] if words else full.first
    middle = clean_name(get("middle_name")) or (" ".join(words[1:]) or None if words else None) or full.middle
    return Staged(
        first_name=first, middle_name=middle, last_name=clean_name(get("last_name")) or full.last,
        name_suffix=name_suffix(get("last_name")) or full.suffix, first_name_root=first_name_root(first),
        email=email(get("email")), phone=phone(get("phone"), region), street=street(get("street")),
        city=city(get("city")), state=state(get("state"), region), postcode=postcode(get("postcode"), region),
        country=found, tax_id=tax_id(get("tax_id"), region), birth_date=_birth_date(get("birth_date")))


def _birth_date(value: str | None) -> dt.date | None:
    if value is None or _blank(value):
        return None
    try:
        return iso_birth_date(value)
    except ValueError as exc:
        raise ValueError(f"birth_date: {exc}") from None
