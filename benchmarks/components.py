"""Per-component timings of the model costs of issue 15, before and after, on synthetic inputs.

    python benchmarks/components.py                       # every component, figures to stdout + JSON
    python benchmarks/components.py --orders benchmarks/data/large_10000000/orders.parquet
    python benchmarks/components.py --lifetimes-python /tmp/lt-venv/bin/python

A full engagement on 10 million orders is too heavy to repeat on a shared 2-core machine;
these are the parts the issue profiled, timed one by one, each against the code it
replaced (loaded from git at ``--before``, default the commit before the changes):

* BG/NBD and Gamma-Gamma on 23,570 customers: the CDNOW sample (2,357 customers, in
  ``tests/data``) ten times over, which has exactly the sample's maximum; our fit now,
  our Nelder–Mead fit before, and lifetimes (``--lifetimes-python``: a Python with
  lifetimes installed, run in a child process on the same summary);
* CLV scoring of 200,000 accounts (``compute_clv``: both fits and 36 monthly forecasts)
  and the holdout check's refit, on the CDNOW summary grown to 200,000 jittered accounts;
* programme-impact matching at 50 / 100 / 200 thousand accounts (8 % programme accounts,
  10 controls each, as in the demo), the k-d tree against the old sort (the old one only
  where it finishes in minutes);
* cohort retention and the churn frames (9 cut-offs, as in the engagement) on the
  orders of a large demo client (``kam demo-data OUT --accounts 200000 --orders N
  --format parquet``; ``--orders`` names its ``orders.parquet``).

Each figure is the median of ``--repeat`` runs (wall and CPU seconds; on a loaded machine
CPU seconds are the steadier); the load average is recorded before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
CDNOW = REPO / "tests" / "data" / "CDNOW_sample.txt"
BEFORE = "49a7393"  # main before issue 15's model changes
sys.path.insert(0, str(HERE))
from _sections import SECTION_END, section_open, write_section  # noqa: E402 (benchmarks/ is on the path)


def old_module(name: str, path: str, commit: str):
    """A module of the package as it was at ``commit`` (relative imports resolve in the current package)."""
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:{path}"], check=True, capture_output=True,
                         text=True).stdout
    mod = types.ModuleType(f"{name}_before")
    mod.__package__ = name.rsplit(".", 1)[0]
    sys.modules[mod.__name__] = mod  # dataclasses look their module up there
    exec(compile(src, f"{path}@{commit}", "exec"), mod.__dict__)
    return mod


def timed(fn, repeat: int) -> dict:
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "runs": len(walls), "result": out}


def cdnow_summary(clv) -> pd.DataFrame:
    df = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["master", "id", "date", "cds", "value"],
                     dtype={"date": str})
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    s = clv.compute_clv_summary(df, account_col="id", date_col="date", value_col="value",
                                calibration_end="1997-09-30", observation_end="1998-06-30")
    return s.rename(columns={"id": "account_id"})


def grown_summary(s: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """The CDNOW summary repeated to ``n`` accounts, ages, recencies and values jittered."""
    rng = np.random.default_rng(seed)
    g = pd.concat([s] * (n // len(s) + 1), ignore_index=True).iloc[:n].copy()
    g["T"] = g["T"] + rng.uniform(0, 1, n)
    g["recency"] = np.where(g["frequency"] > 0, np.minimum(g["recency"] + rng.uniform(0, 0.5, n), g["T"]), 0.0)
    g["monetary_value"] = np.where(g["frequency"] > 0, g["monetary_value"] * rng.uniform(0.9, 1.1, n), 0.0)
    g["account_id"] = np.arange(n).astype(str)
    return g


LIFETIMES = r"""
import json, sys, time, statistics
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
import lifetimes
s = pd.read_csv(sys.argv[1]); repeat = int(sys.argv[2]); out = {"version": lifetimes.__version__}
r = s[s["frequency"] > 0]
for name, fit in (("bgnbd", lambda: BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])),
                  ("gamma_gamma", lambda: GammaGammaFitter().fit(r["frequency"], r["monetary_value"]))):
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time(); m = fit()
        walls.append(time.perf_counter() - w); cpus.append(time.process_time() - c)
    out[name] = {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "runs": repeat,
                 "params": {k: float(v) for k, v in m.params_.items()}}
print(json.dumps(out))
"""


def bench_clv(args, res: dict) -> None:
    from kam_analysis.models import clv

    old = old_module("kam_analysis.models.clv", "kam_analysis/models/clv.py", args.before)
    s = cdnow_summary(clv)
    big = pd.concat([s] * 10, ignore_index=True)  # 23,570 customers, the same maximum as the sample
    for label, mod in (("now", clv), ("before", old)):
        bg = timed(lambda: mod.BetaGeoFitter().fit(big["frequency"], big["recency"], big["T"]), args.repeat)
        gg = timed(lambda: mod.GammaGammaFitter().fit(big["frequency"], big["monetary_value"]), args.repeat)
        res[f"clv_23570_{label}"] = {"bgnbd": {**bg, "result": bg["result"].params_},
                                     "gamma_gamma": {**gg, "result": gg["result"].params_}}
    if args.lifetimes_python:
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            big[["frequency", "recency", "T", "monetary_value"]].to_csv(f, index=False)
        try:
            run = subprocess.run([args.lifetimes_python, "-c", LIFETIMES, f.name, str(args.repeat)],
                                 capture_output=True, text=True, check=True)
            res["clv_23570_lifetimes"] = json.loads(run.stdout.strip().splitlines()[-1])
        except (subprocess.CalledProcessError, OSError) as exc:
            res["clv_23570_lifetimes"] = {"error": str(getattr(exc, "stderr", "") or exc)[-500:]}
        finally:
            os.unlink(f.name)
    g = grown_summary(s, 200_000)
    hold = g.assign(frequency_holdout=0, duration_holdout=39.0)
    for label, mod in (("now", clv), ("before", old)):
        res[f"clv_200k_{label}"] = {
            "compute_clv": {k: v for k, v in timed(lambda: mod.compute_clv(g), 1).items() if k != "result"},
            "holdout_check": {k: v for k, v in timed(lambda: mod.compute_holdout_check(hold), 1).items()
                              if k != "result"}}


def matching_inputs(n: int, seed: int = 2):
    rng = np.random.default_rng(seed)
    n_t = int(n * 0.08)
    pool = rng.normal(0, 1, (n - n_t, 2))
    level = rng.normal(1.2, 1, n_t)
    treated = np.column_stack([level, 0.5 * level + rng.normal(0, 0.8, n_t)])
    return pool, treated[np.argsort(-treated[:, 0], kind="stable")]


def brute_force_match(pool, treated, ratio):
    """The matching before: a full sort of the free pool per programme account."""
    free = np.ones(len(pool), dtype=bool)
    taken = []
    for point in treated:
        if not free.any():
            break
        dist = np.where(free, np.sqrt(((pool - point) ** 2).sum(axis=1)), np.inf)
        nearest = np.argsort(dist, kind="stable")[: min(ratio, int(free.sum()))]
        free[nearest] = False
        taken.append(nearest)
    return np.concatenate(taken)


def bench_matching(args, res: dict) -> None:
    from kam_analysis.models.impact import match_nearest

    res["matching"] = []
    for n in args.match_sizes:
        pool, treated = matching_inputs(n)
        now = timed(lambda: match_nearest(pool, treated, 10), args.repeat)
        row = {"accounts": n, "programme": len(treated), "pool": len(pool),
               "now": {k: v for k, v in now.items() if k != "result"}}
        if n <= args.brute_max:
            before = timed(lambda: brute_force_match(pool, treated, 10), 1)
            row["before"] = {k: v for k, v in before.items() if k != "result"}
            row["identical"] = bool(np.array_equal(now["result"], before["result"]))
        res["matching"].append(row)


def bench_orders(args, res: dict, parts=("cohorts", "churn")) -> None:
    src = (f"(SELECT \"Customer ID\" AS account_id, \"Order No\" AS order_id, CAST(\"Order Date\" AS DATE) AS "
           f"order_date, \"Net Sales (EUR)\" AS net_revenue, \"Product Category\" AS category "
           f"FROM read_parquet('{args.orders}'))")
    if "cohorts" in parts:
        bench_cohorts(args, res, src)
    if "churn" in parts:
        bench_churn(args, res, src)


def bench_cohorts(args, res: dict, src: str) -> None:
    import duckdb

    from kam_analysis import metrics

    con = duckdb.connect()
    orders = con.execute(f"SELECT account_id, order_id, CAST(min(order_date) AS TIMESTAMP) AS order_date, "
                         f"CAST(sum(net_revenue) AS DOUBLE) AS revenue FROM {src} GROUP BY ALL").df()
    con.close()
    res["orders"] = {"file": str(args.orders), "orders": len(orders), "accounts": int(orders["account_id"].nunique())}
    old_coh = old_module("kam_analysis.metrics.cohorts", "kam_analysis/metrics/cohorts.py", args.before)
    as_of = pd.Timestamp("2025-12-31")
    now = timed(lambda: metrics.compute_cohort_retention(orders, period="quarter", as_of=as_of), args.repeat)
    before = timed(lambda: old_coh.compute_cohort_retention(orders, period="quarter", as_of=as_of), 1)
    res["cohorts"] = {"now": {k: v for k, v in now.items() if k != "result"},
                      "before": {k: v for k, v in before.items() if k != "result"},
                      "identical": bool(now["result"].equals(before["result"]))}


def bench_churn(args, res: dict, src: str) -> None:
    from kam_analysis.models import churn

    as_of = pd.Timestamp("2025-12-31")
    # the engagement's 9 cut-offs: scoring, test (also the last final window), 3 more final and 4 back-test
    # windows (horizon 180 days, step 91 days)
    test = as_of - pd.Timedelta(days=180)
    cuts = [as_of, test] + [test - pd.Timedelta(days=k * 91) for k in range(1, 4)] + \
        [test - pd.Timedelta(days=180 + k * 91) for k in range(4)]
    kw = {"horizon_days": 180, "activity_days": 180, "data_end": as_of.date()}
    old_churn = old_module("kam_analysis.models.churn", "kam_analysis/models/churn.py", args.before)
    now = timed(lambda: churn.build_churn_frames(src, cutoffs=cuts, **kw), 1)
    before = timed(lambda: {pd.Timestamp(c.date()): old_churn.build_churn_frame(src, cutoff=c.date(), **kw)
                            for c in cuts}, 1)
    same = all(now["result"][c].equals(before["result"][c]) for c in before["result"])
    res["churn_frames"] = {"cutoffs": len(cuts), "rows": int(sum(len(f) for f in now["result"].values())),
                           "now": {k: v for k, v in now.items() if k != "result"},
                           "before": {k: v for k, v in before.items() if k != "result"}, "identical": same}


def machine() -> dict:
    import duckdb
    import psutil
    import scipy

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), None) if Path("/proc/cpuinfo").exists() else None
    return {"cpu": model or platform.processor() or platform.machine(), "logical_cores": os.cpu_count(),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
            "numpy": np.__version__, "scipy": scipy.__version__, "pandas": pd.__version__,
            "duckdb": duckdb.__version__, "platform": platform.platform()}


def _s(v: float) -> str:
    return f"{v:.3f} s" if v < 0.1 else f"{v:.2f} s" if v < 10 else f"{v:.1f} s"


def _t(x: dict | None) -> str:
    return "–" if not x else f"{_s(x['wall'])} / {_s(x['cpu'])}"


def _ratio(before: dict | None, now: dict | None, key: str = "cpu") -> str:
    return "–" if not before or not now or now[key] <= 0 else f"{before[key] / now[key]:.0f}×"


def _max_rel(a: dict, b: dict) -> float:
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in b)


def render(res: dict) -> str:
    """The results as a marked section of results.md (run_benchmark.py keeps it when it rewrites the file)."""
    m = res["machine"]
    passes = res.get("passes") or [{"started": res["started"], "components": ["all"], "load_before": res["load_before"],
                                    "load_after": res["load_after"]}]
    loads = "; ".join(f"{', '.join(p['components'])} ({p['started']}): {', '.join(f'{v:.1f}' for v in p['load_before'])}"
                      f" before, {', '.join(f'{v:.1f}' for v in p['load_after'])} after" for p in passes)
    lines = [section_open("components"), "", "## Model costs one at a time (issue 15)", "",
             "Timed with `python benchmarks/components.py` (median of up to 3 runs; wall / CPU seconds of the "
             "benchmark process, DuckDB's threads included). "
             f"**Machine:** {m['cpu']}, {m['logical_cores']} logical cores, {m['ram_gib']} GiB, {m['platform']}; "
             f"Python {m['python']}, numpy {m['numpy']}, scipy {m['scipy']}, pandas {m['pandas']}, DuckDB "
             f"{m['duckdb']}. **Load average** (1, 5, 15 min) of each pass — {loads}: the 2 cores were shared with other "
             "agents' test runs, so wall times are inflated several-fold by the load; CPU seconds are the steadier "
             "comparison. \"Before\" is the code at commit " f"`{res.get('before', BEFORE)}`, loaded from git.", "",
             "| component | input | before (wall / CPU) | now (wall / CPU) | CPU speed-up | same result |",
             "|---|---|---|---|---|---|"]
    for label, key, what in (("BG/NBD fit", "bgnbd", "23,570 customers (CDNOW sample ×10)"),
                             ("Gamma-Gamma fit", "gamma_gamma", "9,460 repeat buyers of the same")):
        now, before = res.get("clv_23570_now", {}).get(key), res.get("clv_23570_before", {}).get(key)
        if now:
            same = f"params within {_max_rel(now['result'], before['result']):.0e} (rel.)" if before else "–"
            lines.append(f"| {label} | {what} | {_t(before)} | {_t(now)} | {_ratio(before, now)} | {same} |")
    for key, label in (("compute_clv", "CLV scoring (both fits + 36 monthly forecasts)"),
                       ("holdout_check", "holdout check (BG/NBD refit + forecast)")):
        now, before = res.get("clv_200k_now", {}).get(key), res.get("clv_200k_before", {}).get(key)
        if now:
            lines.append(f"| {label} | 200,000 accounts (CDNOW grown, jittered) | {_t(before)} | {_t(now)} | "
                         f"{_ratio(before, now)} | – |")
    for r in res.get("matching", []):
        same = {True: "identical matches", False: "DIFFERENT", None: "–"}[r.get("identical")]
        lines.append(f"| programme-impact matching | {r['accounts']:,} accounts ({r['programme']:,} programme, "
                     f"10 controls each) | {_t(r.get('before'))} | {_t(r['now'])} | "
                     f"{_ratio(r.get('before'), r['now'])} | {same} |")
    if "orders" in res:
        o = res["orders"]
        for key, label, what in (("cohorts", "cohort retention (quarters)", f"{o['orders']:,} orders"),
                                 ("churn_frames", "churn frames", f"{o['orders']:,} orders, "
                                  f"{res.get('churn_frames', {}).get('cutoffs', 10)} cut-offs")):
            r = res.get(key)
            if r:
                same = "identical tables" if r["identical"] else "DIFFERENT"
                lines.append(f"| {label} | {what}, {o['accounts']:,} accounts | {_t(r['before'])} | {_t(r['now'])} | "
                             f"{_ratio(r['before'], r['now'])} | {same} |")
    lt = res.get("clv_23570_lifetimes")
    if lt and "error" not in lt:
        lines += ["", f"Against lifetimes {lt['version']} (installed in a throwaway virtual environment, run in a "
                  "child process on the same 23,570-customer summary):", "",
                  "| fit | ours (wall / CPU) | lifetimes (wall / CPU) | lifetimes ÷ ours (CPU) | largest relative "
                  "difference of the estimates |", "|---|---|---|---|---|"]
        for key, label in (("bgnbd", "BG/NBD"), ("gamma_gamma", "Gamma-Gamma")):
            ours = res["clv_23570_now"][key]
            lines.append(f"| {label} | {_t(ours)} | {_t(lt[key])} | {_ratio(lt[key], ours)} | "
                         f"{_max_rel(ours['result'], lt[key]['params']):.1e} |")
    elif lt:
        lines += ["", f"lifetimes could not be run: {lt['error']}"]
    lines += ["", SECTION_END]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", choices=["clv", "matching", "cohorts", "churn"],
                    default=["clv", "matching", "cohorts", "churn"])
    ap.add_argument("--before", default=BEFORE, help="git commit of the code before (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--lifetimes-python", help="a Python interpreter with lifetimes installed")
    ap.add_argument("--match-sizes", type=int, nargs="*", default=[50_000, 100_000, 200_000])
    ap.add_argument("--brute-max", type=int, default=50_000, help="largest size to run the old matching on")
    ap.add_argument("--orders", type=Path, help="orders.parquet of a large demo client (kam demo-data)")
    ap.add_argument("--out", type=Path, default=HERE / "components.json")
    ap.add_argument("--update", action="store_true", help="keep the other components' results already in --out")
    ap.add_argument("--md", type=Path, default=HERE / "results.md", help="the results file to put the section in")
    args = ap.parse_args(argv)
    res: dict = json.loads(args.out.read_text()) if args.update and args.out.exists() else {}
    res.update({"machine": machine(), "before": args.before, "load_before": os.getloadavg(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    if "clv" in args.only:
        bench_clv(args, res)
    if "matching" in args.only:
        bench_matching(args, res)
    if args.orders and {"cohorts", "churn"} & set(args.only):
        bench_orders(args, res, [p for p in ("cohorts", "churn") if p in args.only])
    res["load_after"] = os.getloadavg()
    res.setdefault("passes", []).append({"started": res["started"], "components": args.only,
                                         "load_before": res["load_before"], "load_after": res["load_after"]})
    args.out.write_text(json.dumps(res, indent=1, default=str))
    write_section(args.md, "components", render(res))
    print(render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
