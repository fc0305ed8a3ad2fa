"""The run's quality report: one self-contained HTML page that renders with no network.

Great Expectations' Data Docs load Bootstrap, jQuery and bootstrap-table from CDNs, so offline
they show an unstyled page with an empty results table. This page has its styles inline and no
scripts: per validated table (in the order the gates ran), every expectation with its column,
bounds, what was observed and whether it was met. The Data Docs stay linked as a second view.

No Great Expectations here: quality.validation turns its results into `Checked` rows.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path


@dataclass(frozen=True)
class Checked:
    """One expectation the run evaluated, as the report shows it."""

    table: str
    """The warehouse table validated (raw_sales__orders, staged_sales, clusters...)."""
    source: str | None
    """The source the table belongs to; None for the identity stages."""
    expectation: str
    column: str | None
    severity: str
    """critical (blocks the run when not met), warning, or info (reported, never a finding)."""
    met: bool
    expected: str
    observed: str
    note: str


STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; } h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
.meta, .source { color: #59636e; font-weight: normal; }
.counts span { display: inline-block; margin: .5rem .5rem 0 0; padding: .25rem .6rem; border-radius: 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid #d1d9e0; }
th { background: #f6f8fa; font-weight: 600; } td.mono { font-family: ui-monospace, Menlo, Consolas, monospace; }
.met { background: #dafbe1; color: #116329; } .warning { background: #fff8c5; color: #7d4e00; }
.blocking { background: #ffebe9; color: #a40e26; } .info { background: #ddf4ff; color: #0550ae; }
.status { font-weight: 600; white-space: nowrap; border-radius: .25rem; }
"""


def status(row: Checked) -> str:
    """met, or what not meeting it means: blocking (critical), warning, info."""
    if row.met:
        return "met"
    return {"critical": "blocking", "warning": "warning"}.get(row.severity, "info")


def write_page(path: Path, run_id: str, rows: list[Checked], gx_docs: Path) -> None:
    """Write the report of `rows` (one run's expectations, in the order they ran) to `path`."""
    counts = {s: sum(status(r) == s for r in rows) for s in ("met", "blocking", "warning", "info")}
    badges = "".join(f'<span class="{s}">{n} {s}</span>' for s, n in counts.items() if n or s == "met")
    docs = html.escape(Path(os.path.relpath(gx_docs, path.parent)).as_posix())
    sections = "".join(_section(table, list(group)) for table, group in groupby(rows, key=lambda r: r.table))
    path.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cdp quality report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body><h1>Quality report</h1>
<div class="meta">Dagster run {html.escape(run_id)}: {len(rows)} expectations on
{len({r.table for r in rows})} tables. Great Expectations' own <a href="{docs}">Data Docs</a> of the same
results need the network for their styles.</div>
<div class="counts">{badges}</div>
{sections}
</body></html>
""")


def _section(table: str, rows: list[Checked]) -> str:
    source = f' <span class="source">source {html.escape(rows[0].source)}</span>' if rows[0].source else ""
    body = "".join(_row(r) for r in rows)
    return (f'<h2 id="{html.escape(table)}">{html.escape(table)}{source}</h2>\n<table><thead><tr><th>status</th>'
            "<th>expectation</th><th>column</th><th>severity</th><th>expected</th><th>observed</th><th>meaning</th>"
            "</tr></thead>"
            f"<tbody>{body}</tbody></table>\n")


def _row(r: Checked) -> str:
    cells = [r.expectation, r.column or "", r.severity, r.expected, r.observed, r.note]
    tds = "".join(f'<td class="mono">{html.escape(c)}</td>' if i < 2 else f"<td>{html.escape(c)}</td>"
                  for i, c in enumerate(cells))
    label = status(r) if r.met or r.severity != "info" else "not met (info)"
    return f'<tr><td class="status {status(r)}">{html.escape(label)}</td>{tds}</tr>\n'
