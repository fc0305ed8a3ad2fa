"""cdp.yaml parsing: every structural error names the source and the key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cdp.config import ConfigError, CsvLocation, SqlLocation, load_config


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "people.csv").write_text("id,name\n1,Ann\n")
    with sqlite3.connect(tmp_path / "finance.db") as db:
        db.execute("create table if not exists accounts (account_no integer, email text)")
    path = tmp_path / "cdp.yaml"
    path.write_text(text)
    return path


GOOD = """
sources:
  sales:
    connector: csv
    path: people.csv
    key: id
    trust: 2
    fields: {full_name: name}
  finance:
    connector: sql
    url: sqlite:///finance.db
    table: accounts
    key: account_no
    fields: {email: email}
"""


def test_good_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    sales, finance = cfg.sources["sales"], cfg.sources["finance"]
    assert isinstance(sales.location, CsvLocation)
    assert sales.location.path == str(tmp_path / "people.csv")
    assert isinstance(finance.location, SqlLocation)
    assert finance.location.url == f"sqlite:///{tmp_path}/finance.db"
    assert cfg.warehouse_path == tmp_path / ".cdp" / "warehouse.duckdb"
    assert cfg.serving == f"sqlite:///{tmp_path}/.cdp/serving.db"
    assert sales.trust == 2 and finance.trust == 1


def test_config_found_through_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDP_CONFIG", str(write(tmp_path, GOOD)))
    assert set(load_config().sources) == {"sales", "finance"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("connector: csv", "connector: excel"), "sources.sales.connector: unknown connector 'excel'"),
        (("    key: id\n", ""), "sources.sales.key: required key is missing"),
        (("full_name: name", "fullname: name"), "sources.sales.fields: unknown canonical attribute(s) ['fullname']"),
        (("path: people.csv", "path: nowhere.csv"), "sources.sales.path: no file matches"),
        (("sqlite:///finance.db", "sqlite:///nowhere.db"), "sources.finance.url: no SQLite database at"),
        (("trust: 2", "trust: 2\n    colour: blue"), "sources.sales.colour: unknown key"),
        (("table: accounts", "table: accounts\n    query: select 1"), "give exactly one of table: or query:"),
    ],
)
def test_errors_name_source_and_key(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD.replace(*change)))
    assert expected in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "sources: [unclosed"))


def test_unknown_survivorship_rule(tmp_path: Path) -> None:
    text = GOOD + "identity:\n  survivorship: {email: [trust, loudest]}\n"
    with pytest.raises(ConfigError, match=r"identity.survivorship.email: unknown rule.*loudest"):
        load_config(write(tmp_path, text))


def test_every_missing_path_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("path: people.csv", "path: nowhere.csv").replace("finance.db", "nowhere.db")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert "sources.sales.path: no file matches" in str(err.value)
    assert "sources.finance.url: no SQLite database at" in str(err.value)
    assert not (tmp_path / "nowhere.db").exists()  # checking did not create it


def test_api_pii_and_rate_limits(tmp_path: Path) -> None:
    defaults = load_config(write(tmp_path, GOOD)).api
    assert defaults.pii == ["email", "phone", "tax_id", "birth_date", "street"]
    assert defaults.rate_limit and defaults.search_rate_limit
    text = GOOD + ("api:\n  pii: [email, last_name]\n  rate_limit: null\n"
                   "  search_rate_limit: {per_minute: 30, burst: 5}\n")
    api = load_config(write(tmp_path, text)).api
    assert api.pii == ["email", "last_name"] and api.rate_limit is None
    assert api.search_rate_limit and (api.search_rate_limit.per_minute, api.search_rate_limit.burst) == (30, 5)


@pytest.mark.parametrize(("api", "expected"), [
    ("pii: [email, shoe_size]", "api.pii: unknown canonical attribute(s) ['shoe_size']"),
    ("rate_limit: {per_minute: 0, burst: 5}", "api.rate_limit.per_minute: Input should be greater than 0"),
    ("rate_limit: {per_minute: 60}", "api.rate_limit.burst: required key is missing"),
    ("search_rate_limit: {per_second: 1, burst: 1, per_minute: 1}", "api.search_rate_limit.per_second: unknown key"),
])
def test_api_errors_name_the_key(tmp_path: Path, api: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD + f"api:\n  {api}\n"))
    assert expected in str(err.value)


def test_webhooks(tmp_path: Path) -> None:
    text = GOOD + "webhooks:\n  - {url: 'https://crm.example.com/in', events: [customer.merged], secret_env: CRM_KEY}\n"
    [hook] = load_config(write(tmp_path, text)).webhooks
    assert (hook.url, hook.events, hook.secret_env, hook.pii, hook.timeout) == (
        "https://crm.example.com/in", ["customer.merged"], "CRM_KEY", False, 5.0)
    assert load_config(write(tmp_path, GOOD)).webhooks == []


@pytest.mark.parametrize(("hook", "expected"), [
    ("{url: 'ftp://x/y', events: [customer.merged], secret_env: K}", "webhooks.0.url: 'ftp://x/y' is not an http"),
    ("{url: 'http://x/y', events: [segment.entered:vip], secret_env: K}",
     "webhooks.0.events: unknown change type 'segment.entered:vip'"),
    ("{url: 'http://x/y', events: [], secret_env: K}", "webhooks.0.events: List should have at least 1 item"),
    ("{url: 'http://x/y', events: [customer.merged], secret: abc}", "webhooks.0.secret: unknown key"),
    ("{url: 'http://x/y', events: [customer.merged], secret_env: 'my key'}",
     "webhooks.0.secret_env: 'my key' is not an environment variable's name"),
])
def test_webhook_errors_name_the_key(tmp_path: Path, hook: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD + f"webhooks:\n  - {hook}\n"))
    assert expected in str(err.value)


def test_engine_and_spark_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.engine == "duckdb" and cfg.spark.master == "local[*]" and cfg.spark.conf == {}
    assert cfg.warehouse_options == {}


def test_spark_engine_without_java_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object())  # as if pyspark were installed
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD + "engine: spark\nspark: {master: 'local[2]'}\n"))
    assert "engine: spark needs pyspark and Java" in str(err.value)
    assert "apt-get install default-jre-headless" in str(err.value)


def test_spark_engine_without_pyspark_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD + "engine: spark\n"))
    assert "pip install 'cdp[spark]'" in str(err.value)


def test_unknown_engine_and_spark_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD + "engine: flink\nspark: {mastr: x}\n"))
    assert "engine: Input should be 'duckdb' or 'spark'" in str(err.value)
    assert "spark.mastr: unknown key" in str(err.value)


def test_duckdb_memory_settings_resolve_against_the_config(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD + "duckdb: {memory_limit: 2GB, temp_directory: spill}\n"))
    assert cfg.warehouse_options == {"memory_limit": "2GB", "temp_directory": str(tmp_path / "spill")}
