"""The run's quality report page: every expectation with its status, escaped, no network."""

from __future__ import annotations

from pathlib import Path

from quality.page import Checked, write_page


def checked(table: str, severity: str, met: bool, observed: str = "", source: str | None = "sales") -> Checked:
    return Checked(table=table, source=source, expectation="expect_column_values_to_match_regex", column="email",
                   severity=severity, met=met, expected="mostly=0.5", observed=observed, note="emails look valid")


def test_page_groups_by_table_and_names_each_status(tmp_path: Path) -> None:
    rows = [checked("staged_sales", "critical", True), checked("staged_sales", "warning", False, "<b>3</b> of 9"),
            checked("golden", "critical", False, source=None), checked("golden", "info", False)]
    page = tmp_path / "report.html"
    write_page(page, "run-1", rows, tmp_path / "gx" / "index.html")
    text = page.read_text()
    assert text.count("<h2 ") == 2 and 'id="golden">golden</h2>' in text
    assert [s in text for s in ('"status met">met<', '"status warning">warning<', '"status blocking">blocking<',
                                '"status info">not met (info)<')] == [True] * 4
    assert "&lt;b&gt;3&lt;/b&gt; of 9" in text and "<b>" not in text
    assert '<span class="met">1 met</span><span class="blocking">1 blocking</span>' in text
    assert 'href="gx/index.html"' in text and "http" not in text.replace("http-equiv", "")
