"""Person names: "LAST, First M." and "First M. Last" parsed into parts; case, accents, punctuation folded.

Cleaned names are upper-case ASCII letters, spaces and hyphens. Titles (Mr, Dr, ...) are dropped;
generational suffixes (Jr, Sr, II, III, IV) are kept apart as `name_suffix`; degrees (PhD, MD,
Esq) are dropped. In "First ... Last" order the surname is the last word plus any particles
before it (van, de la, ...); a lone word is taken as a surname. A mapped first name of several
words gives the first name and, unless a middle name is mapped, the middle name.
`first_name_root` maps a nickname to its canonical name from nicknames.csv (BOB -> ROBERT).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import duckdb
import pyarrow as pa

from ingestion.standardise.macros import chain, evaluate, register, sql_list

TITLES = ("MR", "MRS", "MS", "MISS", "MX", "DR", "PROF", "REV", "SIR", "DAME", "FR", "HON")
SUFFIXES = {"JR": "JR", "JNR": "JR", "JUNIOR": "JR", "SR": "SR", "SNR": "SR", "SENIOR": "SR",
            "II": "II", "III": "III", "IV": "IV"}
DEGREES = ("ESQ", "PHD", "MD", "DDS", "CPA", "MBA", "RN")
PARTICLES = ("BIN", "DA", "DAL", "DE", "DEL", "DELLA", "DER", "DI", "DOS", "DU", "LA", "LE", "ST", "VAN", "VON")
NICKNAMES = "cdp_nicknames"
_SUFFIX_CASE = " ".join(f"when '{k}' then '{v}'" for k, v in SUFFIXES.items() if k != v)

register(
    # Upper case; letters without a decomposition spelled out, then accents stripped (ASCII is the fast path).
    "create or replace temp macro cdp_fold(x) as case when strlen(x) = length(x) then upper(x) else "
    "strip_accents(translate(replace(replace(replace(replace(upper(x), 'ẞ', 'SS'), 'Æ', 'AE'), 'Œ', 'OE'), "
    "'Þ', 'TH'), 'ØŁĐİ’', 'OLDI')) end",
    # Apostrophes and dots close up (O'Brien -> OBRIEN), a comma is a word of its own, anything else but
    # letters and hyphens separates words; titles dropped.
    f"""create or replace temp macro cdp_name_tokens(x) as list_filter(
        string_split(regexp_replace(replace(replace(replace(replace(cdp_fold(x), '.', ''), '''', ''), '`', ''),
                                            ',', ' , '), '[^A-Z,-]+', ' ', 'g'), ' '),
        lambda t: trim(t, '-') <> '' and not list_contains({sql_list(TITLES)}, t))""",
    f"create or replace temp macro cdp_name_words(t) as "
    f"list_filter(t, lambda w: not list_contains({sql_list([*SUFFIXES, *DEGREES])}, w))",
    f"create or replace temp macro cdp_suffix_of_tokens(t) as list_transform("
    f"list_filter(t, lambda w: list_contains({sql_list(list(SUFFIXES))}, w)), "
    f"lambda w: case w {_SUFFIX_CASE} else w end)[1]",
    "create or replace temp macro cdp_name_suffix(x) as cdp_suffix_of_tokens(cdp_name_tokens(x))",
    "create or replace temp macro cdp_name_clean(x) as "
    "list_filter(cdp_name_words(cdp_name_tokens(x)), lambda w: w <> ',')",
    "create or replace temp macro cdp_name(x) as nullif(array_to_string(cdp_name_clean(x), ' '), '')",
)

# From a column `v` holding full names to (v, first, middle, last, suffix), one step per line.
PARSE_STEPS = [
    "v, cdp_name_tokens(v) as t",
    "v, cdp_name_words(t) as w, cdp_suffix_of_tokens(t) as suffix",
    "v, suffix, w, list_filter(w, lambda x: x <> ',') as c, list_position(w, ',') as p, len(w) as n",
    # "LAST, Given": a comma with words on both sides
    "v, suffix, c, case when p > 1 and p < n then list_filter(w[p + 1:], lambda x: x <> ',') end as given_c, "
    "case when p > 1 and p < n then w[1:p - 1] end as last_c",
    # "Given Last": the surname is the last word and the particles right before it
    "v, suffix, given_c, last_c, c, case when given_c is null then coalesce(list_max(list_filter("
    f"range(1, len(c)), lambda i: not list_contains({sql_list(PARTICLES)}, c[i]))), 0) end as cut",
    "v, suffix, coalesce(given_c, c[1:cut]) as given, coalesce(last_c, c[cut + 1:]) as surname",
    "v, given[1] as first, nullif(array_to_string(given[2:], ' '), '') as middle, "
    "nullif(array_to_string(surname, ' '), '') as last, suffix",
]


@dataclass(frozen=True)
class NameParts:
    """A full name split into cleaned parts."""

    first: str | None
    middle: str | None
    last: str | None
    suffix: str | None


def parse_sql(values: str) -> str:
    """SQL parsing the names in column `v` of relation `values` into (v, first, middle, last, suffix)."""
    return chain(values, PARSE_STEPS)


def parse_name(value: str | None) -> NameParts:
    """Split a full name ("SMITH, John A." or "Dr John A. Smith Jr") into cleaned parts."""
    row = evaluate(f"(select struct_pack(first, middle, last, suffix) from {parse_sql('(select ?::VARCHAR as v)')})",
                   value)
    return NameParts(**row)


def normalise_name(value: str | None) -> str | None:
    """A name as ingestion cleans it: upper-case ASCII words, titles and suffixes dropped ("José" -> "JOSE")."""
    return evaluate("cdp_name(?::VARCHAR)", value)


@cache
def nicknames() -> dict[str, str]:
    """The maintained nickname list: nickname -> canonical name."""
    text = resources.files(__package__).joinpath("nicknames.csv").read_text()
    return {row["nickname"]: row["name"] for row in csv.DictReader(text.splitlines())}


def name_root(first: str | None) -> str | None:
    """The canonical form of a first name: its first word, cleaned, with a nickname folded (Bob -> ROBERT)."""
    words = (normalise_name(first) or "").split()
    return nicknames().get(words[0], words[0]) if words else None


def install_nicknames(con: duckdb.DuckDBPyConnection) -> None:
    """The nickname list as temp table cdp_nicknames(nickname, name), for joining."""
    con.register("_cdp_nickname_pairs", pa.table({"nickname": list(nicknames()), "name": list(nicknames().values())}))
    con.execute(f"create or replace temp table {NICKNAMES} as select * from _cdp_nickname_pairs")
    con.unregister("_cdp_nickname_pairs")
