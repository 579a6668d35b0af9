"""The follow-up review (phases/followup.py, data/planrun.py): pure functions on tiny frames
computed by hand, the plan run's resolution and identity check on small fake run folders, and
the returned actions file's messages. The end-to-end follow-up on planted outcomes is in
test_followup_e2e.py."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kam_analysis.data.planrun import (NOT_REPORTED, check_plan_identity, read_actions_file, resolve_plan_run,
                                       successful_runs)
from kam_analysis.exceptions import DataValidationError, ParameterError
from kam_analysis.phases import followup as fu


# --------------------------------------------------------------------------- KPIs
@pytest.mark.parametrize("kpi, plan, target, actual, elapsed, status, gap", [
    ("retention_rate", 0.70, 0.80, 0.82, 0.5, "met", 1.2),
    ("retention_rate", 0.70, 0.80, 0.76, 0.5, "on track", 0.6),     # 60 % of the gap in half the time
    ("retention_rate", 0.70, 0.80, 0.74, 0.5, "off track", 0.4),
    ("retention_rate", 0.70, 0.80, 0.65, 0.5, "off track", -0.5),   # further away than at the plan
    ("churn_rate", 0.30, 0.20, 0.24, 0.5, "on track", 0.6),          # lower is better
    ("churn_rate", 0.30, 0.20, 0.19, 0.5, "met", 1.1),
    ("revenue_growth_yoy", 0.30, 0.08, 0.02, 0.75, "off track", np.nan),  # met at the plan, slipped since
    ("revenue_growth_yoy", 0.30, 0.08, 0.10, 0.75, "met", np.nan),
    ("nps", 10.0, np.nan, 20.0, 0.5, "no target", np.nan),
    ("nps", 10.0, 40.0, np.nan, 0.5, "no data", np.nan),
    ("nps", np.nan, 40.0, 20.0, 0.5, "no data", np.nan),
])
def test_kpi_status_against_the_committed_target(kpi, plan, target, actual, elapsed, status, gap):
    got, g = fu.kpi_status(kpi, plan_value=plan, target=target, actual=actual, time_elapsed=elapsed)
    assert got == status
    assert (np.isnan(g) and np.isnan(gap)) or g == pytest.approx(gap)


def test_plan_kpis_compare_the_plans_headline_with_todays():
    plan = pd.DataFrame({"kpi": ["revenue_12m", "retention_rate", "average_order_value"],
                         "label": ["r", "t", "a"], "value": [1000.0, 0.70, 50.0]})
    now = pd.DataFrame({"kpi": ["revenue_12m", "retention_rate", "average_order_value"],
                        "label": ["r", "t", "a"], "value": [1100.0, 0.76, 50.0]})
    t = fu.compute_plan_kpis(plan, now, {"retention_rate": 0.80}, months_since=6, target_months=12).set_index("kpi")
    assert list(t.index) == ["retention_rate", "revenue_12m", "average_order_value"]  # targets first
    r = t.loc["retention_rate"]
    assert r["plan_value"] == 0.70 and r["actual"] == 0.76 and r["target"] == 0.80
    assert r["change"] == pytest.approx(0.06) and r["change_kind"] == "points"
    assert r["time_elapsed"] == 0.5 and r["gap_closed"] == pytest.approx(0.6) and r["status"] == "on track"
    assert r["trajectory"] == "improved"
    rev = t.loc["revenue_12m"]
    assert rev["change"] == pytest.approx(0.10) and rev["change_kind"] == "relative" and rev["status"] == "no target"
    assert t.loc["average_order_value", "trajectory"] == "unchanged"
    blind = fu.compute_plan_kpis(plan, now, {"retention_rate": 0.80}, months_since=6,
                                 unmeasured={"retention_rate": "not measured since"}).set_index("kpi")
    assert blind.loc["retention_rate", "status"] == "no data" and blind.loc["retention_rate", "trajectory"] == \
        "not measured" and blind.loc["retention_rate", "note"] == "not measured since"
    assert np.isnan(blind.loc["retention_rate", "gap_closed"]) and blind.loc["revenue_12m", "note"] == ""
    later = fu.compute_plan_kpis(plan, now, {"retention_rate": 0.80}, months_since=30, target_months=12)
    assert later.set_index("kpi").loc["retention_rate", "time_elapsed"] == 1.0  # the whole target period is over


# --------------------------------------------------------------------------- accounts
@pytest.mark.parametrize("plan, now, active, outcome", [
    (100.0, 111.0, True, "grown"), (100.0, 110.0, True, "stable"), (100.0, 90.0, True, "stable"),
    (100.0, 89.0, True, "declined"), (100.0, 150.0, False, "lost"), (0.0, 10.0, True, "grown"),
    (np.nan, 0.0, True, "stable"),
])
def test_account_outcome_thresholds(plan, now, active, outcome):
    assert fu.account_outcome(plan, now, active=active, grown=0.10, declined=0.10) == outcome


def _plan_frames():
    plan_segs = pd.DataFrame({"account_id": ["K1", "K2", "K3", "K4", "N1", "N2"],
                              "is_key": [True, True, True, True, False, False],
                              "quadrant": ["Strategic", "Strategic", "Star", "Star", "Status", "Status"]})
    plan_kpis = pd.DataFrame({"account_id": ["K1", "K2", "K3", "K4", "N1", "N2"],
                              "revenue_12m": [100.0, 200.0, 300.0, 400.0, 10.0, 0.0],
                              "active": [True, True, True, True, True, False]})
    now_segs = pd.DataFrame({"account_id": ["K1", "K2", "K3", "K4", "N1", "N2", "X9"],
                             "is_key": [True, True, False, False, False, False, True],
                             "quadrant": ["Strategic", "Strategic", "Status", "Inactive", "Status", "Star",
                                          "Strategic"]})
    now_kpis = pd.DataFrame({"account_id": ["K1", "K2", "K3", "K4", "N1", "N2", "X9"],
                             "revenue_12m": [250.0, 205.0, 150.0, 0.0, 10.0, 50.0, 999.0],
                             "active": [True, True, True, False, True, True, True],
                             "last_order_date": pd.to_datetime(["2026-06-01"] * 3 + ["2025-11-01"] + ["2026-06-01"] * 3)})
    return plan_segs, plan_kpis, now_segs, now_kpis


def test_key_accounts_then_and_now_with_their_outcome():
    ps, pk, ns, nk = _plan_frames()
    ws = pd.DataFrame({"account_id": ["K1", "K1", "K2"], "category": ["Shoes", "Bags", "Shoes"]})
    cat_plan = pd.DataFrame({"account_id": ["K1", "K2"], "category": ["Shirts", "Shirts"], "revenue": [100.0, 200.0]})
    cat_now = pd.DataFrame({"account_id": ["K1", "K1", "K2"], "category": ["Shirts", "Shoes", "Shirts"],
                            "revenue": [200.0, 50.0, 205.0]})
    t = fu.compute_plan_key_accounts(ps, pk, ns, nk, names=pd.Series({"K1": "Alpha"}), plan_whitespace=ws,
                                     plan_categories=cat_plan, now_categories=cat_now).set_index("account_id")
    assert list(t.index) == ["K1", "K2", "K3", "K4"]  # grown, stable, declined, lost; X9 was not committed
    assert t["outcome"].tolist() == ["grown", "stable", "declined", "lost"]
    assert t.loc["K1", "account_name"] == "Alpha" and t.loc["K2", "account_name"] == "K2"
    assert t.loc["K1", "change"] == pytest.approx(1.5) and t.loc["K3", "change"] == pytest.approx(-0.5)
    assert t.loc["K3", "plan_segment"] == "Star" and t.loc["K3", "current_segment"] == "Status"
    assert t["still_key"].tolist() == [True, True, False, False]
    assert t.loc["K1", "whitespace_plan"] == 2 and t.loc["K1", "whitespace_converted"] == 1
    assert t.loc["K1", "whitespace_categories"] == "Shoes" and t.loc["K2", "whitespace_converted"] == 0


def test_committed_segments_followed_to_today_and_their_migration():
    ps, pk, ns, nk = _plan_frames()
    seg = fu.compute_plan_segments(ps, pk, nk, order=["Strategic", "Star", "Status"]).set_index("segment")
    assert list(seg.index) == ["Strategic", "Star", "Status"]
    assert seg.loc["Star", "accounts"] == 2 and seg.loc["Star", "accounts_active"] == 1
    assert seg.loc["Star", "retention"] == pytest.approx(0.5)  # K3 still active, K4 not
    assert seg.loc["Star", "revenue_plan"] == 700 and seg.loc["Star", "revenue_now"] == 150
    assert seg.loc["Status", "accounts_active_plan"] == 1 and seg.loc["Status", "retention"] == 1.0  # N2 was not active
    assert seg.loc["Strategic", "key_accounts"] == 2
    mig = fu.compute_plan_migration(ps, pk, ns, nk, order=["Strategic", "Star", "Status"])
    m = mig.set_index(["plan_segment", "current_segment"])
    assert m.loc[("Star", "Status"), "accounts"] == 1 and m.loc[("Star", "Inactive"), "accounts"] == 1
    assert m.loc[("Status", "Star"), "revenue_now"] == 50 and m.loc[("Status", "Star"), "moved"]
    assert not m.loc[("Strategic", "Strategic"), "moved"] and m.loc[("Strategic", "Strategic"), "accounts"] == 2
    assert mig["accounts"].sum() == len(ps)  # every committed account, and only them (X9 is new)
    gone = fu.compute_plan_migration(ps, pk, ns[ns["account_id"] != "K4"], nk)
    assert (gone["current_segment"] == fu.NOT_IN_DATA).sum() == 1


# --------------------------------------------------------------------------- coverage
def test_coverage_delivered_is_the_planned_accounts_today_names_that_manager_for():
    plan = pd.DataFrame({"account_id": ["A", "B", "C", "D", "E"],
                         "assigned_manager": ["Ann", "Ann", "Bob", None, "Digital desk"],
                         "hours_allocated": [10.0, 20.0, 5.0, 0.0, 0.0]})
    today = pd.DataFrame({"account_id": ["A", "B", "C"], "account_manager": ["Ann", "Bob", "bob"]})
    t = fu.compute_plan_coverage(plan, today, no_coverage=["Digital desk"]).set_index("manager")
    assert list(t.index) == ["Ann", "Bob"]
    assert t.loc["Ann", "accounts_planned"] == 2 and t.loc["Ann", "hours_planned"] == 30
    assert t.loc["Ann", "accounts_delivered"] == 1 and t.loc["Ann", "delivery_rate"] == 0.5
    assert t.loc["Bob", "accounts_delivered"] == 1  # names compared without case
    blind = fu.compute_plan_coverage(plan, today.drop(columns="account_manager"), no_coverage=["Digital desk"])
    assert blind["accounts_delivered"].isna().all()
    assert blind["status"].str.contains("names no account manager").all()


# --------------------------------------------------------------------------- actions
def test_actions_take_the_returned_status_and_overdue_means_due_and_not_done():
    acts = pd.DataFrame({"account_id": ["A", "A", "B", "B"], "account_name": ["a", "a", "b", "b"],
                         "action": ["x", "y", "z", "w"], "owner": ["o"] * 4,
                         "due_date": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-01", "2026-12-01"]),
                         "kpi": [""] * 4, "trigger": [""] * 4})  # a plan run from before the ids
    returned = pd.DataFrame({"action_id": ["A-1", "A-2", "B-1", "B-2"],
                             "status": ["done", "dropped", "in progress", "not started"],
                             "status_date": pd.to_datetime(["2026-02-01", pd.NaT, pd.NaT, pd.NaT]),
                             "comment": ["ok", "no budget", "", ""], "source": [f"f.csv, row {i}" for i in (2, 3, 4, 5)]})
    t = fu.compute_plan_actions(acts, returned, as_of=dt.date(2026, 6, 30)).set_index("action_id")
    assert list(t.index) == ["A-1", "A-2", "B-1", "B-2"]
    assert t["status"].tolist() == ["done", "dropped", "in progress", "not started"]
    assert t["overdue"].tolist() == [False, False, True, False]  # B-2 is not due yet
    assert t.loc["A-1", "status_date"] == pd.Timestamp("2026-02-01") and t.loc["A-2", "comment"] == "no budget"
    part = fu.compute_plan_actions(acts, returned.iloc[:1], as_of=dt.date(2026, 6, 30))
    assert part["status"].tolist() == ["done", NOT_REPORTED, NOT_REPORTED, NOT_REPORTED]
    assert not part["overdue"].any()  # an unreported action's status is unknown: never overdue
    none = fu.compute_plan_actions(acts, None, as_of=dt.date(2026, 6, 30))
    assert (none["status"] == NOT_REPORTED).all() and not none["overdue"].any()


def test_recommendations_keep_their_id_and_text_as_title():
    # a plan run written before ids: the content ids, derived from rule and segment
    recs = pd.DataFrame({"rank": [1, 2], "rule": ["whitespace", "stalled_playbook"], "segment": ["", "Develop"],
                         "recommendation": ["Do A", "Do B"], "evidence": ["e", "e"],
                         "value": [10.0, 5.0], "due_date": pd.to_datetime(["2026-01-01", "2026-01-01"])})
    returned = pd.DataFrame({"action_id": ["REC-playbook-develop"], "status": ["in progress"], "status_date": [pd.NaT],
                             "comment": [""], "source": ["f, row 2"]})
    t = fu.compute_plan_recommendations(recs, returned, as_of=dt.date(2026, 6, 30))
    assert t["recommendation_id"].tolist() == ["REC-whitespace", "REC-playbook-develop"]
    assert t["title"].tolist() == ["Do A", "Do B"]
    assert t["status"].tolist() == [NOT_REPORTED, "in progress"] and t["overdue"].tolist() == [False, True]
    # a plan run written with rank ids keeps them: the file the client returns names those
    ranked = recs.assign(recommendation_id=["REC-01", "REC-02"])
    t = fu.compute_plan_recommendations(ranked, returned.assign(action_id=["REC-02"]), as_of=dt.date(2026, 6, 30))
    assert t["recommendation_id"].tolist() == ["REC-01", "REC-02"]
    assert t["status"].tolist() == [NOT_REPORTED, "in progress"]


# --------------------------------------------------------------------------- the returned actions file
def test_returned_actions_csv_and_xlsx_are_read_the_same(tmp_path):
    csv = tmp_path / "actions.csv"
    csv.write_text("action_id;account;status;status_date;comment\nA-1;Alpha;Done;2026-03-01;agreed\n"
                   "A-2;Alpha;IN_PROGRESS;;\nA-3;Alpha;;;\n;;;;\nREC-01;;not-started;2026-02-01 00:00:00;later\n",
                   encoding="utf-8")
    got = read_actions_file(csv, known_ids={"A-1", "A-2", "A-3", "REC-01"})
    assert got["action_id"].tolist() == ["A-1", "A-2", "A-3", "REC-01"]
    assert got["status"].tolist() == ["done", "in progress", NOT_REPORTED, "not started"]
    assert got.loc[0, "status_date"] == pd.Timestamp("2026-03-01") and pd.isna(got.loc[1, "status_date"])
    assert got.loc[4 - 1, "comment"] == "later" and got.loc[0, "source"] == "actions.csv, row 2"
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Returned by the client"])
    ws.append(["Action ID", "Status", "Status date", "Comment"])
    ws.append(["A-1", "done", dt.datetime(2026, 3, 1), "agreed"])
    ws.append(["REC-01", "Dropped", None, None])
    wb.save(tmp_path / "actions.xlsx")
    x = read_actions_file(tmp_path / "actions.xlsx", known_ids={"A-1", "REC-01"})
    assert x["status"].tolist() == ["done", "dropped"] and x.loc[0, "status_date"] == pd.Timestamp("2026-03-01")
    assert x.loc[1, "source"] == "actions.xlsx, row 4"


def test_a_bad_actions_file_names_every_problem_with_file_column_rows_examples_and_fix(tmp_path):
    f = tmp_path / "back.csv"
    f.write_text("action_id,status,status_date,comment\nA-1,finished,2026-03-01,\nA-2,done,15/03/2026,\n"
                 "A-2,done,2026-03-02,\nZ-9,done,,\n,done,,\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as exc:
        read_actions_file(f, known_ids={"A-1", "A-2"})
    msg = str(exc.value)
    rules = {p.rule for p in exc.value.problems}
    assert rules == {"actions_status", "actions_date", "actions_duplicate", "actions_unknown_id", "actions_blank_id"}
    assert f"file {f}" in msg and "column 'status'" in msg and "'finished'" in msg and "(row 2)" in msg
    assert "write one of: done, in progress, not started, dropped" in msg
    assert "column 'status_date'" in msg and "'15/03/2026'" in msg and "YYYY-MM-DD" in msg
    assert "2 rows reporting an action id that another row reports too (rows 3, 4)" in msg  # A-2 twice
    assert "'Z-9'" in msg and "1 row with an action id the plan run does not have (row 5)" in msg
    assert "1 row with a status but no action id (row 6)" in msg
    assert "Traceback" not in msg


def test_actions_file_missing_column_or_file(tmp_path):
    f = tmp_path / "back.csv"
    f.write_text("id,state\nA-1,done\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"has no action_id and no status column[\s\S]*examples: 'id', "
                                                  r"'state'[\s\S]*fix: use the file exported with the plan"):
        read_actions_file(f)
    with pytest.raises(DataValidationError, match=r"does not exist[\s\S]*review\.actions_file"):
        read_actions_file(tmp_path / "nope.csv")
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(DataValidationError, match=r"could not be read \(unsupported file type '\.pdf'\)"):
        read_actions_file(tmp_path / "x.pdf")


# --------------------------------------------------------------------------- finding the plan run
def _fake_run(client_dir: Path, run_id: str, *, as_of: str, client: str = "Acme", status: str = "success",
              tables: dict[str, pd.DataFrame] | None = None, targets: dict | None = None) -> Path:
    d = client_dir / run_id
    (d / "tables").mkdir(parents=True)
    params = {"analysis": {"as_of_date": as_of}, "targets": targets or {}, "review": {"segment_column": "quadrant"}}
    (d / "manifest.json").write_text(json.dumps({"client": client, "status": status, "finished_at": run_id,
                                                 "params": params}))
    (d / "params.json").write_text(json.dumps(params))
    for name, df in (tables or {}).items():
        df.to_parquet(d / "tables" / f"{name}.parquet", index=False)
    return d


def test_latest_is_the_most_recent_successful_run_with_an_earlier_as_of(tmp_path):
    cd = tmp_path / "acme"
    _fake_run(cd, "20260101T000000Z-aaaaaa", as_of="2025-06-30")
    want = _fake_run(cd, "20260201T000000Z-bbbbbb", as_of="2025-12-31")
    _fake_run(cd, "20260301T000000Z-cccccc", as_of="2025-12-31", status="failed")
    _fake_run(cd, "20260401T000000Z-dddddd", as_of="2026-06-30")  # this review's own date: never measured
    _fake_run(cd, "interactive", as_of="2025-12-31")
    assert [r["run_id"] for r in successful_runs(cd)] == ["20260101T000000Z-aaaaaa", "20260201T000000Z-bbbbbb",
                                                          "20260401T000000Z-dddddd"]
    assert resolve_plan_run("latest", client_dir=cd, client_name="Acme", as_of=dt.date(2026, 6, 30)) == want
    assert resolve_plan_run("20260101T000000Z-aaaaaa", client_dir=cd, client_name="Acme",
                            as_of=dt.date(2026, 6, 30)).name == "20260101T000000Z-aaaaaa"
    with pytest.raises(ParameterError, match=r"no successful run with an as-of date before 2025-01-01 .*fix: run "
                                             r"the plan engagement first"):
        resolve_plan_run("latest", client_dir=cd, client_name="Acme", as_of=dt.date(2025, 1, 1))
    with pytest.raises(ParameterError, match=r"no run 'nope' of Acme .*its successful runs: .*fix:"):
        resolve_plan_run("nope", client_dir=cd, client_name="Acme", as_of=dt.date(2026, 6, 30))


def test_a_run_of_another_client_or_a_later_or_failed_run_is_refused(tmp_path):
    other = _fake_run(tmp_path / "other", "20260101T000000Z-aaaaaa", as_of="2025-06-30", client="Other Co")
    with pytest.raises(ParameterError, match=r"is a run of 'Other Co', not of 'Acme'; a follow-up review measures "
                                             r"the plan this client committed to, never another client's"):
        check_plan_identity(other, client_name="Acme", as_of=dt.date(2026, 6, 30))
    failed = _fake_run(tmp_path / "acme", "20260101T000000Z-bbbbbb-failed", as_of="2025-06-30", status="failed")
    with pytest.raises(ParameterError, match=r"did not finish successfully"):
        check_plan_identity(failed, client_name="Acme", as_of=dt.date(2026, 6, 30))
    later = _fake_run(tmp_path / "acme", "20260101T000000Z-cccccc", as_of="2026-06-30")
    with pytest.raises(ParameterError, match=r"has the as-of date 2026-06-30, not before this run's 2026-06-30"):
        check_plan_identity(later, client_name="Acme", as_of=dt.date(2026, 6, 30))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParameterError, match=r"is not a run folder"):
        check_plan_identity(tmp_path / "empty", client_name="Acme", as_of=dt.date(2026, 6, 30))


def test_missing_commitment_tables_are_named_with_what_the_follow_up_leaves_out(tmp_path, demo_params):
    from kam_analysis.config import load_params

    params = load_params(demo_params, [f"output.root={tmp_path / 'out'}", "analysis.as_of_date=2026-06-30"])
    headline = pd.DataFrame({"kpi": ["retention_rate"], "label": ["Retention"], "value": [0.7], "unit": ["share"],
                             "ci_low": [np.nan], "ci_high": [np.nan], "n": [10.0], "note": [""]})
    _fake_run(tmp_path / "out" / params.slug, "20260101T000000Z-aaaaaa", as_of="2025-12-31", client=params.client.name,
              tables={"kpi_headline": headline}, targets={"retention_rate": 0.8})
    plan = fu.load_plan("latest", params)
    assert set(plan.missing) == {"segments", "account_kpis", "coverage_plan", "account_plan_actions",
                                 "recommendations"}
    assert plan.targets == {"retention_rate": 0.8} and plan.as_of == dt.date(2025, 12, 31)
    note = next(n for n in plan.notes if "account_plan_actions" in n)
    assert "segments table: the follow-up leaves out the committed key accounts, the committed segments and the " \
           "migration since (plan_key_accounts, plan_segments, plan_migration)." in " ".join(plan.notes)
    assert note == ("The plan run 20260101T000000Z-aaaaaa has no account_plan_actions table: the follow-up leaves "
                    "out the account-plan actions and their status (plan_actions).")
    summary = fu.compute_plan_summary(plan, as_of=dt.date(2026, 6, 30), tables={})
    left = summary[summary["metric"].str.startswith("left_out_")]
    assert set(left["metric"]) == {f"left_out_{t}" for t in plan.missing}
    assert summary.set_index("metric").loc["months_since", "value"] == 6.0


def test_survey_kpis_are_unmeasured_only_without_a_response_since_the_plan():
    class FakeRun:
        def __init__(self, dates):
            self.dates = dates

        def has_data(self, name):
            return name == "surveys" and self.dates is not None

        def read_data(self, name):
            return pd.DataFrame({"account_id": ["A"] * len(self.dates), "survey_date": pd.to_datetime(self.dates)})

    plan_as_of = dt.date(2025, 12, 31)
    assert fu.unmeasured_kpis(FakeRun(["2025-06-01", "2026-02-01"]), plan_as_of) == {}
    old = fu.unmeasured_kpis(FakeRun(["2025-06-01", "2025-12-31"]), plan_as_of)
    assert {"nps", "csat_top2", "csat_mean"} <= set(old) and "retention_rate" not in old
    assert old["nps"].startswith("no survey response since the plan (data up to 31 Dec 2025)")
    assert set(fu.unmeasured_kpis(FakeRun(None), plan_as_of)) == set(old)  # no surveys at all: none measured


@pytest.mark.parametrize("plan, now, mid", [
    ("2025-12-31", "2026-06-30", "2026-03-31"), ("2025-12-31", "2026-09-30", "2026-04-30"),
    ("2025-12-31", "2026-01-31", None), ("2025-12-31", "2026-02-28", None), ("2025-12-31", "2026-03-31", "2026-01-31"),
])
def test_the_trajectorys_middle_point_is_a_month_end_halfway(plan, now, mid):
    got = fu.trajectory_date(dt.date.fromisoformat(plan), dt.date.fromisoformat(now))
    assert got == (dt.date.fromisoformat(mid) if mid else None)


def test_plan_kpis_carry_the_middle_point_of_the_path():
    plan = pd.DataFrame({"kpi": ["retention_rate", "nps"], "label": ["t", "n"], "value": [0.70, 10.0]})
    now = pd.DataFrame({"kpi": ["retention_rate", "nps"], "label": ["t", "n"], "value": [0.76, 10.0]})
    mid = pd.DataFrame({"kpi": ["retention_rate", "nps"], "label": ["t", "n"], "value": [0.72, 10.0]})
    t = fu.compute_plan_kpis(plan, now, {}, months_since=6, midpoint=mid, midpoint_date=dt.date(2026, 3, 31),
                             unmeasured={"nps": "no survey"}).set_index("kpi")
    assert t.loc["retention_rate", "midpoint_value"] == 0.72
    assert t.loc["retention_rate", "midpoint_date"] == pd.Timestamp("2026-03-31")
    assert np.isnan(t.loc["nps", "midpoint_value"])  # not measured since the plan: no middle point either
    assert "midpoint_value" not in fu.compute_plan_kpis(plan, now, {}, months_since=1).columns
