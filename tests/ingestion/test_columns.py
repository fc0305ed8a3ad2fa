"""check_columns: every mapped column must exist, checked before any work, errors naming source and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp.config import ConfigError
from ingestion import check_columns
from tests.utils.sources import finance_source, sales_source, two_sources, write_config


def test_a_good_config_passes(tmp_path: Path) -> None:
    check_columns(two_sources(tmp_path))


@pytest.mark.parametrize(("name", "content"), [
    ("sales_contacts.csv", b""), ("sales_contacts.csv", b"\n  \n"), ("tickets.jsonl", b""), ("tickets.jsonl", b"\n\n"),
])
def test_an_empty_file_is_said_to_be_empty_naming_source_and_file(tmp_path: Path, name: str, content: bytes) -> None:
    cfg = write_config(tmp_path, {"sales": sales_source(tmp_path)})
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ConfigError) as err:
        check_columns(cfg)
    assert str(err.value) == f"sources.sales: cannot read {name}: file is empty: {tmp_path / name}"
    assert "column0" not in str(err.value)


def test_an_empty_parquet_file_is_said_to_be_empty(tmp_path: Path) -> None:
    (tmp_path / "contacts.parquet").write_bytes(b"")
    cfg = write_config(tmp_path, {"shop": {"connector": "parquet", "path": "contacts.parquet", "key": "id",
                                           "fields": {"email": "email"}}})
    with pytest.raises(ConfigError, match="^sources.shop: cannot read contacts.parquet: file is empty: "):
        check_columns(cfg)


def test_missing_csv_column_names_source_key_file_and_columns(tmp_path: Path) -> None:
    source = sales_source(tmp_path)
    source["key"] = "no_such_column_contact_id"
    cfg = write_config(tmp_path, {"sales": source})
    with pytest.raises(ConfigError) as err:
        check_columns(cfg)
    assert str(err.value) == (
        "sources.sales.key: column 'no_such_column_contact_id' not found in sales_contacts.csv "
        "(columns: contact_id, first_name, last_name, email, mobile, zip, dob)")


@pytest.mark.parametrize(("change", "expected"), [
    ({"fields": {"email": "e_mail"}}, "sources.finance.fields.email: column 'e_mail' not found in table accounts"),
    ({"updated_at": "modified"}, "sources.finance.updated_at: column 'modified' not found in table accounts"),
])
def test_missing_sql_column(tmp_path: Path, change: dict, expected: str) -> None:
    cfg = write_config(tmp_path, {"finance": finance_source(tmp_path) | change})
    with pytest.raises(ConfigError, match=expected):
        check_columns(cfg)


@pytest.mark.parametrize(("key", "column", "where"), [
    ("record_key", "customer", "tickets.record_key: column 'customer' not found in tickets.jsonl"),
    ("attributes", ["topic", "mood"], "tickets.attributes.mood: column 'mood' not found"),
])
def test_missing_interaction_column(tmp_path: Path, key: str, column: object, where: str) -> None:
    source = sales_source(tmp_path)
    source["interactions"][0][key] = column
    cfg = write_config(tmp_path, {"sales": source})
    with pytest.raises(ConfigError, match="sources.sales.interactions." + where):
        check_columns(cfg)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    sales, finance = sales_source(tmp_path), finance_source(tmp_path)
    sales["fields"]["email"] = "mail"
    finance["key"] = "acct"
    cfg = write_config(tmp_path, {"finance": finance, "sales": sales})
    with pytest.raises(ConfigError) as err:
        check_columns(cfg)
    assert "sources.finance.key: column 'acct'" in str(err.value)
    assert "sources.sales.fields.email: column 'mail'" in str(err.value)


def test_an_unreadable_source_is_reported_against_it(tmp_path: Path) -> None:
    source = finance_source(tmp_path) | {"table": "no_such_table", "interactions": []}
    cfg = write_config(tmp_path, {"finance": source})
    with pytest.raises(ConfigError, match="sources.finance: cannot read table no_such_table: .*no such table"):
        check_columns(cfg)
