"""Stable ids, golden profiles and traits at scale, on the synthetic people of bench/households.py.

    python -m bench.profiles [--households 210000] [--work DIR]      # ~1M records, ~1 minute
    python -m bench.profiles --golden-of /work/scale/10m/cdp.yaml --memory-limit 8GB   # a resolved project's

With `--golden-of`, golden profiles are built again, alone, on a copy of a resolved project's warehouse (as
`cdp run` builds them after a full match, under the DuckDB memory limit given): wall and CPU seconds, peak RSS.

The clusters are the true people (matching is measured by bench/households.py), so this times the
steps after clustering and measures id stability: an unchanged re-run, then a run with 1% more
records, of which 60% join a known person, 30% are new people and 10% join two known people
into one (a merge).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from bench.households import population
from bench.households import write_staged as write_people
from cdp.config import IdentityConfig, load_config
from identity.golden import build_golden
from identity.ids import assign_customer_ids
from identity.traits import build_traits


def stage(con: duckdb.DuckDBPyConnection, households: int) -> None:
    """staged (with trust, times and places), clusters = the true people, ~3 interactions per record."""
    write_people(con, *population(households))
    con.execute("""create or replace table staged as
        select *, split_part(record_id, ':', 2) as source_id,
               case source when 'crm' then 3 when 'shop' then 2 else 1 end as trust,
               TIMESTAMP '2025-01-01' as loaded_at,
               if(hash(record_id) % 2 = 0, TIMESTAMP '2020-01-01' + to_days((hash(record_id) % 1800)::INTEGER),
                  NULL) as updated_at, 'IL' as state, 'US' as country
        from staged""")
    # the values as sent: names in mixed case, phones formatted (the display form and sources.values read them)
    con.execute("""create or replace table staged as
        select *, upper(first_name[1]) || lower(first_name[2:]) as first_name_raw, NULL::VARCHAR as middle_name_raw,
               upper(last_name[1]) || lower(last_name[2:]) as last_name_raw, NULL::VARCHAR as full_name_raw,
               email as email_raw, phone[3:5] || '-' || phone[6:8] || '-' || phone[9:] as phone_raw,
               street as street_raw, 'Springfield' as city_raw, state as state_raw, postcode as postcode_raw,
               country as country_raw, strftime(birth_date, '%m/%d/%Y') as birth_date_raw, tax_id as tax_id_raw
        from staged""")
    con.execute("create or replace table clusters as select record_id, min(record_id) over (partition by person_id) "
                "as cluster_id from truth")
    con.execute("""create or replace table interactions as
        select source, ['orders', 'invoices', 'tickets'][1 + k] as name, record_id || '/' || k as interaction_id,
               split_part(record_id, ':', 2) as source_id, record_id,
               TIMESTAMP '2021-01-01' + to_minutes((hash(record_id, k) % 2000000)::BIGINT) as "at",
               (hash(record_id, k) % 500)::DOUBLE as amount,
               json_object('category', if(hash(record_id, k) % 9 = 0, 'complaint', 'question')) as attributes
        from staged, range(3) t(k)""")


def grow(con: duckdb.DuckDBPyConnection) -> int:
    """Add 1% records to clusters: 60% join a person, 30% are new people, 10% join two people into one."""
    con.execute("create or replace temp table people as "
                "select cluster_id, row_number() over (order by cluster_id) as n from (select distinct cluster_id "
                "from clusters)")
    new = int(con.execute("select count(*) // 100 from clusters").fetchall()[0][0])
    con.execute("""create or replace temp table added as
        select 'new:' || i as record_id, p.cluster_id as joins, q.cluster_id as bridges, i % 10 as kind
        from range(?) t(i) join people p on p.n = 1 + i * 7 join people q on q.n = 2 + i * 7""", [new])
    con.execute("insert into clusters select record_id, if(kind between 6 and 8, record_id, joins) from added")
    con.execute("update clusters c set cluster_id = a.joins from added a where a.kind = 9 and c.cluster_id = a.bridges")
    return new


def timed(label: str, step: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = step()
    print(f"| {label} | {time.perf_counter() - start:.1f} |", flush=True)
    return result


def golden_of(config: Path, work: Path, memory_limit: str | None) -> None:
    """build_golden alone on a copy of the project's warehouse in `work`."""
    cfg = load_config(config)
    copy = work / "warehouse.duckdb"
    shutil.copyfile(cfg.warehouse_path, copy)
    options = {"memory_limit": memory_limit, "temp_directory": f"{copy}.tmp"} if memory_limit else {}
    with duckdb.connect(str(copy), config=options) as con:
        wall, cpu = time.perf_counter(), time.process_time()
        stats = build_golden(con, cfg.identity)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"golden of {config}: {stats['customers']:,} customers, {stats['lineage_rows']:,} lineage rows; "
          f"{wall:.1f} s wall, {cpu:.1f} CPU s, peak {peak:.2f} GB (DuckDB memory_limit {memory_limit or 'default'})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=210_000, help="households to generate (~4.8 records each)")
    ap.add_argument("--work", help="folder for the warehouse (default: a temp dir)")
    ap.add_argument("--golden-of", type=Path, help="a resolved project's cdp.yaml: time its golden profiles alone")
    ap.add_argument("--memory-limit", help="with --golden-of: DuckDB's memory_limit, e.g. 8GB")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="cdp-profiles-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.golden_of:
        return golden_of(args.golden_of, work, args.memory_limit)
    with duckdb.connect(str(work / "warehouse.duckdb")) as con:
        stage(con, args.households)
        counts = con.execute("select (select count(*) from staged), (select count(distinct cluster_id) from clusters),"
                             " (select count(*) from interactions)").fetchall()[0]
        print(f"records {counts[0]:,}, people {counts[1]:,}, interactions {counts[2]:,}\n")
        print("| step | seconds |\n| --- | ---: |")
        timed("customer ids, first run", lambda: assign_customer_ids(con, "r1"))
        unchanged = timed("customer ids, unchanged re-run", lambda: assign_customer_ids(con, "r2"))
        timed("golden profiles + lineage", lambda: build_golden(con, IdentityConfig()))
        timed("traits", lambda: build_traits(con))
        added = grow(con)
        grown = timed(f"customer ids, {added:,} records added", lambda: assign_customer_ids(con, "r3"))
    print(f"\nunchanged re-run: {unchanged.records_moved} records moved, {unchanged.new + unchanged.merges} events")
    print(f"1% added: kept {grown.kept_share:.4%} of records on their id; new {grown.new:,}, merges {grown.merges:,}, "
          f"splits {grown.splits:,}, redirects {grown.redirects:,}")


if __name__ == "__main__":
    main()
