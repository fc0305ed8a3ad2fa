"""The gates as a user meets them: `cdp run` over two CSV silos, then a bad export of one of them.

One clean run (which trains the model) is copied into each test's folder, so every test starts
from a published deployment and can check what a bad run leaves behind.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cdp.cli import main
from cdp.config import load_config
from cdp.warehouse import open_warehouse
from tests.quality.silos import SALES_HEADER, people, sales_rows, write_silos
from tests.utils.demo import read_csv
from tests.utils.sources import write_csv

PEOPLE = people(160)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("published")
    write_silos(folder, PEOPLE)
    assert main(["run", "--config", str(folder / "cdp.yaml")]) == 0
    return folder


@pytest.fixture
def deployment(published: Path, tmp_path: Path) -> Path:
    """A copy of the published deployment: silos, cdp.yaml, warehouse, model, serving store."""
    folder = tmp_path / "deployment"
    shutil.copytree(published, folder)
    return folder


def run(folder: Path) -> int:
    return main(["run", "--config", str(folder / "cdp.yaml")])


def export(folder: Path, what: str, *options: str) -> list[dict[str, str]]:
    out = folder / f"{what}.csv"
    assert main(["export", what, "--config", str(folder / "cdp.yaml"), "--out", str(out), *options]) == 0
    return read_csv(out)


def serving_digest(folder: Path) -> str:
    return hashlib.sha256((folder / ".cdp" / "serving.db").read_bytes()).hexdigest()


NETWORK_ASSET = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?\s*(https?:)?//|@import""", re.I)


def test_clean_run_prints_its_summary_and_an_offline_report_and_is_recorded(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(deployment) == 0
    out = capsys.readouterr().out.splitlines()
    with open_warehouse(load_config(deployment / "cdp.yaml").warehouse_path, read_only=True) as con:
        customers, records = con.execute("select count(*), sum(size) from customers").fetchone() or (0, 0)
    assert out[:3] == ["source crm: 160 rows loaded, 0 quarantined", "source sales: 120 rows loaded, 0 quarantined",
                       f"customers: {customers} from {records} records"]
    assert records == 280 and 120 <= customers < 280
    assert out[3].startswith("quality report: ") and out[4].startswith("cdp run: ok in ") and len(out) == 5
    assert out[4].endswith("0 warning(s)")
    assert export(deployment, "quarantine") == []
    assert_offline_report(Path(out[3].removeprefix("quality report: ")), deployment)
    assert_recorded(deployment)


def assert_offline_report(report: Path, deployment: Path) -> None:
    """The printed report is one page of the run's expectations, loading nothing from the network."""
    assert report.is_file() and report.is_relative_to(deployment / ".cdp" / "quality")
    page = report.read_text()
    assert NETWORK_ASSET.search(page) is None, "the report loads nothing from the network"
    assert '<h2 id="staged_sales">staged_sales <span class="source">source sales</span>' in page
    assert '<td class="status met">met</td><td class="mono">expect_column_values_to_be_unique</td>' in page
    docs = re.search(r'href="([^"]+)">Data Docs</a>', page)
    assert docs and (report.parent / docs.group(1)).is_file()


def assert_recorded(deployment: Path) -> None:
    """The run and its materialisations are in the project's Dagster instance, after the copied first run."""
    run_id = (deployment / ".cdp" / "quality" / "run_id").read_text()
    with dg.DagsterInstance.from_config(str(deployment / ".cdp" / "dagster")) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2, "the copied deployment's first run, then this one"
        assert runs[0].run_id == run_id and runs[0].status == dg.DagsterRunStatus.SUCCESS
        published = instance.get_latest_materialization_event(dg.AssetKey("published"))
        assert published is not None and published.run_id == run_id
        assert instance.get_latest_materialization_event(dg.AssetKey("raw_sales")) is not None


def test_messy_sales_export_completes_and_accounts_for_every_row(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = sales_rows(PEOPLE)
    rows[0][0] = ""                                   # blank key
    rows[1][0] = "   "                                # blank once trimmed
    rows.append(list(rows[2]))                        # duplicate key: the first is kept
    rows.append([rows[3][0], "ANOTHER PERSON", "", "", "", ""])  # duplicate key, different row
    rows[4].append("surplus")                         # one field too many: the reader rejects it
    for row in rows[5:100]:
        row[2] = "not-an-email"                       # junk emails in most rows: a warning, not a rejection
    for row in rows[5:10]:
        row[4] = "31/31/1999"                         # junk dates: the attribute is set aside
    write_csv(deployment / "sales.csv", SALES_HEADER, rows)

    assert run(deployment) == 0
    out = capsys.readouterr().out
    assert f"source sales: {len(rows)} rows loaded, 5 quarantined" in out.splitlines()
    assert ("warning: staged_sales: warning_expectations: expect_column_values_to_be_in_set failed for "
            "source sales, table staged_sales, column email_status") in out

    quarantine = [(r["source_id"], r["row_number"], r["reason"], r["raw"])
                  for r in export(deployment, "quarantine", "--with-pii")]
    assert [q[:3] for q in quarantine if "unreadable" not in q[2]] == [
        ("", "1", "blank key (column contact_id)"), ("", "2", "blank key (column contact_id)"),
        (rows[2][0], str(len(rows) - 1), "duplicate key: row 3 has the same contact_id and is kept"),
        (rows[3][0], str(len(rows)), "duplicate key: row 4 has the same contact_id and is kept")]
    assert (deployment / "quarantine.csv").read_text().splitlines()[0] == \
        "source,source_id,reason,row_number,batch_id,raw,at"
    unreadable = [q for q in quarantine if "unreadable" in q[2]]
    assert len(unreadable) == 1 and unreadable[0][1] == "5" and "surplus" in unreadable[0][3]

    issues = export(deployment, "attribute_issues", "--with-pii")
    assert {(r["source_id"], r["field"]) for r in issues} >= {(row[0], "birth_date") for row in rows[5:10]}
    assert {(r["source_id"], r["field"]) for r in issues} >= {(row[0], "email") for row in rows[10:100]}

    crosswalk = export(deployment, "crosswalk")
    with open_warehouse(load_config(deployment / "cdp.yaml").warehouse_path, read_only=True) as con:
        logged = con.execute("select source, rows_in, rows_published, rows_quarantined from load_log "
                             "qualify loaded_at = max(loaded_at) over (partition by source)").fetchall()
        quarantined = dict(con.execute("select source, count(*) from quarantine group by source").fetchall())
    for source, rows_in, published_rows, quarantined_rows in logged:
        assert rows_in == published_rows + quarantined_rows == published_rows + quarantined.get(source, 0)
        assert published_rows == sum(r["source"] == source for r in crosswalk)
    assert {s: n for s, n, _, _ in logged} == {"crm": len(PEOPLE), "sales": len(rows)}


def test_personal_values_stay_out_of_exports_reports_and_run_records_unless_asked(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = sales_rows(PEOPLE)
    rows.append(list(rows[0]))                           # duplicate key: quarantined with its email and phone
    rows[1].append("surplus")                            # unreadable: its whole line is quarantined
    for i, row in enumerate(rows[5:100]):
        row[2] = f"private.person{i}@@mail.example"      # junk emails: unexpected values of the staged check
    for row in rows[5:10]:
        row[3] = "555-PRIV-" + row[0]                    # junk phones
    write_csv(deployment / "sales.csv", SALES_HEADER, rows)
    assert run(deployment) == 0
    assert "expect_column_values_to_be_in_set failed" in capsys.readouterr().out
    personal = [rows[0][2], rows[0][3], rows[1][2], rows[5][2], rows[99][2], rows[5][3], rows[9][3]]

    quarantine = export(deployment, "quarantine")
    issues = export(deployment, "attribute_issues")
    assert len(quarantine) == 2 and {r["field"] for r in issues} >= {"email", "phone"}
    written = [deployment / "quarantine.csv", deployment / "attribute_issues.csv",
               *(p for p in (deployment / ".cdp" / "quality").rglob("*") if p.is_file()),
               *(p for p in (deployment / ".cdp" / "dagster").rglob("*") if p.is_file())]
    for path in written:
        data = path.read_bytes()
        assert not [value for value in personal if value.encode() in data], path
    report = (deployment / ".cdp" / "quality" / "report.html").read_text()
    assert re.search(r"<td>\d+ of \d+ values unexpected \([0-9.]+%\)</td>", report) and "e.g." not in report

    with_pii = "\n".join(r["raw"] for r in export(deployment, "quarantine", "--with-pii"))
    assert rows[0][2] in with_pii and rows[1][2] in with_pii
    assert rows[5][2] in {r["value"] for r in export(deployment, "attribute_issues", "--with-pii")}


def test_renamed_key_column_fails_before_publishing(deployment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crosswalk, digest = export(deployment, "crosswalk"), serving_digest(deployment)
    write_csv(deployment / "sales.csv", ["id", *SALES_HEADER[1:]], sales_rows(PEOPLE))

    assert run(deployment) != 0
    err = capsys.readouterr().err
    assert "sources.sales" in err and "contact_id" in err
    assert serving_digest(deployment) == digest
    assert export(deployment, "crosswalk") == crosswalk


def test_collapsed_volume_blocks_the_run_naming_the_expectation(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crosswalk, digest = export(deployment, "crosswalk"), serving_digest(deployment)
    quarantine = export(deployment, "quarantine", "--with-pii")
    rows = sales_rows(PEOPLE)[:10]
    rows[0][0] = ""  # quarantined by the blocked load: the export keeps showing the last published load's
    write_csv(deployment / "sales.csv", SALES_HEADER, rows)

    assert run(deployment) == 1
    out, err = capsys.readouterr()
    assert ("blocking check failed: raw_sales: critical_expectations: expect_table_row_count_to_be_between "
            "failed for source sales, table raw_sales: observed 9") in err
    assert "nothing was published" in err
    assert "source sales: 10 rows loaded, 1 quarantined" in out.splitlines() and "customers:" not in out
    assert export(deployment, "quarantine", "--with-pii") == quarantine
    with open_warehouse(load_config(deployment / "cdp.yaml").warehouse_path, read_only=True) as con:
        assert con.execute("select reason from quarantine where source = 'sales'").fetchall() == [
            ("blank key (column contact_id)",)], "the blocked load's own quarantine is in the warehouse"
    report = (deployment / ".cdp" / "quality" / "report.html").read_text()
    assert ('<td class="status blocking">blocking</td><td class="mono">expect_table_row_count_to_be_between</td>'
            in report)
    assert run(deployment) == 1, "a retry compares with the last accepted load, not the blocked one"
    assert serving_digest(deployment) == digest
    assert export(deployment, "crosswalk") == crosswalk


def test_oversized_customers_block_before_ids_are_given(deployment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digest = serving_digest(deployment)
    text = (deployment / "cdp.yaml").read_text()
    (deployment / "cdp.yaml").write_text(text + "quality:\n  max_customer_size: 1\n")

    assert run(deployment) == 1
    err = capsys.readouterr().err
    assert ("blocking check failed: clusters: critical_expectations: expect_column_max_to_be_between failed for "
            "table clusters, column size") in err
    assert serving_digest(deployment) == digest




def test_a_silo_from_another_country_without_country_warns_in_the_summary(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An Australian silo (8-digit tax ids) mapped without `country:`: the run goes on, and says what it assumed."""
    rows = [[f"A{i:03d}", p["first"], p["last"], f"{40000000 + 7919 * i}"] for i, p in enumerate(PEOPLE[:30])]
    write_csv(deployment / "au.csv", ["id", "first", "last", "tfn"], rows)
    config = yaml.safe_load((deployment / "cdp.yaml").read_text())
    config["sources"]["au"] = {"connector": "csv", "path": "au.csv", "key": "id",
                               "fields": {"first_name": "first", "last_name": "last", "tax_id": "tfn"}}
    (deployment / "cdp.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    assert run(deployment) == 0
    out = capsys.readouterr().out
    assert ("warning: staged_au: country_rules: source au: 100% of tax_id values (30 of 30) failed the rules for "
            "US (no `country:` set; set `country:` on the source if it is not US)") in out
    assert "1 warning(s)" in out
    issues = [r for r in export(deployment, "attribute_issues") if r["source"] == "au"]
    assert len(issues) == 30 and all(r["reason"].startswith("kept for matching; an SSN has 9 digits") for r in issues)
