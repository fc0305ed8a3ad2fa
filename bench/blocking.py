"""What each prediction blocking rule costs and finds, on a resolved project with a truth file.

    python -m bench.blocking --config /work/scale/1m/cdp.yaml        # after a `cdp run` there (bench.scale)
    python -m bench.blocking --config /work/scale/1m/cdp.yaml --config /work/scale/100k/cdp.yaml

Per rule of the model in use: the candidate pairs it makes on the staged records (every pair of its
blocks, before Splink drops the pairs an earlier rule made), and of the true pairs (two records of one
person in truth.csv) those no other rule makes, with how many of those the run linked. Then, for the
full-name rule, the same by the size of the name's block. Pairs of a rule whose keys do not grow
with the records (a birth date, a postcode, a common name) grow with their square: beside the sizes,
the ratio says which rules will not scale.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from cdp.config import load_config
from cdp.schema import RECORD_CUSTOMER
from cdp.warehouse import open_warehouse
from identity.model import ModelStore, read_input, with_block_sizes
from identity.resolve import BlockingRule
from identity.settings import block_keys, floor_of, prediction_rules

NAME_RULE = "l.first_name_root = r.first_name_root AND l.last_name = r.last_name"
BLOCK_SIZES = ((1, 5), (6, 20), (21, 50), (51, 100), (101, 10**9))


def measure(config: Path) -> tuple[int, list[tuple[str, int, int, int]], list[tuple[str, int, int, int, int]]]:
    """(records, per rule (rule, candidate pairs, true pairs only it makes, of those linked),
    per name block size (sizes, records, candidate pairs, true pairs only the name rule makes, linked))."""
    cfg = load_config(config)
    model = ModelStore(cfg.state_dir / "models").load()
    rules = prediction_rules(model)
    con = duckdb.connect()
    with open_warehouse(cfg.warehouse_path, read_only=True) as warehouse:
        con.register("staged_input", with_block_sizes(read_input(warehouse), model))
        con.register("linked", warehouse.sql(f"select record_id, customer_id from {RECORD_CUSTOMER}").to_arrow_table())
        con.execute("create table r as select * from staged_input")
        con.execute("create table rc as select * from linked")
    con.execute(f"""create table truth as select source || ':' || source_id as unique_id, person_id
                    from read_csv('{cfg.root / "truth.csv"}', all_varchar = true)""")
    con.execute("""create table rr as select r.*, t.person_id, rc.customer_id,
                       count(*) over (partition by first_name_root, last_name) as name_block
                   from r join truth t using (unique_id) join rc on rc.record_id = r.unique_id""")
    con.execute("""create table true_pairs as select l.unique_id as a, r.unique_id as b
                   from rr l join rr r on l.person_id = r.person_id and l.unique_id < r.unique_id""")
    records = con.execute("select count(*) from r").fetchall()[0][0]
    per_rule = []
    for rule in rules:
        others = " OR ".join(f"coalesce(({o}), false)" for o in rules if o != rule) or "false"
        only = con.execute(f"""select count(*), count(*) filter (where l.customer_id = r.customer_id)
            from true_pairs join rr l on l.unique_id = a join rr r on r.unique_id = b
            where coalesce(({rule}), false) and not ({others})""").fetchall()[0]
        per_rule.append((rule, _candidates(con, rule), int(only[0]), int(only[1])))
    by_size = []
    name_rule = next((r for r in rules if r.startswith(NAME_RULE)), NAME_RULE)
    others = " OR ".join(f"coalesce(({o}), false)" for o in rules if o != name_rule)
    for low, high in BLOCK_SIZES if any(r.startswith(NAME_RULE) for r in rules) else ():
        blocks = con.execute(f"""select count(*), coalesce(sum(name_block - 1) / 2, 0)::bigint from rr
            where first_name_root is not null and last_name is not null and name_block between {low} and {high}
            """).fetchall()[0]
        only = con.execute(f"""select count(*), count(*) filter (where l.customer_id = r.customer_id)
            from true_pairs join rr l on l.unique_id = a join rr r on r.unique_id = b
            where l.name_block between {low} and {high} and coalesce(({name_rule}), false) and not ({others})
            """).fetchall()[0]
        label = f"{low}-{high}" if high < 10**9 else f">{low - 1}"
        by_size.append((label, int(blocks[0]), int(blocks[1]), int(only[0]), int(only[1])))
    return records, per_rule, by_size


def _candidates(con: duckdb.DuckDBPyConnection, rule: str) -> int:
    """Pairs the rule's blocks make (of at most its cap's records, when capped): from block sizes when both sides
    key alike, else by the join itself."""
    keys, cap = block_keys(rule), BlockingRule(rule).cap
    if keys is not None:
        # A split's floor (settings.capped) is its first rule's block size: the same for a whole block of the split.
        floor = floor_of(rule)
        known = " and ".join([*(f"({k}) is not null" for k in keys), *([floor] if floor else [])])
        kept = f"where n <= {cap}" if cap is not None else ""
        return int(con.execute(f"""select coalesce(sum(n * (n - 1) / 2), 0)::bigint
            from (select count(*) as n from r where {known} group by {', '.join(keys)}) {kept}""").fetchall()[0][0])
    joined = rule.replace("r.", "rr_.").replace("l.", "l_.")
    return int(con.execute(f"""select count(*) from r as l_ join r as rr_ on {joined}
                               where l_.unique_id < rr_.unique_id""").fetchall()[0][0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", action="append", required=True, type=Path,
                    help="a resolved project's cdp.yaml with truth.csv beside it (repeat for more sizes)")
    args = ap.parse_args()
    results = {config: measure(config) for config in args.config}
    sizes = [f"{records:,} records" for records, _, _ in results.values()]
    print("\nCandidate pairs per rule | true pairs only this rule makes (linked by the run)\n")
    print("| rule | " + " | ".join(sizes) + " |")
    print("| --- |" + " ---: |" * len(sizes))
    for n, rule in enumerate(next(iter(results.values()))[1]):
        cells = [f"{per_rule[n][1]:,} / {per_rule[n][2]:,} ({per_rule[n][3]:,})" for _, per_rule, _ in results.values()]
        print(f"| `{rule[0]}` | " + " | ".join(cells) + " |")
    totals = [f"{sum(p[1] for p in per_rule):,}" for _, per_rule, _ in results.values()]
    print("| all rules (before overlaps) | " + " | ".join(totals) + " |")
    print("\nThe full-name rule by the size of the name's block: records / candidate pairs / true pairs only it "
          "makes (linked)\n")
    print("| block size | " + " | ".join(sizes) + " |")
    print("| --- |" + " ---: |" * len(sizes))
    for n, row in enumerate(next(iter(results.values()))[2]):
        cells = [f"{by[n][1]:,} / {by[n][2]:,} / {by[n][3]:,} ({by[n][4]:,})" for _, _, by in results.values()]
        print(f"| {row[0]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
