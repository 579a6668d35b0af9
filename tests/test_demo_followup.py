"""The follow-up demo snapshot: six more months of Maison Demo with the plan's execution planted.

The plan run here is a prepared small demo with a hand-made committed segmentation, key
accounts, actions, coverage plan and recommendations (the tables a plan run carries), so the
planted effects are checked on the raw generated files, fast. The end-to-end recovery by the
follow-up review is tests/test_followup_demo.py (slow).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import write_demo_params
from kam_analysis.data.demo import DEMO_COLUMNS
from kam_analysis.data.demo_followup import FOLLOWUP_PLANTED, followup_files, generate_followup
from kam_analysis.exceptions import ParameterError

AS_OF = pd.Timestamp("2025-12-31")
NEW_AS_OF = pd.Timestamp("2026-06-30")
NAMES = ["Strategic", "Star", "Status", "Streamline"]


@pytest.fixture(scope="module")
def plan_run(tmp_path_factory):
    """A prepared small demo with the commitment tables a plan run writes (made by hand here)."""
    from kam_analysis import open_run

    tmp = tmp_path_factory.mktemp("plan")
    params = write_demo_params(tmp, n_accounts=300, seed=42, name="Maison Demo")
    run = open_run(params, tmp / "run")
    s = run.read_table("account_summary")
    live = pd.to_datetime(s["last_order_date"]) > AS_OF - pd.Timedelta(days=180)
    attr = s["revenue_12m"].where(live).rank(pct=True)
    strength = s["n_orders"].where(live).rank(pct=True)
    quadrant = np.select([attr.ge(0.5) & strength.ge(0.5), attr.ge(0.5), strength.ge(0.5)], NAMES[:3], NAMES[3])
    top = s["revenue_12m"].where(live).rank(ascending=False, method="first") <= 12
    seg = pd.DataFrame({"account_id": s["account_id"], "is_key": top.to_numpy(),
                        "attractiveness": attr.fillna(0).to_numpy(), "relative_strength": strength.fillna(0).to_numpy(),
                        "quadrant": np.where(live, quadrant, "Inactive accounts"),
                        "revenue_12m": s["revenue_12m"].fillna(0).to_numpy()})
    keys = seg.loc[seg["is_key"], "account_id"].tolist()
    acts = pd.DataFrame([{"action_id": f"{a}-{n}", "account_id": a, "account_name": a, "action": f"Action {n}",
                          "owner": "Key account manager", "due_date": AS_OF + pd.Timedelta(days=30 * n)}
                         for a in keys for n in (1, 2, 3)])
    cov = s[["account_id", "account_manager"]].assign(
        assigned_manager=lambda d: np.where(d["account_id"].isin(keys[:3]), "Planned Manager", d["account_manager"]))
    recs = pd.DataFrame({"rank": [1, 2, 3, 4], "recommendation_id": ["REC-01", "REC-02", "REC-03", "REC-04"],
                         "recommendation": ["Fund", "Fix", "Grow", "Trim"], "owner": "Board",
                         "due_date": AS_OF + pd.Timedelta(days=60)})
    tx = run.read_data("transactions")
    bought = set(zip(tx["account_id"].astype(str), tx["category"].astype(str)))
    cats = sorted(tx["category"].astype(str).unique())
    ws = pd.DataFrame([{"account_id": a, "category": c} for a in keys for c in cats if (a, c) not in bought])
    ws["rank"] = ws.groupby("account_id").cumcount() + 1
    for name, df in (("segments", seg), ("account_plan_actions", acts), ("coverage_plan", cov),
                     ("recommendations", recs), ("whitespace", ws)):
        df.to_parquet(run.tables_dir / f"{name}.parquet", index=False)
    (tmp / "run" / "manifest.json").write_text(json.dumps(
        {"client": "Maison Demo", "run_id": "plan-1", "status": "success"}))
    return tmp / "run"


@pytest.fixture(scope="module")
def followup(plan_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("followup")
    paths = generate_followup(plan_run, out)
    orders = pd.read_csv(paths["transactions"])
    orders["date"] = pd.to_datetime(orders["Order Date"], format="%d/%m/%Y")
    planted = json.loads(paths["planted"].read_text())
    return {"paths": paths, "orders": orders, "planted": planted, "plan": plan_run,
            "segments": pd.read_parquet(plan_run / "tables" / "segments.parquet").set_index("account_id")}


def _revenue(orders, lo, hi) -> pd.Series:
    w = orders[(orders["date"] > lo) & (orders["date"] <= hi)]
    return w.groupby("Customer ID")["Net Sales (EUR)"].sum()


def test_history_is_the_plan_runs_data_and_six_months_follow(followup):
    o = followup["orders"]
    clean = pd.read_parquet(followup["plan"] / "data" / "transactions.parquet")
    before = o[o["date"] <= AS_OF]
    assert len(before) == len(clean)
    assert before["Order No"].tolist() == clean["order_id"].tolist()
    assert np.allclose(before["Net Sales (EUR)"], clean["net_revenue"])
    after = o[o["date"] > AS_OF]
    assert after["date"].max() <= NEW_AS_OF and after["date"].min() > AS_OF
    assert after["date"].dt.month.nunique() == 6  # every month of the six has orders
    assert not set(after["Order No"]) & set(before["Order No"])  # new order numbers
    for table, mapping in DEMO_COLUMNS.items():
        cols = list(pd.read_csv(followup["paths"][table], nrows=1).columns)
        assert cols == list(mapping.values()), table


def test_key_accounts_grow_decline_stay_or_stop_as_planted(followup):
    o, p, seg = followup["orders"], followup["planted"], followup["segments"]
    ka = p["key_accounts"]
    assert ka["committed"] == int(seg["is_key"].sum()) == 12
    assert len(ka["grown"]) >= 2 and len(ka["lost"]) >= 2 and len(ka["declined"]) >= 1
    assert sorted(ka["grown"] + ka["declined"] + ka["stable"] + ka["lost"]) == sorted(seg.index[seg["is_key"]])
    now = _revenue(o, NEW_AS_OF - pd.DateOffset(months=12), NEW_AS_OF)
    ratio = now / seg["revenue_12m"]
    for a in ka["grown"]:
        assert ratio[a] == pytest.approx(FOLLOWUP_PLANTED["grown_revenue_factor"], rel=1e-3)
    for a in ka["declined"]:
        assert ratio[a] == pytest.approx(FOLLOWUP_PLANTED["declined_revenue_factor"], rel=1e-3)
    lo, hi = FOLLOWUP_PLANTED["stable_revenue_factor"]
    assert all(lo - 1e-3 <= ratio[a] <= hi + 1e-3 for a in ka["stable"])
    assert ratio[ka["stable"]].to_dict() == pytest.approx({a: p["revenue_ratio"][a] for a in ka["stable"]}, rel=1e-3)
    after = o[o["date"] > AS_OF]
    assert not after["Customer ID"].isin(ka["lost"]).any()  # lost: no order after the plan
    last = o.groupby("Customer ID")["date"].max()
    assert (last[ka["lost"]] <= NEW_AS_OF - pd.Timedelta(days=180)).all()  # no longer live at the new date
    assert set(ka["grown"] + ka["declined"] + ka["stable"]) <= set(after["Customer ID"])


def test_grown_accounts_buy_the_cross_sell_the_plan_named(followup):
    o, p = followup["orders"], followup["planted"]
    ws = pd.read_parquet(followup["plan"] / "tables" / "whitespace.parquet")
    converted = p["whitespace_converted"]
    assert converted and set(converted) <= set(p["key_accounts"]["grown"])
    after = o[o["date"] > AS_OF]
    for a, cats in converted.items():
        named = ws[ws["account_id"] == a].sort_values("rank")["category"].tolist()
        assert cats == named[:len(cats)] and 1 <= len(cats) <= 2
        assert set(cats) <= set(after.loc[after["Customer ID"] == a, "Product Category"])
        assert not set(cats) & set(o.loc[(o["Customer ID"] == a) & (o["date"] <= AS_OF), "Product Category"])


def test_a_share_of_one_segment_buys_its_way_across_the_attractiveness_split(followup):
    o, m, seg = followup["orders"], followup["planted"]["migration"], followup["segments"]
    assert (m["from"], m["to"]) == ("Status", "Strategic")
    members = seg.index[seg["quadrant"] == "Status"]
    assert m["segment_accounts"] == len(members)
    assert len(m["accounts"]) == round(FOLLOWUP_PLANTED["migration_share"] * len(members)) > 0
    assert set(m["accounts"]) <= set(members) and not seg.loc[m["accounts"], "is_key"].any()
    six = _revenue(o, AS_OF, NEW_AS_OF)
    expect = FOLLOWUP_PLANTED["migration_revenue_factor"] * seg.loc[m["accounts"], "revenue_12m"]
    assert np.allclose(six[m["accounts"]], expect, rtol=1e-3)
    # the movers now buy more in twelve months than the median live account of the plan's split
    now = _revenue(o, NEW_AS_OF - pd.DateOffset(months=12), NEW_AS_OF)
    live_now = o[o["date"] > NEW_AS_OF - pd.Timedelta(days=180)]["Customer ID"].unique()
    assert (now[m["accounts"]] > now.reindex(live_now).median()).mean() > 0.8


def test_returned_actions_file_reports_the_planted_statuses(followup):
    p = followup["planted"]
    ret = pd.read_csv(followup["paths"]["actions"], dtype=str, keep_default_na=False)
    assert list(ret.columns[:1]) == ["action_id"] and {"status", "status_date", "comment"} <= set(ret.columns)
    acts = pd.read_parquet(followup["plan"] / "tables" / "account_plan_actions.parquet")
    assert ret["action_id"].tolist() == acts["action_id"].tolist() + ["REC-01", "REC-02", "REC-03", "REC-04"]
    got = dict(zip(ret["action_id"], ret["status"].replace("", "not reported")))
    for status, ids in p["actions"].items():
        assert all(got[i] == status for i in ids), status
    assert sum(len(v) for v in p["actions"].values()) == len(acts)
    assert all(len(p["actions"][s]) > 0 for s in ("done", "in progress", "not started", "dropped", "not reported"))
    for a in p["key_accounts"]["grown"]:
        assert all(got[f"{a}-{n}"] == "done" for n in (1, 2, 3))
    for a in p["key_accounts"]["lost"]:
        assert {got[f"{a}-{n}"] for n in (1, 2, 3)} <= {"dropped", "not started"}
    assert p["recommendations"] == {"REC-01": "done", "REC-02": "in progress", "REC-03": "not started",
                                    "REC-04": "not reported"}
    dated = ret[ret["status"] != ""]
    d = pd.to_datetime(dated["status_date"], format="%Y-%m-%d")
    assert ((d > AS_OF) & (d <= NEW_AS_OF)).all() and (dated["comment"] != "").all()
    assert (ret.loc[ret["status"] == "", ["status_date", "comment"]] == "").all().all()


def test_accounts_file_names_the_planned_managers_but_one_hand_over(followup):
    acc = pd.read_csv(followup["paths"]["accounts"]).set_index("Customer ID")
    delivered, pending = followup["planted"]["coverage_delivered"], followup["planted"]["coverage_not_delivered"]
    assert len(delivered) == 2 and set(delivered.values()) == {"Planned Manager"}
    assert (acc.loc[list(delivered), "Account Manager"] == "Planned Manager").all()
    assert len(pending) == 1 and (acc.loc[list(pending), "Account Manager"] != "Planned Manager").all()


def test_new_accounts_are_won_at_the_pace_before_the_plan(followup):
    o, new = followup["orders"], followup["planted"]["new_accounts"]
    acc = pd.read_csv(followup["paths"]["accounts"]).set_index("Customer ID")
    first = o[o["Net Sales (EUR)"] > 0].groupby("Customer ID")["date"].min()
    won_before = ((first > AS_OF - pd.DateOffset(months=12)) & (first <= AS_OF)).sum()
    assert len(new) == round(won_before / 2) > 0
    assert not set(new) & set(followup["segments"].index)  # not in the plan
    assert set(new) <= set(acc.index) and (acc.loc[new, "KAM Programme"] == "N").all()
    assert ((first[new] > AS_OF) & (first[new] <= NEW_AS_OF)).all()
    assert (pd.to_datetime(acc.loc[new, "Customer Since"]) == first[new]).all()
    assert len(acc) == len(followup["segments"]) + len(new)


def test_same_plan_run_same_bytes(followup, plan_run, tmp_path):
    again = generate_followup(plan_run, tmp_path)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert {k: digest(v) for k, v in again.items()} == {k: digest(v) for k, v in followup["paths"].items()}
    assert set(again) == set(followup_files(tmp_path))


def test_a_plan_run_without_action_ids_is_refused(plan_run, tmp_path):
    import shutil

    copy = tmp_path / "old-run"
    shutil.copytree(plan_run, copy)
    acts = pd.read_parquet(copy / "tables" / "account_plan_actions.parquet").drop(columns="action_id")
    acts.to_parquet(copy / "tables" / "account_plan_actions.parquet", index=False)
    with pytest.raises(ParameterError, match="action_id.*make demo"):
        generate_followup(copy, tmp_path / "out")
    with pytest.raises(ParameterError, match="not a finished run folder"):
        generate_followup(tmp_path / "nothing", tmp_path / "out")


def _review_params(tmp_path, plan_run: str | None, *, as_of: str = "2026-06-30"):
    """params/demo-review.yaml with its data and outputs under ``tmp_path``."""
    import yaml

    from conftest import REPO
    from kam_analysis.config import load_params

    raw = yaml.safe_load((REPO / "params" / "demo-review.yaml").read_text())
    for table in ("transactions", "accounts", "surveys", "capability"):
        raw["data"][table]["path"] = str(tmp_path / "data" / Path(raw["data"][table]["path"]).name)
    raw["review"]["actions_file"] = str(tmp_path / "data" / "returned_actions.csv")
    raw["review"]["plan_run"] = plan_run
    raw["analysis"]["as_of_date"] = as_of
    raw["output"] = {"root": str(tmp_path / "outputs")}
    path = tmp_path / "demo-review.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_params(path)


def test_demo_review_params_make_their_data_from_the_plan_run(plan_run, followup, tmp_path):
    from kam_analysis.data.prepare import ensure_demo_data

    params = _review_params(tmp_path, str(plan_run))
    ensure_demo_data(params)
    made = followup_files(tmp_path / "data")
    assert all(p.is_file() for p in made.values())
    assert made["transactions"].read_bytes() == followup["paths"]["transactions"].read_bytes()
    before = made["actions"].stat().st_mtime_ns
    ensure_demo_data(params)  # files present: nothing is made again
    assert made["actions"].stat().st_mtime_ns == before
    import shutil

    shutil.copytree(plan_run, tmp_path / "newer-run")  # the demo was run again: made again from that run
    ensure_demo_data(_review_params(tmp_path, str(tmp_path / "newer-run")))
    assert made["actions"].stat().st_mtime_ns != before
    assert (tmp_path / "data" / ".made_from").read_text().strip() == str((tmp_path / "newer-run").resolve())


def test_demo_review_without_a_demo_run_says_run_make_demo_first(tmp_path):
    from kam_analysis.data.prepare import ensure_demo_data

    with pytest.raises(ParameterError, match="run make demo first"):
        ensure_demo_data(_review_params(tmp_path, "latest"))
    assert not (tmp_path / "data").exists()


def test_demo_review_as_of_must_be_the_plan_run_plus_the_months(plan_run, tmp_path):
    from kam_analysis.data.prepare import ensure_demo_data

    with pytest.raises(ParameterError, match="ends the follow-up data on 2026-06-30.*2026-03-31"):
        ensure_demo_data(_review_params(tmp_path, str(plan_run), as_of="2026-03-31"))


def test_kam_demo_data_follow_up_writes_the_snapshot_of_a_run(plan_run, followup, tmp_path, capsys):
    from kam_analysis.cli import main

    assert main(["demo-data", str(tmp_path / "fu"), "--follow-up", str(plan_run)]) == 0
    made = followup_files(tmp_path / "fu")
    assert made["transactions"].read_bytes() == followup["paths"]["transactions"].read_bytes()
    assert str(made["actions"]) in capsys.readouterr().out
    assert main(["demo-data", str(tmp_path / "x"), "--follow-up", str(tmp_path / "nothing")]) == 2
    assert "not a finished run folder" in capsys.readouterr().err
    assert main(["demo-data", str(tmp_path / "x"), "--follow-up", str(plan_run), "--profile", "b2b"]) == 2
    assert main(["demo-data", str(tmp_path / "x"), "--months", "3"]) == 2
