"""A plan run and a later snapshot of the same small demo client, with planted outcomes.

The later snapshot continues the client's history by nine months: every order of January to
September of the plan year is repeated one year later, so an untouched account's
trailing-12-month revenue at the new as-of date is exactly what it was at the plan
(``stable``). On top of that:

* ``LOST``: a committed key account whose orders stop at the plan date (no order in the
  nine months since: no longer active with ``analysis.churn_days`` = 180);
* ``GROWN``: a committed key account whose orders since the plan are there twice (its
  revenue since the plan doubles);
* coverage: the accounts file of the new snapshot names the first planned manager for all
  but one of that manager's planned accounts;
* the returned actions file: two actions done, one in progress, one recommendation done.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import yaml

PLAN_AS_OF = dt.date(2025, 12, 31)
FOLLOWUP_AS_OF = dt.date(2026, 9, 30)


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%d/%m/%Y")


def pick_planted(plan_dir: Path) -> dict:
    """The planted accounts, chosen from the plan run's key accounts that bought in January to September."""
    segs = pd.read_parquet(plan_dir / "tables" / "segments.parquet")
    kpis = pd.read_parquet(plan_dir / "tables" / "account_kpis.parquet").set_index("account_id")
    key = segs[segs["is_key"].astype(bool)].copy()
    key["revenue_12m"] = key["account_id"].map(kpis["revenue_12m"])
    key = key[key["account_id"].map(kpis["active"]).astype(bool)]
    return {"key": key.sort_values(["revenue_12m", "account_id"], ascending=[False, True])}


def make_followup_snapshot(plan_params: Path, plan_dir: Path, out: Path) -> dict:
    """Write the later snapshot's files and params next to ``out``; return what was planted."""
    raw = yaml.safe_load(plan_params.read_text())
    data = Path(raw["data"]["transactions"]["path"])
    orders = pd.read_csv(data, dtype={"Customer ID": str, "Order No": str})
    when = _dates(orders["Order Date"])
    # accounts that bought between January and September of the plan year (their shifted orders exist)
    jan_sep = (when >= "2025-01-01") & (when <= "2025-09-30")
    buyers = set(orders.loc[jan_sep, "Customer ID"])
    key = pick_planted(plan_dir)["key"]
    key = key[key["account_id"].isin(buyers)]
    lost, grown = str(key["account_id"].iloc[0]), str(key["account_id"].iloc[1])
    later = orders[jan_sep].copy()
    later["Order Date"] = (when[jan_sep] + pd.DateOffset(years=1)).dt.strftime("%d/%m/%Y")
    later["Order No"] = later["Order No"] + "-F"
    later = later[later["Customer ID"] != lost]
    twice = later[later["Customer ID"] == grown].copy()
    twice["Order No"] = twice["Order No"] + "2"
    new_orders = pd.concat([orders, later, twice], ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    orders_path = out / "orders_followup.csv"
    new_orders.to_csv(orders_path, index=False)
    # coverage: the first planned manager named for all but one of the accounts the plan gave them
    cov = pd.read_parquet(plan_dir / "tables" / "coverage_plan.parquet")
    named = cov[cov["assigned_manager"].notna() & (cov["assigned_manager"].astype(str).str.strip() != "")]
    manager = sorted(named["assigned_manager"].astype(str).unique())[0]
    planned = sorted(named.loc[named["assigned_manager"] == manager, "account_id"].astype(str))
    customers = pd.read_csv(Path(raw["data"]["accounts"]["path"]), dtype={"Customer ID": str})
    customers.loc[customers["Customer ID"].isin(planned), "Account Manager"] = manager
    customers.loc[customers["Customer ID"] == planned[0], "Account Manager"] = "Digital desk"
    acc_path = out / "customers_followup.csv"
    customers.to_csv(acc_path, index=False)
    # the returned actions file, as the client fills in the exported one
    acts = pd.read_parquet(plan_dir / "tables" / "account_plan_actions.parquet")
    ret = acts[["action_id", "account_id", "account_name", "action", "owner", "due_date"]].copy()
    ret["due_date"] = pd.to_datetime(ret["due_date"]).dt.strftime("%Y-%m-%d")
    ret["status"], ret["status_date"], ret["comment"] = "", "", ""
    done = ret["action_id"].iloc[[0, 2]].tolist()
    ret.loc[ret["action_id"].isin(done), ["status", "status_date", "comment"]] = ["Done", "2026-03-01", "agreed"]
    in_progress = ret["action_id"].iloc[1]
    ret.loc[ret["action_id"] == in_progress, ["status", "comment"]] = ["in_progress", "meeting booked"]
    recs = pd.read_parquet(plan_dir / "tables" / "recommendations.parquet")
    rec_done = str(recs["recommendation_id"].iloc[0])
    ret = pd.concat([ret, pd.DataFrame([{"action_id": rec_done, "status": "done", "status_date": "2026-02-01",
                                         "comment": "push ran in Q1"}])], ignore_index=True)
    actions_path = out / "returned_actions.csv"
    ret.to_csv(actions_path, index=False)
    raw["analysis"]["as_of_date"] = FOLLOWUP_AS_OF.isoformat()
    raw["data"]["transactions"]["path"] = str(orders_path)
    raw["data"]["accounts"]["path"] = str(acc_path)
    raw["review"] = {**(raw.get("review") or {}), "plan_run": "latest", "actions_file": str(actions_path)}
    params_path = out / "followup.yaml"
    params_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return {"lost": lost, "grown": grown, "manager": manager, "planned": planned, "done": done,
            "in_progress": in_progress, "rec_done": rec_done, "params": params_path, "actions": actions_path,
            "n_actions": len(acts), "n_recs": len(recs)}


def copy_run(run_dir: Path, dest_root: Path, *, client: str | None = None, drop: tuple[str, ...] = ()) -> Path:
    """A copy of a run folder (under ``dest_root/<slug>/``), optionally of another client or without some tables."""
    import json

    dest = dest_root / run_dir.name
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("data", "notebooks", "figures", "deliverables"))
    if client is not None:
        m = json.loads((dest / "manifest.json").read_text())
        m["client"] = client
        (dest / "manifest.json").write_text(json.dumps(m))
    for name in drop:
        for suffix in (".parquet", ".csv"):
            (dest / "tables" / f"{name}{suffix}").unlink(missing_ok=True)
    return dest
