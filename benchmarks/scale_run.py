"""A synthetic large run folder from a small real one, to time the deliverables at scale.

    python benchmarks/scale_run.py SMALL_RUN_DIR OUT_DIR --accounts 200000

Running the whole engagement at 200,000 accounts takes minutes and gigabytes; the
deliverables only read account-level tables, so their cost at scale can be measured on a
copy of a small run whose one-row-per-account tables (``segments``, ``account_summary``,
``churn_risk``, the accounts data ...) are repeated until they hold ``--accounts`` rows.
Copy ``k`` of an account gets the id ``<id>-<k>`` and the name ``<name> <k>``; scores get
a little noise so ranks do not tie; every other table (profiles, KPIs by segment, plans)
is copied as it is. Nothing here is an analysis result: the folder is a load test.

:func:`time_deliverables` builds each deliverable on such a folder in this process and
returns its seconds, the process's peak memory growth and the file's size.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: tables copied as they are although they have one row per account: the key accounts'
#: plans and status changes are bounded by the managers' capacity, not by the portfolio
_KEEP = {"account_plans", "account_plan_actions", "key_status_changes", "segment_overrides"}
#: score columns in [0, 1] that get noise (so that 200,000 copies do not tie on rank)
_SCORES = ("selection_score", "attractiveness", "relative_strength", "score_value", "score_growth",
           "score_strategic", "stability", "risk_score")


def _tile(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    base = len(df)
    reps = -(-n // base)
    out = pd.concat([df] * reps, ignore_index=True).iloc[:n].copy()
    copy_no = np.repeat(np.arange(reps), base)[:n]
    ids = out["account_id"].astype(str)
    out["account_id"] = np.where(copy_no == 0, ids, ids + "-" + copy_no.astype(str))
    if "account_name" in out:
        names = out["account_name"].astype(str)
        out["account_name"] = np.where(copy_no == 0, names, names + " " + copy_no.astype(str))
    for c in _SCORES:
        if c in out and pd.api.types.is_float_dtype(out[c]):
            out[c] = (out[c] + rng.normal(0, 0.01, n)).clip(0, 1).where(out[c].notna())
    for c in ("revenue_12m", "gross_margin_12m", "profit_12m", "revenue_at_risk"):
        if c in out and pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c] * rng.uniform(0.8, 1.2, n)
    return out


def scale_run(src: str | Path, dst: str | Path, n_accounts: int, *, seed: int = 15) -> Path:
    """Copy run folder ``src`` to ``dst`` with every one-row-per-account table grown to ``n_accounts``."""
    src, dst = Path(src), Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("deliverables", "notebooks", "figures"))
    rng = np.random.default_rng(seed)
    factor = n_accounts / max(len(_accounts(src)), 1)
    for folder in ("tables", "data"):
        for path in sorted((dst / folder).glob("*.parquet")):
            if path.stem in _KEEP:
                continue
            df = pd.read_parquet(path)
            if "account_id" not in df or df.empty or not df["account_id"].is_unique:
                continue
            big = _tile(df, n_accounts if path.stem in ("accounts", "segments", "account_summary", "churn_risk",
                                                        "account_kpis", "coverage_plan")
                        else round(len(df) * factor), rng)
            if path.stem == "segments":
                big = _segments(big, rng)
            big.to_parquet(path, index=False)
            csv = path.with_suffix(".csv")
            if csv.exists():
                csv.unlink()  # the deliverables read Parquet; a stale small CSV would mislead
    return dst


def _accounts(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "data" / "accounts.parquet", columns=["account_id"])


def _segments(seg: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Ranks over the grown portfolio, and a CLV for every live account (the worst case for the workbook)."""
    if "selection_score" not in seg:
        return seg
    live = seg["selection_score"].notna()
    seg["selection_rank"] = seg["selection_score"].rank(ascending=False, method="first")
    for c, make in (("clv", lambda n: rng.gamma(2.0, 4000.0, n)), ("p_alive", lambda n: rng.uniform(0.2, 1, n)),
                    ("expected_purchases", lambda n: rng.gamma(2.0, 3.0, n))):
        if c in seg and seg[c].isna().all():
            seg.loc[live, c] = make(int(live.sum()))
    return seg


def time_deliverables(run_dir: str | Path, names: list[str] | None = None) -> list[dict]:
    """Build each deliverable on ``run_dir`` in this process: seconds, peak RSS growth, file size."""
    import psutil

    from kam_analysis.config import Params
    from kam_analysis.deliverables import BUILDERS, build_deliverables

    run_dir = Path(run_dir)
    params = Params.model_validate(json.loads((run_dir / "params.json").read_text()))
    proc = psutil.Process()
    out = []
    for name in names or list(BUILDERS):
        before = proc.memory_info().rss
        t0, c0 = time.perf_counter(), sum(proc.cpu_times()[:2])
        rec = build_deliverables(run_dir, params, only=[name])[0]
        rec["seconds"] = round(time.perf_counter() - t0, 2)
        rec["cpu_seconds"] = round(sum(proc.cpu_times()[:2]) - c0, 2)  # less sensitive to a shared machine's load
        rec["rss_after_gib"] = round(proc.memory_info().rss / 2**30, 2)
        rec["rss_growth_gib"] = round((proc.memory_info().rss - before) / 2**30, 2)
        if rec.get("path"):
            rec["bytes"] = (run_dir / rec["path"]).stat().st_size
        out.append(rec)
    return out


def time_page(path: str | Path) -> dict | None:
    """Milliseconds until the HTML dashboard is drawn in headless Chromium, and to re-draw it
    for one segment; None without Chromium and Playwright."""
    import shutil as sh

    chromium = sh.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium:
        return None
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            t0 = time.perf_counter()
            page.goto(Path(path).resolve().as_uri())
            page.wait_for_selector("#at-risk-table")
            loaded = time.perf_counter() - t0
            segment = page.locator("#segment-filter option").all_inner_texts()[1]
            t0 = time.perf_counter()
            page.select_option("#segment-filter", segment)
            page.wait_for_function("() => document.getElementById('trend-segment').textContent.includes("
                                   + json.dumps(segment) + ")")
            filtered = time.perf_counter() - t0
            elements = page.evaluate("document.getElementsByTagName('*').length")
        finally:
            browser.close()
    return {"load_ms": round(loaded * 1000), "filter_ms": round(filtered * 1000), "elements": elements,
            "js_errors": errors}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--accounts", type=int, default=200_000)
    ap.add_argument("--time", nargs="*", metavar="DELIVERABLE",
                    help="then build and time these deliverables (all when none is named), one JSON line each")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    dst = scale_run(a.src, a.dst, a.accounts)
    print(json.dumps({"scaled": str(dst), "accounts": a.accounts, "seconds": round(time.perf_counter() - t0, 2)}))
    if a.time is not None:
        for rec in time_deliverables(dst, a.time or None):
            print(json.dumps(rec), flush=True)
            if rec["name"] == "html_dashboard" and rec.get("path"):
                print(json.dumps({"name": "html_dashboard_in_chromium", **(time_page(dst / rec["path"]) or {})}))


if __name__ == "__main__":
    main()
