"""Phone numbers to E.164, read as `phonenumbers` reads them, in the row's country by default.

`phonenumbers` (parse, is_possible_number, is_valid_number, format E.164) is the reference, and
`read_phone` is exactly that. A valid number is kept; so is a plausible one, of a possible length
and shape for its calling code: a well-formed number whose area code phonenumbers' metadata does
not list today is still evidence for matching (metadata changes; Canadian and Caribbean +1
numbers share the plan), and staging flags it. A number only possible locally (a US number
without its area code), of no possible length or shape, or one digit repeated is dropped.

Running phonenumbers on a million values takes too long, so `phone_map` first settles in SQL
every value whose reading is certain: digits with the usual separators, an optional leading +
and an optional extension, in one of the layouts phonenumbers reads without guessing (national
number; +cc; cc without +; national prefix + number). Validity is phonenumbers' own test (length
lists and patterns of every number type of each region sharing the calling code, in its region
order), built from its metadata; plausibility its possible lengths and general pattern. Anything
else goes to phonenumbers, once per distinct value. The tests run both paths over thousands of
generated numbers and require identical results.
"""

from __future__ import annotations

import re

import duckdb
import phonenumbers
import pyarrow as pa
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberDesc, ValidationResult

from ingestion.duck import literal

TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
         "fixed_line", "mobile")
SEPARATORS = r"[\s().-]"
WELL_FORMED = rf"{SEPARATORS}*\+?[\d\s().-]*\d[\d\s().-]*"
# A trailing extension as phonenumbers strips it ("x12", "ext. 7", "extension 3"; its digit limits
# are 9 and 20, so up to 9 is safe); what is left is read as the number. E.164 drops extensions.
EXTENSION = r"(?i)^(.*[0-9])[ \t,]*(?:e?xt(?:ension)?n?|x)[:.]?[ \t,-]*[0-9]{1,9}$"


def read_phone(value: str | None, country: str = "US") -> tuple[str | None, bool]:
    """(E.164 number, valid): the number phonenumbers reads when it is valid or plausible (see `_plausible`),
    else None; valid is phonenumbers' is_valid_number (false when there is no number)."""
    if not value:
        return None, False
    try:
        number = phonenumbers.parse(value, country)
    except NumberParseException:
        return None, False
    valid = phonenumbers.is_valid_number(number)
    if not (valid or _plausible(number)):
        return None, False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), valid


def _plausible(number: phonenumbers.PhoneNumber) -> bool:
    """A full possible length for its calling code (is_possible_number, local-only lengths excluded), the
    shape of the calling code's numbers (its general pattern: a US area code starts 2-9), and not one digit
    repeated (000-000-0000 and the like are placeholders, shared by strangers)."""
    if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
        return False
    code = number.country_code
    assert code is not None  # parse sets it
    meta = _metadata(phonenumbers.region_code_for_country_code(code))
    national = phonenumbers.national_significant_number(number)
    return bool(re.fullmatch(_general(meta).national_number_pattern or "", national)) and len(set(national)) > 1


def normalise_phone(value: str | None, country: str = "US") -> str | None:
    """The number in E.164 (+15551234567), or None when it is neither valid nor plausible (see read_phone)."""
    return read_phone(value, country)[0]


def phone_map(con: duckdb.DuckDBPyConnection, pairs: str, out: str) -> None:
    """Temp table `out`(value, country, phone, valid) for the distinct (value, country) rows of `pairs`."""
    countries = [c for (c,) in con.execute(f"select distinct country from {pairs}").fetchall()]
    parts = [_settled_sql(pairs, c) for c in countries if c in phonenumbers.SUPPORTED_REGIONS]
    unknown = f"select value, country, NULL::VARCHAR as phone, false as valid, false as settled from {pairs} " \
              f"where country is null " \
              f"or country not in (select unnest(?::VARCHAR[]))"
    con.execute("create or replace temp table _cdp_phone_sql as " + " union all ".join([*parts, unknown]),
                [sorted(phonenumbers.SUPPORTED_REGIONS)])
    rest = con.execute("select value, country from _cdp_phone_sql where not settled and country is not null")
    values = rest.fetchall()
    readings = [read_phone(v, c) for v, c in values]
    con.register("_cdp_phone_fixed", pa.table({
        "value": [v for v, _ in values], "country": [c for _, c in values],
        "phone": pa.array([p for p, _ in readings], pa.string()),
        "valid": pa.array([ok for _, ok in readings], pa.bool_())}))
    con.execute(f"""create or replace temp table {out} as
                    select s.value, s.country, if(s.settled, s.phone, f.phone) as phone,
                           coalesce(if(s.settled, s.valid, f.valid), false) as valid
                    from _cdp_phone_sql s left join _cdp_phone_fixed f using (value, country)""")
    con.unregister("_cdp_phone_fixed")
    con.execute("drop table _cdp_phone_sql")


def _metadata(region: str) -> PhoneMetadata:
    meta = PhoneMetadata.metadata_for_region(region)
    assert meta is not None and meta.country_code is not None and meta.general_desc is not None, region
    return meta


def _settled_sql(pairs: str, region: str) -> str:
    """(value, country, phone, valid, settled) for the rows of one default region, settled where certain."""
    meta = _metadata(region)
    cc = str(meta.country_code)
    main = _metadata(phonenumbers.region_code_for_country_code(int(cc)))
    return f"""
        select value, country, case when valid or plausible then '+{cc}' || nat end as phone, valid,
               coalesce(sure or (sure_if_valid and valid), false) as settled
        from (select *, case when nat is not null then {_valid(int(cc), 'nat')} else false end as valid,
                     coalesce({_plausible_sql(main, 'nat')}, false) as plausible
              from (select value, country, {_layouts(meta, main, cc)}
                    from (select value, country, regexp_full_match(n, {literal(WELL_FORMED)}) as ok,
                                 regexp_matches(n, {literal('^' + SEPARATORS + '*[+]')}) as plus,
                                 regexp_replace(n, '[^0-9]', '', 'g') as d
                          from (select *, coalesce(nullif(regexp_extract(value, {literal(EXTENSION)}, 1), ''),
                                                   value) as n
                                from {pairs} where country = {literal(region)}))))"""


def _layouts(meta: PhoneMetadata, main: PhoneMetadata, cc: str) -> str:
    """nat, sure, sure_if_valid: the national number phonenumbers would read, and whether that is certain.

    Mirrors phonenumbers.parse: +cc; else (no international prefix) cc without + when the number only
    fits the patterns without it; else the national prefix stripped when the rest fits; else as is.
    `meta` is the default region's metadata, `main` that of the calling code's main region.
    """
    rest = f"d[{len(cc) + 1}:]"
    head = f"not plus and not {_starts(meta.international_prefix, 'd')}"
    starts_cc = f"starts_with(d, '{cc}')"
    no_prefix_after_cc = f"not {_starts(main.national_prefix_for_parsing, rest)}"
    general = _general(meta).national_number_pattern
    cases = [  # (layout, nat, sure, sure_if_valid)
        (f"plus and {starts_cc}", rest, no_prefix_after_cc, "false"),
        (f"{head} and {starts_cc}", rest,
         f"not {_full(general, 'd')} and {_full(general, rest)} and "
         f"not {_starts(meta.national_prefix_for_parsing, rest)} and {no_prefix_after_cc}", "false"),
        (f"{head} and not {starts_cc} and not {_starts(meta.national_prefix_for_parsing, 'd')}", "d", "true", "false"),
    ]
    if meta.national_prefix_for_parsing and not meta.national_prefix_transform_rule:
        cases.append(_national_prefix_case(meta, f"{head} and not {starts_cc}"))
    columns = []
    for i, name in ((1, "nat"), (2, "sure"), (3, "sure_if_valid")):
        whens = " ".join(f"when {case[0]} then {case[i]}" for case in cases)
        columns.append(f"case when not ok then NULL {whens} end as {name}")
    return ", ".join(columns)


def _national_prefix_case(meta: PhoneMetadata, head: str) -> tuple[str, str, str, str]:
    """The national prefix stripped: certain when the rest fits the general pattern at a full length."""
    prefix, general = meta.national_prefix_for_parsing or "", _general(meta)
    stripped = f"d[length(regexp_extract(d, {literal('^(?:' + prefix + ')')})) + 1:]"
    lengths = ", ".join(map(str, general.possible_length)) or "-1"
    local = ", ".join(map(str, general.possible_length_local_only)) or "-1"
    fits = (f"{_full(general.national_number_pattern, stripped)} and length({stripped}) in ({lengths}) "
            f"and length({stripped}) not in ({local})")
    return f"{head} and {_starts(prefix, 'd')}", stripped, "false", fits


def _plausible_sql(main: PhoneMetadata, nat: str) -> str:
    """SQL of `_plausible`, given the calling code's main region."""
    general = _general(main)
    local = ", ".join(map(str, general.possible_length_local_only)) or "-1"
    return (f"(length({nat}) in ({', '.join(map(str, general.possible_length))}) and length({nat}) not in ({local}) "
            f"and {_full(general.national_number_pattern, nat)} and {nat} <> repeat({nat}[1], length({nat})))")


def _general(meta: PhoneMetadata) -> PhoneNumberDesc:
    assert meta.general_desc is not None  # every region has one (checked in _metadata)
    return meta.general_desc


def _starts(pattern: str | None, column: str) -> str:
    """SQL: does `column` begin with a match of `pattern` (false when there is no pattern)?"""
    return f"regexp_matches({column}, {literal('^(?:' + pattern + ')')})" if pattern else "false"


def _full(pattern: str | None, column: str) -> str:
    """SQL: does all of `column` match `pattern` (false when there is no pattern)?"""
    return f"regexp_full_match({column}, {literal(pattern)})" if pattern else "false"


def _matches(desc: PhoneNumberDesc | None, nat: str) -> str:
    """SQL of phonenumbers' `_is_number_matching_desc`: a listed length, then the full pattern."""
    if desc is None or not desc.national_number_pattern:
        return "false"
    test = f"regexp_full_match({nat}, {literal(desc.national_number_pattern)})"
    if desc.possible_length:
        test = f"(length({nat}) in ({', '.join(map(str, desc.possible_length))}) and {test})"
    return test


def _known_type(meta: PhoneMetadata, nat: str) -> str:
    """SQL of `_number_type_helper(nat, meta) != UNKNOWN`."""
    types = " or ".join(_matches(getattr(meta, t), nat) for t in TYPES)
    return f"({_matches(meta.general_desc, nat)} and ({types}))"


def _valid(calling_code: int, nat: str) -> str:
    """SQL of `is_valid_number`: the region is picked among those sharing the calling code, in order."""
    metas = [m for r in phonenumbers.region_codes_for_country_code(calling_code)
             if (m := PhoneMetadata.metadata_for_region(r)) is not None]
    if len(metas) == 1:
        return _known_type(metas[0], nat)
    whens = [f"when {_starts(m.leading_digits, nat)} then {_known_type(m, nat)}" if m.leading_digits
             else f"when {_known_type(m, nat)} then true" for m in metas]
    return f"(case {' '.join(whens)} else false end)"
