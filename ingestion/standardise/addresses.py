"""Addresses: street abbreviations and units, city, state, postcode and country in one form each.

Streets: "123 North Main Street, Apt. 4B" -> "123 N MAIN ST UNIT 4B" (USPS-style abbreviations
for street types and directions; Apt, Apartment, Suite, Ste, Unit and # all become UNIT). Cities:
folded words, a leading St/Ft/Mt spelled out. States: US names and codes to the two-letter code.
Postcodes in their base form per country: US ZIP+4 -> 5 digits (spreadsheet-trimmed leading zeros
restored), Canadian "A1A 1A1", UK outward + inward code. Countries: ISO 3166 alpha-2 from a code
or an English name (names from phonenumbers' region data).
"""

from __future__ import annotations

from functools import cache

from phonenumbers import SUPPORTED_REGIONS

from ingestion.duck import literal
from ingestion.standardise.macros import evaluate, register, sql_list, sql_map

STREET_WORDS = {
    "ALLEY": "ALY", "AVENUE": "AVE", "AV": "AVE", "AVEN": "AVE", "BOULEVARD": "BLVD", "BOUL": "BLVD",
    "BRIDGE": "BRG", "BYPASS": "BYP", "CAUSEWAY": "CSWY", "CENTER": "CTR", "CENTRE": "CTR", "CIRCLE": "CIR",
    "COURT": "CT", "CRT": "CT", "COVE": "CV", "CREEK": "CRK", "CRESCENT": "CRES", "CROSSING": "XING",
    "DRIVE": "DR", "DRV": "DR", "ESTATES": "EST", "EXPRESSWAY": "EXPY", "EXTENSION": "EXT", "FREEWAY": "FWY",
    "GARDENS": "GDNS", "GROVE": "GRV", "HARBOR": "HBR", "HEIGHTS": "HTS", "HIGHWAY": "HWY", "HILL": "HL",
    "HOLLOW": "HOLW", "JUNCTION": "JCT", "LAKE": "LK", "LANDING": "LNDG", "LANE": "LN", "MANOR": "MNR",
    "MEADOWS": "MDWS", "MOUNT": "MT", "MOUNTAIN": "MTN", "PARKWAY": "PKWY", "PKY": "PKWY", "PLACE": "PL",
    "PLAZA": "PLZ", "POINT": "PT", "RIDGE": "RDG", "ROAD": "RD", "ROUTE": "RTE", "SQUARE": "SQ",
    "STREET": "ST", "STR": "ST", "TERRACE": "TER", "TERR": "TER", "TRAIL": "TRL", "TURNPIKE": "TPKE",
    "VALLEY": "VLY", "VIEW": "VW", "VILLAGE": "VLG", "VISTA": "VIS",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W", "NORTHEAST": "NE", "NORTHWEST": "NW",
    "SOUTHEAST": "SE", "SOUTHWEST": "SW",
    "APARTMENT": "UNIT", "APT": "UNIT", "SUITE": "UNIT", "STE": "UNIT", "#": "UNIT",
    "BUILDING": "BLDG", "FLOOR": "FL", "ROOM": "RM", "DEPARTMENT": "DEPT",
}
US_STATES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA", "COLORADO": "CO",
    "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC", "FLORIDA": "FL", "GEORGIA": "GA",
    "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL", "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS",
    "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA",
    "MICHIGAN": "MI", "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT",
    "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM",
    "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK",
    "OREGON": "OR", "PENNSYLVANIA": "PA", "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD",
    "TENNESSEE": "TN", "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY", "PUERTO RICO": "PR", "GUAM": "GU",
    "VIRGIN ISLANDS": "VI", "AMERICAN SAMOA": "AS", "NORTHERN MARIANA ISLANDS": "MP",
    "ARMED FORCES AMERICAS": "AA", "ARMED FORCES EUROPE": "AE", "ARMED FORCES PACIFIC": "AP",
}
COUNTRY_ALIASES = {
    "USA": "US", "U S A": "US", "U S": "US", "UNITED STATES OF AMERICA": "US", "AMERICA": "US",
    "UK": "GB", "U K": "GB", "GREAT BRITAIN": "GB", "BRITAIN": "GB", "ENGLAND": "GB", "SCOTLAND": "GB",
    "WALES": "GB", "NORTHERN IRELAND": "GB", "HOLLAND": "NL", "DEUTSCHLAND": "DE", "ESPANA": "ES",
    "MEXICO": "MX", "CANADA": "CA",
}


def _country_rows() -> list[tuple[str, str]]:
    """(name or code, ISO code) for every region phonenumbers knows."""
    return [(code, code) for code in sorted(SUPPORTED_REGIONS)] + list(country_names().items())


@cache
def _countries_table() -> str:
    """SQL creating cdp_countries: every code and English name, folded by the macro their values are looked up with."""
    rows = ", ".join(f"({literal(n)}, '{c}')" for n, c in _country_rows())
    return ("create or replace temp table cdp_countries as select distinct on (name) cdp_words(name) as name, code "
            f"from (values {rows}) t(name, code)")


def country_names() -> dict[str, str]:
    """English country name or alias -> ISO 3166 alpha-2 (folded like values when the macro is installed)."""
    # Imported here: the region names take half a second to import, and only installing the macros needs them.
    from phonenumbers.geodata.locale import LOCALE_DATA

    names: dict[str, str] = {}
    for code, by_language in LOCALE_DATA.items():
        english = by_language.get("en", "")
        while english.startswith("*"):  # a reference to another language's entry
            english = by_language.get(english[1:], "")
        if english and len(code) == 2:
            names.setdefault(english.upper(), code)
    return names | COUNTRY_ALIASES


register(
    "create or replace temp macro cdp_words(x) as "
    "nullif(trim(regexp_replace(replace(cdp_fold(x), '''', ''), '[^A-Z0-9]+', ' ', 'g')), '')",
    "create or replace temp macro cdp_street_words(x) as string_split(trim(regexp_replace("
    "replace(replace(replace(cdp_fold(x), '.', ''), '''', ''), '#', ' # '), '[^A-Z0-9#]+', ' ', 'g')), ' ')",
    "create or replace temp macro cdp_street(x) as nullif(replace(array_to_string(list_transform("
    f"cdp_street_words(x), lambda w: coalesce({sql_map(STREET_WORDS)}[w], w)), ' '), 'UNIT UNIT', 'UNIT'), '')",
    "create or replace temp macro cdp_city_words(w) as case when regexp_matches(w, '^(ST|FT|MT) ') then "
    "case left(w, 2) when 'ST' then 'SAINT' when 'FT' then 'FORT' else 'MOUNT' end || w[3:] else w end",
    "create or replace temp macro cdp_city(x) as cdp_city_words(cdp_words(regexp_replace(x, '[0-9]', '', 'g')))",
    # "N.Y." folds to "N Y": a code may come spaced out
    "create or replace temp macro cdp_us_state(s) as case when list_contains("
    f"{sql_list(sorted(set(US_STATES.values())))}, replace(s, ' ', '')) then replace(s, ' ', '') "
    f"else {sql_map(US_STATES)}[s] end",
    "create or replace temp macro cdp_state(x, country) as "
    "case when country = 'US' then cdp_us_state(cdp_words(x)) else cdp_words(x) end",
    "create or replace temp macro cdp_zip(t) as case "
    "when regexp_full_match(t, '[0-9]{5}([ -]?[0-9]{4})?') then nullif(left(t, 5), '00000') "
    "when regexp_full_match(t, '[0-9]{3,4}') then lpad(t, 5, '0') end",
    "create or replace temp macro cdp_postcode_of(t, country) as case country "
    "when 'US' then cdp_zip(t) "
    "when 'CA' then case when regexp_full_match(t, '[A-Z][0-9][A-Z][0-9][A-Z][0-9]') then t[1:3] || ' ' || t[4:] end "
    "when 'GB' then case when regexp_full_match(t, '[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}') "
    "then t[1:-4] || ' ' || t[-3:] end "
    "else nullif(t, '') end",
    # US ZIPs keep their dash (ZIP+4); elsewhere spaces and dashes go
    "create or replace temp macro cdp_postcode(x, country) as cdp_postcode_of(case when country = 'US' "
    "then trim(x) else regexp_replace(upper(x), '[^A-Z0-9]', '', 'g') end, country)",
    _countries_table,  # built when first installed: it needs the region names
    "create or replace temp macro cdp_country(x) as (select code from cdp_countries where name = cdp_words(x))",
)


def normalise_street(value: str | None) -> str | None:
    """A street line as ingestion stores it."""
    return evaluate("cdp_street(?::VARCHAR)", value)


def normalise_country(value: str | None) -> str | None:
    """ISO 3166 alpha-2 code of a country code or English name ("United States", "USA" -> "US")."""
    return evaluate("cdp_country(?::VARCHAR)", value)


def normalise_postcode(value: str | None, country: str = "US") -> str | None:
    """A postcode in its base form for `country`, or None when it is not one."""
    return evaluate("cdp_postcode(?::VARCHAR, ?::VARCHAR)", value, country)
