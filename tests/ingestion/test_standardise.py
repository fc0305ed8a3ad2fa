"""Each standardiser on real-world messy values: input -> what ingestion stores (None: invalid)."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import phonenumbers
import pyarrow as pa
import pytest

from ingestion.standardise import (
    NameParts,
    name_root,
    normalise_country,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_postcode,
    normalise_street,
    normalise_tax_id,
    parse_birth_date,
    parse_name,
    parse_timestamp,
)
from ingestion.standardise.macros import evaluate
from ingestion.standardise.names import nicknames
from ingestion.standardise.phones import phone_map, read_phone


@pytest.mark.parametrize(("value", "parts"), [
    ("SMITH, JOHN A", ("JOHN", "A", "SMITH", None)),
    ("John A. Smith", ("JOHN", "A", "SMITH", None)),
    ("  smith ,john  ", ("JOHN", None, "SMITH", None)),
    ("Dr. José María de la Cruz Jr.", ("JOSE", "MARIA", "DE LA CRUZ", "JR")),
    ("O'Brien, Mary-Jane", ("MARY-JANE", None, "OBRIEN", None)),
    ("Ludwig van Beethoven", ("LUDWIG", None, "VAN BEETHOVEN", None)),
    ("VAN BEETHOVEN, LUDWIG", ("LUDWIG", None, "VAN BEETHOVEN", None)),
    ("John Smith, III", ("JOHN", None, "SMITH", "III")),
    ("SMITH JR, JOHN", ("JOHN", None, "SMITH", "JR")),
    ("Mr John Smith Junior", ("JOHN", None, "SMITH", "JR")),
    ("Jane Doe PhD", ("JANE", None, "DOE", None)),
    ("Zoë Ø’Løvë", ("ZOE", None, "OLOVE", None)),
    ("Günther Straße", ("GUNTHER", None, "STRASSE", None)),
    ("SMITH,", (None, None, "SMITH", None)),
    ("Madonna", (None, None, "MADONNA", None)),
    ("  ", (None, None, None, None)),
    (None, (None, None, None, None)),
])
def test_parse_name(value: str | None, parts: tuple) -> None:
    assert parse_name(value) == NameParts(*parts)


@pytest.mark.parametrize(("value", "expected"), [
    ("José", "JOSE"), ("  o'neil ", "ONEIL"), ("Mary-Jane", "MARY-JANE"), ("Mrs. Ann Lee", "ANN LEE"),
    ("R2D2", "R D"), ("---", None), ("", None),
])
def test_normalise_name(value: str, expected: str | None) -> None:
    assert normalise_name(value) == expected


@pytest.mark.parametrize(("first", "root"), [
    ("Bob", "ROBERT"), ("bobby", "ROBERT"), ("Rob", "ROBERT"), ("Robert", "ROBERT"), ("Bill", "WILLIAM"),
    ("Will", "WILLIAM"), ("Peggy", "MARGARET"), ("Maggie", "MARGARET"), ("Liz", "ELIZABETH"), ("Beth", "ELIZABETH"),
    ("Peggy Sue", "MARGARET"), ("Zed", "ZED"), ("", None),
])
def test_name_root(first: str, root: str | None) -> None:
    assert name_root(first) == root


def test_nickname_list_is_large_and_points_at_canonical_names() -> None:
    names = nicknames()
    assert len(names) >= 300
    assert not set(names.values()) & set(names), "a canonical name must not itself be a nickname"


@pytest.mark.parametrize(("value", "expected"), [
    (" Ann.Lee@Example.COM ", "ann.lee@example.com"),
    ("John Smith <J.Smith+news@GoogleMail.com>", "jsmith@gmail.com"),
    ("mailto:jsmith@gmail.com", "jsmith@gmail.com"),
    ("ann+shop@outlook.com", "ann+shop@outlook.com"),
    ("o'neil@x.io", "o'neil@x.io"),
    ("bad@", None), ("peggy@@example", None), ("a@b", None), ("a..b@x.com", None), ("none@none.com", None),
    ("noemail@company.com", None), ("+x@gmail.com", None), ("", None), (None, None),
])
def test_normalise_email(value: str | None, expected: str | None) -> None:
    assert normalise_email(value) == expected


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("(212) 555-0100", "US", "+12125550100"), ("212.555.0100", "US", "+12125550100"),
    ("1-212-555-0100", "US", "+12125550100"), ("+1 212 555 0100", "US", "+12125550100"),
    ("212-555-0100 x12", "US", "+12125550100"), ("(212) 555-0100 Ext. 7", "US", "+12125550100"),
    ("416 555 0100", "US", "+14165550100"),
    ("+44 20 7946 0958", "US", "+442079460958"), ("020 7946 0958", "GB", "+442079460958"),
    ("555-0100", "US", None), ("12", "US", None), ("n/a", "US", None), ("212 555 01000", "US", None),
    ("(999) 555-0100", "US", "+19995550100"),  # area code 999 is unassigned, the number well formed: kept
])
def test_normalise_phone(value: str, country: str, expected: str | None) -> None:
    assert normalise_phone(value, country) == expected


@pytest.mark.parametrize(("value", "country", "reading"), [
    ("(212) 555-0100", "US", ("+12125550100", True)),
    ("(999) 555-0100", "US", ("+19995550100", False)),  # possible, not valid: kept, flagged
    ("555-0100", "US", (None, False)),  # only possible locally (no area code): dropped
    ("212 555 01000", "US", (None, False)),  # too long: dropped
    ("(099) 555-0100", "US", (None, False)),  # no US number starts 0: dropped
    ("000-000-0000", "US", (None, False)), ("999 999 9999", "US", (None, False)),  # placeholders: dropped
])
def test_plausible_numbers_are_kept_and_the_others_dropped(value: str, country: str,
                                                                reading: tuple[str | None, bool]) -> None:
    """SQL (phone_map's settled path) and phonenumbers (read_phone) read each the same way."""
    con = duckdb.connect()
    con.execute("create table pairs as select ? as value, ? as country", [value, country])
    phone_map(con, "pairs", "out")
    assert con.execute("select phone, valid from out").fetchall() == [reading]
    assert read_phone(value, country) == reading


def messy_numbers(count: int, seed: int) -> list[tuple[str, str]]:
    """Numbers the way forms collect them: examples of every region and type, mutated, re-punctuated."""
    rng = random.Random(seed)
    regions = ["US", "CA", "GB", "DE", "FR", "IN", "AU", "JM", "IT", "BR", "MX", "AR", "NL", "JP"]
    out = []
    for _ in range(count):
        region = rng.choice(regions)
        example = phonenumbers.example_number_for_type(rng.choice(regions), rng.randrange(5))
        digits = str(example.national_number) if example else "".join(rng.choices("0123456789", k=rng.randint(3, 13)))
        if rng.random() < 0.5:
            i = rng.randrange(len(digits))
            digits = digits[:i] + rng.choice("0123456789") + digits[i + 1:]
        code = str(example.country_code) if example else "1"
        text = rng.choice(["", "+" + code, code, "0", "1", "00" + code, "011" + code, "+"]) + digits
        sep = rng.choice(["", " ", "-", ".", "()"])
        if sep == "()" and len(text) > 6:
            text = f"({text[:3]}) {text[3:6]}-{text[6:]}"
        elif sep and len(text) > 6:
            text = text[:3] + sep + text[3:6] + sep + text[6:]
        extension = rng.choice(["", "", "", " ext 7", " x12", "X 3", ", ext. 45", " extension 8", " x1234567890"])
        out.append((text + extension, region))
    return out


def test_sql_path_gives_exactly_what_phonenumbers_gives() -> None:
    values = messy_numbers(4000, seed=11)
    con = duckdb.connect()
    con.register("v", pa.table({"value": [v for v, _ in values], "country": [c for _, c in values]}))
    con.execute("create table pairs as select distinct value, country from v")
    phone_map(con, "pairs", "out")
    got = con.execute("select value, country, phone, valid from out").fetchall()
    assert len(got) == len(set(values))
    assert sum(valid for *_, valid in got) > 500  # the sample holds plenty of valid numbers
    assert sum(p is not None and not valid for *_, p, valid in got) > 200  # and possible, invalid ones
    assert [(v, c, p, ok) for v, c, p, ok in got if (p, ok) != read_phone(v, c)] == []


@pytest.mark.parametrize(("value", "expected"), [
    ("123 North Main Street, Apt. 4B", "123 N MAIN ST UNIT 4B"), ("123 N. Main St #4B", "123 N MAIN ST UNIT 4B"),
    ("500 Fifth Avenue Suite 200", "500 FIFTH AVE UNIT 200"), ("12 Elm Rd., Apt #4", "12 ELM RD UNIT 4"),
    ("77 Sunset Boulevard West", "77 SUNSET BLVD W"), ("9 Rue de l'Église", "9 RUE DE LEGLISE"),
    ("PO Box 12", "PO BOX 12"), ("  ", None),
])
def test_normalise_street(value: str, expected: str | None) -> None:
    assert normalise_street(value) == expected


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("02134-1234", "US", "02134"), ("021341234", "US", "02134"), ("2134", "US", "02134"), (" 10001 ", "US", "10001"),
    ("00000", "US", None), ("ABC", "US", None), ("123456", "US", None),
    ("k1a 0b1", "CA", "K1A 0B1"), ("sw1a1aa", "GB", "SW1A 1AA"), ("SW1A 1AA", "GB", "SW1A 1AA"),
    ("10115", "DE", "10115"),
])
def test_normalise_postcode(value: str, country: str, expected: str | None) -> None:
    assert normalise_postcode(value, country) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("United States", "US"), ("USA", "US"), ("u.s.a.", "US"), ("us", "US"), ("Germany", "DE"),
    ("Côte d'Ivoire", "CI"), ("England", "GB"), ("gb", "GB"), ("Narnia", None),
])
def test_normalise_country(value: str, expected: str | None) -> None:
    assert normalise_country(value) == expected


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("California", "US", "CA"), ("ca", "US", "CA"), ("N.Y.", "US", "NY"), ("new  york", "US", "NY"),
    ("Narnia", "US", None), ("Bavaria", "DE", "BAVARIA"),
])
def test_state(value: str, country: str, expected: str | None) -> None:
    assert evaluate("cdp_state(?::VARCHAR, ?::VARCHAR)", value, country) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("St. Louis", "SAINT LOUIS"), ("Ft Worth", "FORT WORTH"), ("new york", "NEW YORK"), ("São Paulo", "SAO PAULO"),
    ("Stamford", "STAMFORD"), ("12345", None),
])
def test_city(value: str, expected: str | None) -> None:
    assert evaluate("cdp_city(?::VARCHAR)", value) == expected


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("1980-03-04", "US", dt.date(1980, 3, 4)), ("03/04/1980", "US", dt.date(1980, 3, 4)),
    ("03/04/1980", "GB", dt.date(1980, 4, 3)), ("3/4/80", "US", dt.date(1980, 3, 4)),
    ("04.03.1980", "DE", dt.date(1980, 3, 4)), ("March 4, 1980", "US", dt.date(1980, 3, 4)),
    ("4 Mar 1980", "US", dt.date(1980, 3, 4)), ("19800304", "US", dt.date(1980, 3, 4)),
    ("1980-03-04T10:00:00", "US", dt.date(1980, 3, 4)), ("March 4th, 1980", "US", dt.date(1980, 3, 4)),
    ("31/12/1980", "US", dt.date(1980, 12, 31)), ("1/2/30", "US", dt.date(1930, 1, 2)),
    ("1900-01-01", "US", None), ("2099-01-01", "US", None), ("1850-06-01", "US", None),
    ("1980", "US", None), ("garbage", "US", None), ("", "US", None),
])
def test_parse_birth_date(value: str, country: str, expected: dt.date | None) -> None:
    assert parse_birth_date(value, country) == expected


def test_birth_date_hint_comes_first() -> None:
    assert parse_birth_date("04/03/1980", "US", hint="%d/%m/%Y") == dt.date(1980, 3, 4)


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-05-01T10:00:00+02:00", dt.datetime(2024, 5, 1, 8, 0)), ("2024-05-01T10:00:00Z", dt.datetime(2024, 5, 1, 10)),
    ("2024-05-01 10:00", dt.datetime(2024, 5, 1, 10)), ("05/01/2024 13:45", dt.datetime(2024, 5, 1, 13, 45)),
    ("tomorrow", None),
])
def test_parse_timestamp(value: str, expected: dt.datetime | None) -> None:
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("219-09-9998", "US", "219099998"), ("219 09 9998", "US", "219099998"), ("219.09.9998", "US", "219099998"),
    ("123-45-6789", "US", None), ("078-05-1120", "US", None), ("000-12-3456", "US", None),
    ("666-12-3456", "US", None), ("900-12-3456", "US", None), ("219-00-9998", "US", None),
    ("219-09-0000", "US", None), ("21909999", "US", None), ("SSN 219-09-9998", "US", None),
    ("12345678", "GB", "12345678"), ("1234", "GB", None),
])
def test_normalise_tax_id(value: str, country: str, expected: str | None) -> None:
    assert normalise_tax_id(value, country) == expected
