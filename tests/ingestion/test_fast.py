"""The Python standardiser (ingestion.standardise.fast) against staging's own SQL, over generated messy records.

Each Hypothesis example is a batch of records: they are landed as one raw table, staged by
`stage_records` (the real ingestion SQL, one run per batch) and compared row by row with
`fast.stage`. Birth dates are generated in ISO form only, as the API takes them.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.config import SourceConfig
from cdp.schema import ATTRIBUTE_ISSUES, ATTRIBUTES, RAW_META, ensure_tables, raw_table
from ingestion.standardise import addresses, emails, fast, names
from ingestion.standardise.macros import install
from ingestion.standardise.records import stage_records

# Pieces that hit the rules' branches: titles, suffixes, particles, commas, nicknames, street words, states...
NAME_BITS = ["John", "bob", "MARY-JANE", "o'brien", "van", "de la", "Dr.", "Mr", "jr", "III", "PhD", ",", "  ",
             "Smith", "x", "-", "'", "`", ".", "Liz", "Ng", "sr.", "ESQ", "2", "St", "José", "Ø"]
EMAIL_BITS = ["john", ".", "smith", "+news", "@", "gmail.com", "googlemail.com", "example.org", "<", ">", " ",
              "mailto:", "J", "none", "n.a", "a-b", "_", "x.co", "@@", "Ünï", "1"]
STREET_BITS = ["123", "North", "Main", "Street", "apt.", "#", "4B", "Suite", "unit", "Ave", ",", " ", "St.",
               "o'neil", "Rd", "-", "Ste", "ß"]
PLACE_BITS = ["st", "Ft.", "Mt", "Louis", "New York", "ny", "N.Y.", "texas", "  ", "1", "O'Fallon", "California",
              "USA", "United States", "Canada", "gb", "uk", "de", "Deutschland", "", "Zürich"]
POSTCODE_BITS = ["12345", "-6789", " ", "123", "0", "K1A", "0B1", "sw1a", "1aa", "00000", "ab", "-", "9", "é"]
TAX_BITS = ["123", "-", "45", "6789", " ", ".", "078", "05", "1120", "000", "9", "666", "a", "12345", "0000"]
PHONE_BITS = ["(512)", " ", "555", "-", "0100", "+1", "+44", "20", "7946", "0958", "x12", "ext.", "1", "0", "."]


def _joined(bits: list[str], most: int = 6) -> st.SearchStrategy[str | None]:
    """None, or pieces glued together with some free text mixed in."""
    # Mostly ASCII: the Python path; a non-ASCII value goes to the SQL itself (a few bits carry one).
    piece = st.one_of(st.sampled_from(bits), st.text(st.characters(max_codepoint=0x7F), max_size=3))
    return st.none() | st.lists(piece, max_size=most).map("".join)


def _or(shapes: str, bits: list[str], most: int = 6) -> st.SearchStrategy[str | None]:
    """Values of the well-formed shapes (a regex) as often as glued pieces: each rule's accepting branch is hit."""
    return st.from_regex(shapes, fullmatch=True) | _joined(bits, most)


def _iso_date() -> st.SearchStrategy[str | None]:
    day = st.tuples(st.integers(1850, 2100), st.integers(0, 13), st.integers(0, 32))
    return st.none() | st.sampled_from(["", "  ", "1900-01-01", "1901-01-01", "2099-12-31"]) | day.map(
        lambda d: f"{d[0]:04d}-{d[1]:02d}-{d[2]:02d}")


RECORD = st.fixed_dictionaries({
    "first_name": _joined(NAME_BITS, 3), "middle_name": _joined(NAME_BITS, 2), "last_name": _joined(NAME_BITS, 4),
    "full_name": _joined(NAME_BITS),
    "email": _or(r" ?[A-Za-z0-9._+-]{1,8}@(gmail\.com|GoogleMail\.com|[a-z]{1,5}\.[a-z]{2,3}) ?",
                 EMAIL_BITS, 8),
    "phone": _or(r"\+?[0-9]{0,2}[ (]?[0-9]{3}[) -]?[0-9]{3}[ -]?[0-9]{4}", PHONE_BITS),
    "street": _joined(STREET_BITS), "city": _joined(PLACE_BITS, 3), "state": _joined(PLACE_BITS, 2),
    "postcode": _or(r" ?([0-9]{3,5}([ -]?[0-9]{4})?|[A-Za-z][0-9][A-Za-z] ?[0-9][A-Za-z][0-9]|"
                    r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}) ?", POSTCODE_BITS, 3),
    "country": st.sampled_from(["US", "CA", "GB", "de", " ", "Canada"]) | _joined(PLACE_BITS, 2),
    "tax_id": _or(r" ?[0-9]{3}[- .]?[0-9]{2}[- .]?[0-9]{3,5} ?", TAX_BITS, 5),
    "birth_date": _iso_date(),
})
SOURCE = SourceConfig.model_validate({"connector": "csv", "path": "unused.csv", "key": "id",
                                      "fields": {a: a for a in ATTRIBUTES}, "country": "US"})


@cache
def _con() -> duckdb.DuckDBPyConnection:
    """One connection for every example: installing the macros costs more than a batch."""
    con = duckdb.connect()
    ensure_tables(con, ATTRIBUTE_ISSUES)
    install(con)
    names.install_nicknames(con)
    return con


def _staged(records: list[dict[str, str | None]]) -> list[dict]:
    """The records through staging's SQL: landed as raw_t, staged_t read back in order."""
    con = _con()
    meta = {"_source": ["t"] * len(records), "_key": [str(i) for i in range(len(records))],
            "_batch": ["b"] * len(records), "_row_number": list(range(len(records))),
            "_row_hash": ["h"] * len(records), "_loaded_at": [None] * len(records)}
    assert set(meta) == set(RAW_META)
    columns = {a: pa.array([r[a] for r in records], pa.string()) for a in ATTRIBUTES}
    con.register("landed", pa.table({**meta, **columns}))
    con.execute(f"create or replace table {raw_table('t')} as select * exclude (_loaded_at), "
                "_loaded_at::TIMESTAMP as _loaded_at from landed")
    stage_records(con, "t", SOURCE)
    fields = [f.name for f in dataclasses.fields(fast.Staged)]
    cur = con.execute(f"select {', '.join(fields)} from staged_t order by source_id::INTEGER")
    return [dict(zip(fields, row, strict=True)) for row in cur.fetchall()]


def _fast(record: dict[str, str | None]) -> dict | None:
    try:
        return dataclasses.asdict(fast.stage(record, "US"))
    except ValueError as exc:  # a birth date ingestion would not keep: staging leaves it NULL
        assert str(exc).startswith("birth_date: ")
        return None


# A staging run costs ~0.5 s whatever the batch: few examples, large batches.
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(RECORD, min_size=1, max_size=80))
def test_fast_stage_equals_the_staging_sql(records: list[dict[str, str | None]]) -> None:
    for record, sql in zip(records, _staged(records), strict=True):
        mine = _fast(record)
        if mine is None:
            assert sql["birth_date"] is None, record
            mine = _fast({**record, "birth_date": None})
        assert mine == sql, record


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(st.characters(max_codepoint=0x7F), max_size=12), min_size=1, max_size=60))
def test_single_values_equal_their_macros(values: list[str]) -> None:
    """Free ASCII text through every single-value function and its macro, one query per batch."""
    con = _con()
    con.register("v", pa.table({"v": pa.array(values, pa.string())}))
    got = con.execute("""select cdp_name(v), cdp_name_suffix(v), cdp_email(v), cdp_street(v), cdp_city(v),
                                cdp_state(v, 'US'), cdp_state(v, 'FR'), cdp_postcode(v, 'US'), cdp_postcode(v, 'CA'),
                                cdp_postcode(v, 'GB'), cdp_postcode(v, 'DE'), cdp_country(v), cdp_tax_id(v, 'US'),
                                cdp_tax_id(v, 'FR') from v""").fetchall()
    for value, row in zip(values, got, strict=True):
        mine = (fast.clean_name(value), fast.name_suffix(value), fast.email(value), fast.street(value),
                fast.city(value), fast.state(value, "US"), fast.state(value, "FR"), fast.postcode(value, "US"),
                fast.postcode(value, "CA"), fast.postcode(value, "GB"), fast.postcode(value, "DE"),
                fast.country(value), fast.tax_id(value, "US"), fast.tax_id(value, "FR"))
        assert mine == row, value


@pytest.mark.parametrize("value", ["SMITH, JOHN A", "Dr. José María de la Cruz Jr.", "VAN BEETHOVEN, LUDWIG",
                                   "A , , B", "A , ,", "SMITH,", "  "])
def test_split_name_equals_parse_name(value: str) -> None:
    assert fast.split_name(value) == names.parse_name(value)


def test_constants_are_the_sql_modules() -> None:
    """The Python reads the same word lists the macros were built from."""
    assert fast._EMAIL.pattern == emails.PATTERN
    assert fast._US_CODES == set(addresses.US_STATES.values())
