"""Search and POST /resolve beside GET /customers/{id}, on one API server, in the same minute.

    cdp demo --out /tmp/demo20k --people 20000 && cdp run --config /tmp/demo20k/cdp.yaml
    python -m bench.resolve_load --config /tmp/demo20k/cdp.yaml [--clients 8] [--seconds 30] [--rounds 5]

One uvicorn process (bench.api_load's, rate limits out of reach), driven by wrk with one script per
kind of request, each picking a random line of its own file: customer ids; emails, phones and
names of published customers (as a user types them: lower case, national phone layout) for the
searches; golden attributes of published customers, half with a nickname and a typo in the
surname, for /resolve; and the same /resolve bodies posted to a bare endpoint on the same server
(`with_bare`: the body read and validated as /resolve reads it, on the event loop as /resolve runs,
nothing else), so the HTTP and server's share of /resolve's latency shows. The kinds alternate in
short rounds after a warm-up, so outside load falls on all alike; the table gives each kind's
requests/s and latency, and its throughput beside GET by id.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from api.main import from_environment
from api.routes.resolve import RecordIn
from bench.api_load import KEY, Result, _combined, server, unthrottled, wrk
from cdp.config import load_config
from ingestion.standardise.names import nicknames
from serving.tables import profiles

LUA = """
local lines = {}
for line in io.lines("%(lines)s") do lines[#lines + 1] = line end
wrk.headers["X-API-Key"] = "%(key)s"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
init = function(args)
  math.randomseed(seed * 7919)
end
request = function()
  local line = lines[math.random(#lines)]
  local tab = string.find(line, "\\t")
  if tab then
    return wrk.format("POST", string.sub(line, 1, tab - 1), nil, string.sub(line, tab + 1))
  end
  return wrk.format("GET", line)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"p50": %%d, "p99": %%d, "max": %%d, "requests": %%d, "duration_us": %%d, ' ..
    '"errors": %%d}\\n', latency:percentile(50), latency:percentile(99), latency.max, summary.requests,
    summary.duration, e.connect + e.read + e.write + e.status + e.timeout))
end
"""
"""wrk script: a line is a GET path, or a POST path and its JSON body separated by a tab."""
KINDS = ("by_id", "search_email", "search_phone", "search_name", "resolve", "bare_resolve")
BARE = "/bench/bare"


def with_bare() -> FastAPI:
    """The API of $CDP_CONFIG plus POST /bench/bare: only for this benchmark (uvicorn --factory)."""
    app = from_environment()

    @app.post(BARE)
    async def bare(body: RecordIn) -> dict[str, bool]:
        return {"ok": True}

    return app


def golden(url: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """(customer_id, golden attributes) of up to `limit` random published customers."""
    engine = sa.create_engine(url)
    with engine.connect() as con:
        rows = con.execute(sa.select(profiles.c.customer_id, profiles.c.attributes)).all()
    engine.dispose()
    if not rows:
        raise SystemExit(f"no published customers in {url}: run `cdp run` first")
    return [(cid, json.loads(attrs)) for cid, attrs in random.Random(7).sample(rows, min(limit, len(rows)))]


def _variant(attributes: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The attributes with a nickname for the first name and two letters of the surname swapped."""
    names = {name: nick for nick, name in nicknames().items()}
    first, last = attributes.get("first_name"), attributes.get("last_name")
    changed = dict(attributes)
    if first:
        changed["first_name"] = names.get(first, first).title()
    if last and len(last) > 3:
        i = rng.randrange(1, len(last) - 2)
        changed["last_name"] = last[:i] + last[i + 1] + last[i] + last[i + 2:]
    return changed


def lines(customers: list[tuple[str, dict[str, Any]]]) -> dict[str, list[str]]:
    """Per kind of request, the script lines to pick from."""
    rng = random.Random(11)
    quote = urllib.parse.quote
    out: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for cid, a in customers:
        out["by_id"].append(f"/customers/{cid}")
        if a.get("email"):
            out["search_email"].append(f"/customers?email={quote(' ' + a['email'].upper() + ' ')}")
        if (a.get("phone") or "").startswith("+1") and len(a["phone"]) == 12:
            p = a["phone"][2:]
            out["search_phone"].append(f"/customers?phone={quote(f'({p[:3]}) {p[3:6]}-{p[6:]}')}")
        if a.get("first_name") and a.get("last_name"):
            out["search_name"].append(f"/customers?name={quote(a['first_name'].title() + ' ' + a['last_name'])}")
        body = {k: v for k, v in a.items() if isinstance(v, str) and v}
        body = _variant(body, rng) if rng.random() < 0.5 else body
        out["resolve"].append("/resolve\t" + json.dumps(body))
        out["bare_resolve"].append(f"{BARE}\t" + json.dumps(body))
    return out


def first_resolve(base: str, line: str) -> float:
    """Seconds the first /resolve takes: the API builds the published version's index for it."""
    path, body = line.split("\t", 1)
    req = urllib.request.Request(base + path, data=body.encode(), method="POST",
                                 headers={"X-API-Key": KEY, "Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=1800) as r:
        r.read()
    return time.perf_counter() - start


def measure(base: str, scripts: dict[str, Path], clients: int, seconds: int, rounds: int) -> list[Result]:
    """Each kind for `seconds` in all, as `rounds` alternating runs after a warm-up of each."""
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in scripts}
    for script in scripts.values():
        wrk(base, script, clients, 2, 1)
    for _ in range(rounds):
        for kind, script in scripts.items():
            runs[kind].append(wrk(base, script, clients, max(1, seconds // rounds), 1))
    return [_combined(kind, clients, rs) for kind, rs in runs.items()]


def report(results: list[Result]) -> str:
    """A Markdown table, each kind's throughput beside GET by id's."""
    by_id = {r.clients: r for r in results if r.app == "by_id"}
    rows = ["| clients | request | p50 ms | p99 ms | p99 worst round | req/s | errors | req/s vs by id |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        rows.append(f"| {r.clients} | {r.app} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.p99_worst_ms:.2f} | "
                    f"{r.rps:,.0f} | {r.errors} | {r.rps / by_id[r.clients].rps:.2f}x |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="cdp.yaml of a published demo")
    ap.add_argument("--clients", default="8", help="concurrent connections, comma-separated")
    ap.add_argument("--seconds", type=int, default=30, help="measured seconds per kind and client count")
    ap.add_argument("--rounds", type=int, default=5, help="alternating runs the seconds are split into")
    ap.add_argument("--customers", type=int, default=5000, help="random published customers the scripts draw on")
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found (Debian: apt-get install wrk)")
    with unthrottled(Path(args.config).resolve()) as config:
        work = Path(tempfile.mkdtemp(prefix="cdp-resolve-load-"))
        scripts = {}
        found_lines = lines(golden(load_config(config).serving, args.customers))
        for kind, found in found_lines.items():
            (work / f"{kind}.txt").write_text("".join(f"{line}\n" for line in found))
            scripts[kind] = work / f"{kind}.lua"
            scripts[kind].write_text(LUA % {"lines": work / f"{kind}.txt", "key": KEY})
        with server("bench.resolve_load:with_bare", config, 1, work / "api.log", keys=f"{KEY}:reader:pii") as base:
            print(f"first /resolve (builds the index): {first_resolve(base, found_lines['resolve'][0]):.1f} s")
            results = [r for c in args.clients.split(",") for r in
                       measure(base, scripts, int(c), args.seconds, args.rounds)]
    print(f"{args.customers:,} customers drawn on, {args.seconds} s per kind in {args.rounds} alternating rounds, "
          "one uvicorn worker, wrk -t1, on the same machine")
    print(report(results))
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
