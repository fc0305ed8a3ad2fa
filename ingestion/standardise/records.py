"""Standardise one source's records: raw_<source> -> staged_<source>, bad values -> attribute_issues.

Every canonical attribute gets its standardised column and `<attr>_raw` (the value as sent; NULL
when the source does not map it), so every staged_<source> has the same columns. Values that
need Python or a long derivation (full names, phones, dates) are worked out once per distinct
value in a lookup table and joined back; the rest is one set-based SELECT over the macros.
An invalid value never rejects the record: the attribute is NULL and an issue row says why.

Some values that fail the rules are kept for matching, flagged with an issue that says so: a
phone number of a possible length whose area code or range is not assigned today, and, in a
source that sets no `country:` and whose tax ids mostly fail the US rules (its country is not
the assumed US), a tax id of 5 to 20 digits. A 9-digit junk SSN in a US source stays dropped:
placeholders such as 123-45-6789 are shared by unrelated people.
"""

from __future__ import annotations

import duckdb

from cdp.config import SourceConfig
from cdp.schema import ATTRIBUTE_ISSUES, ATTRIBUTES, raw_table, staged_table
from cdp.warehouse import table_exists
from ingestion.duck import count, drop, ident, literal
from ingestion.standardise import dates, names, phones
from ingestion.standardise.macros import install
from ingestion.state import STAGED_WITH, digest, read_state, write_state

INPUT, NAMES, PHONES, BIRTH, UPDATED = "_cdp_in", "_cdp_names", "_cdp_phones", "_cdp_birth", "_cdp_updated"
CHANGED = "_cdp_restage"

STAGED_COLUMNS = """
    '{source}:' || i.source_id as record_id, '{source}' as source, i.source_id, {trust}::INTEGER as trust,
    i.batch_id, i.row_hash, i.loaded_at, cdp_timestamp_checked(u.ts) as updated_at,
    coalesce(i.first_words[1], n.first) as first_name,
    coalesce(cdp_name(i.middle_name_raw), nullif(array_to_string(i.first_words[2:], ' '), ''), n.middle) as middle_name,
    coalesce(i.last_name, n.last) as last_name,
    coalesce(i.last_suffix, n.suffix) as name_suffix,
    coalesce(nick.name, coalesce(i.first_words[1], n.first)) as first_name_root,
    cdp_email_of(i.email_clean) as email, p.phone,
    cdp_street(i.street_raw) as street, cdp_city(i.city_raw) as city, cdp_state(i.state_raw, i.region) as state,
    cdp_postcode(i.postcode_raw, i.region) as postcode, i.country,
    {tax_id} as tax_id, cdp_birth_date(b.ts::DATE, i.birth_date_raw) as birth_date,
    {raw_columns}
"""
JOINS = f"""
    left join {NAMES} n on n.v = i.full_name_raw
    left join {PHONES} p on p.value = i.phone_raw and p.country = i.region
    left join {BIRTH} b on b.v = i.birth_date_raw
    left join {UPDATED} u on u.v = i.updated_raw
    left join {names.NICKNAMES} nick on nick.nickname = coalesce(i.first_words[1], n.first)
"""
# field -> SQL naming the problem with a value that standardised to NULL (columns of staged + lookups)
ISSUES = {
    "first_name": "'no name in value'", "middle_name": "'no name in value'", "last_name": "'no name in value'",
    "full_name": "'no name in value'", "email": "cdp_email_issue(s.email_raw)",
    "phone": "'not a possible phone number for ' || s.region", "street": "'no street in value'",
    "city": "'no city in value'", "state": "case when s.region = 'US' then 'not a US state' else 'no state' end",
    "postcode": "'not a valid postcode for ' || s.region", "country": "'unknown country'",
    "tax_id": "cdp_tax_id_issue(s.tax_id_raw, s.region)", "birth_date": "cdp_birth_date_issue(b.ts::DATE)",
}
# field -> SQL naming why a value kept for matching is flagged (NULL: not flagged)
FLAGS = {"phone": "case when not p.valid then 'kept for matching; not a valid number for ' || s.region || "
                  "' (unassigned area code?)' end"}
FOREIGN_TAX_ID = ("case when cdp_tax_id_of(i.tax_digits, s.region) is null then 'kept for matching; ' || "
                  "cdp_tax_id_issue(s.tax_id_raw, s.region) || ' (most of the source''s tax ids fail the US rules "
                  "and it sets no `country:`)' end")
# field -> SQL: is the standardised value missing? (a full name is missing when it gave no part)
MISSING = {"full_name": "s.first_name is null and s.last_name is null"}
MOST = 0.5
"""A source whose values of one attribute fail the rules of its country more often than this has,
most likely, another country than the one assumed."""


def stage_records(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig, full: bool = True) -> int:
    """Build staged_<source> from raw_<source>; replace the source's attribute issues; return the row count.

    Without `full`, only the raw rows whose key or row hash the staged table lacks are standardised (and the
    staged rows of vanished keys deleted), unless a setting staging reads changed since the last staging.
    """
    install(con)
    names.install_nicknames(con)
    foreign = _foreign_tax_ids(con, src, _input_sql(source, src))
    settings = digest(src.model_dump(mode="json", exclude={"location", "interactions", "watermark"}), foreign)
    table = staged_table(source)
    if full or read_state(con, source).get(STAGED_WITH) != settings or not table_exists(con, table):
        keys = None
        con.execute(f"create or replace temp table {INPUT} as {_input_sql(source, src)}")
    else:
        keys = _changed_keys(con, source)
        if keys is None:
            return count(con, f"select count(*) from {table}")
        con.execute(f"create or replace temp table {INPUT} as "
                    f"{_input_sql(source, src, f'where _key in (select key from {CHANGED})')}")
    _lookups(con, src)
    raw_columns = ", ".join(f"i.{a}_raw" for a in ATTRIBUTES)
    tax_id = ("coalesce(cdp_tax_id_of(i.tax_digits, i.region), cdp_tax_id_any(i.tax_digits))" if foreign
              else "cdp_tax_id_of(i.tax_digits, i.region)")
    columns = STAGED_COLUMNS.format(source=source, trust=int(src.trust), raw_columns=raw_columns, tax_id=tax_id)
    if keys is None:
        con.execute(f"create or replace table {table} as select {columns} from {INPUT} i {JOINS}")
    else:
        con.execute(f"delete from {table} where source_id in (select key from {CHANGED})")
        con.execute(f"insert into {table} by name select {columns} from {INPUT} i {JOINS}")
    issues, flags = ((ISSUES | {"tax_id": "cdp_tax_id_issue(s.tax_id_raw, NULL)"}, FLAGS | {"tax_id": FOREIGN_TAX_ID})
                     if foreign else (ISSUES, FLAGS))
    _issues(con, source, src, issues, flags, keys)
    write_state(con, source, {STAGED_WITH: settings})
    drop(con, INPUT, NAMES, PHONES, BIRTH, UPDATED, CHANGED)
    return count(con, f"select count(*) from {table}")


def _changed_keys(con: duckdb.DuckDBPyConnection, source: str) -> str | None:
    """Fill CHANGED with the keys to restage (raw rows new or changed since staging, staged rows whose key
    vanished) and return a SQL list of them; None when there are none."""
    raw, staged = ident(raw_table(source)), staged_table(source)
    con.execute(f"""
        create or replace temp table {CHANGED} as
        select _key as key from {raw} r anti join {staged} s on s.source_id = r._key and s.row_hash = r._row_hash
        union all
        select source_id from {staged} s anti join {raw} r on r._key = s.source_id""")
    if not count(con, f"select count(*) from {CHANGED}"):
        drop(con, CHANGED)
        return None
    return f"(select key from {CHANGED})"


def _input_sql(source: str, src: SourceConfig, where: str = "") -> str:
    """The raw columns renamed to `<attr>_raw`, the row's country, and the steps a macro would repeat.

    A macro that uses its argument twice evaluates it twice; name words, the cleaned email and the
    tax id's digits are worked out here once per row, and the later macros take them as columns.
    """
    def raw(attribute: str) -> str:
        column = src.fields.get(attribute)
        return f"{ident(column)}::VARCHAR" if column else "NULL::VARCHAR"

    raws = ", ".join(f"{raw(a)} as {a}_raw" for a in ATTRIBUTES)
    updated = f"{ident(src.updated_at)}::VARCHAR" if src.updated_at else "NULL::VARCHAR"
    default = literal(src.country.upper())
    return f"""
        select *, coalesce(country, {default}) as region,
               cdp_name_clean(first_name_raw) as first_words,
               cdp_name(last_name_raw) as last_name, cdp_name_suffix(last_name_raw) as last_suffix,
               cdp_email_clean(email_raw) as email_clean, cdp_tax_digits(tax_id_raw) as tax_digits
        from (select *, case when nullif(trim(country_raw), '') is null then {default}
                             else cdp_country(country_raw) end as country
              from (select _key as source_id, _batch as batch_id, _row_hash as row_hash, _loaded_at as loaded_at,
                           {updated} as updated_raw, {raws}
                    from {ident(raw_table(source))} {where}))"""


def _foreign_tax_ids(con: duckdb.DuckDBPyConnection, src: SourceConfig, rows: str) -> bool:
    """Whether the source sets no `country:` and most of its tax ids read in the assumed US fail the SSN rules.

    Always over all of the source's `rows` (an incremental staging restages everything when the answer flips).
    """
    if "tax_id" not in src.fields or "country" in src.model_fields_set:
        return False
    failed, values = con.execute(f"""
        select count(*) filter (where cdp_tax_id_of(tax_digits, region) is null), count(*) from ({rows})
        where nullif(trim(tax_id_raw), '') is not null and region = 'US'""").fetchall()[0]
    return failed > MOST * values


def _lookups(con: duckdb.DuckDBPyConnection, src: SourceConfig) -> None:
    """One row per distinct full name, (phone, country), birth date and update time."""
    full_names = f"(select distinct full_name_raw as v from {INPUT} where full_name_raw is not null)"
    con.execute(f"create or replace temp table {NAMES} as select * from {names.parse_sql(full_names)}")
    con.execute(f"create or replace temp table _cdp_phone_pairs as select distinct phone_raw as value, "
                f"region as country from {INPUT} where nullif(trim(phone_raw), '') is not null")
    phones.phone_map(con, "_cdp_phone_pairs", PHONES)
    country = src.country.upper()
    dates.read_distinct(con, f"(select birth_date_raw as v from {INPUT})", BIRTH,
                        dates.formats_for(src.formats.get("birth_date"), country), country)
    dates.read_distinct(con, f"(select updated_raw as v from {INPUT})", UPDATED,
                        dates.formats_for(src.formats.get("updated_at"), country), country)
    drop(con, "_cdp_phone_pairs")


def _issues(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig, issues: dict[str, str],
            flags: dict[str, str], keys: str | None = None) -> None:
    """Replace the source's rows (those of `keys`, a SQL list, if given) in attribute_issues, from the records
    in INPUT: one per mapped value that standardised to NULL (`issues`:
    field -> SQL of the reason), and one per value kept but flagged (`flags`: field -> SQL of the reason,
    NULL when the value is not flagged).

    One pass over the staged rows: each mapped field contributes a problem or NULL, and the
    non-NULL problems are unnested into rows.
    """
    def problem(f: str) -> str:
        reason = f"case when {MISSING.get(f, f's.{f} is null')} then {issues[f]} else {flags.get(f, 'NULL')} end"
        return (f"case when nullif(trim(s.{f}_raw), '') is not null and ({reason}) is not null "
                f"then {{'field': '{f}', 'value': s.{f}_raw, 'reason': {reason}}} end")

    problems = [problem(f) for f in src.fields]
    if src.updated_at:
        problems.append("case when s.updated_at is null and u.v is not null then "
                        "{'field': 'updated_at', 'value': u.v, 'reason': 'unreadable or out-of-range time'} end")
    con.execute(f"delete from {ATTRIBUTE_ISSUES} where source = ?{f' and source_id in {keys}' if keys else ''}",
                [source])
    if not problems:
        return
    con.execute(f"""
        insert into {ATTRIBUTE_ISSUES}
        select source, source_id, p.field, p.value, p.reason, batch_id
        from (select s.source, s.source_id, s.batch_id,
                     unnest(list_filter([{", ".join(problems)}], lambda p: p is not null)) as p
              from (select *, coalesce(country, {literal(src.country.upper())}) as region
                    from {staged_table(source)}) s
              join {INPUT} i using (source_id)
              left join {PHONES} p on p.value = s.phone_raw and p.country = s.region
              left join {BIRTH} b on b.v = s.birth_date_raw
              left join {UPDATED} u on u.v = i.updated_raw)""")
