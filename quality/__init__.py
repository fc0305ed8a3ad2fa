"""Quality gates: Great Expectations suites per stage, the quarantine export, Dagster asset checks.

raw_<source>     keys present and unique, mapped columns present, row count against the previous load
staged_<source>  shares of valid emails, E.164 phones, plausible birth dates, names present
clusters         no customer above a bound, few records in large customers, run-over-run stability
customers        every staged record has one customer id
golden           completeness of the golden profiles

`quality.gates` measures a stage in DuckDB and validates the frame with its suite; `quality.checks`
wraps each gate in Dagster asset checks (critical expectations blocking, warnings at WARN severity).
Great Expectations takes seconds to import, so only the gates import it, inside the checks:
importing `quality.checks` stays cheap for the CLI and the API. `quality.quarantine` writes the
rows ingestion did not publish, and the attribute values it set aside, as CSV.
"""
