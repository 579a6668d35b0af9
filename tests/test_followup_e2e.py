"""The follow-up review end to end on planted truths (tests/_followup_fixtures.py).

A small demo client runs once (the plan run, as of 31 Dec 2025); a later snapshot continues
its history by nine months with planted outcomes — a key account whose orders stop (lost),
one whose orders since the plan are there twice (grown), a manager named for all but one of
the accounts the coverage plan gave them, a returned actions file with two actions done —
and the follow-up runs on it with ``review.plan_run: latest``. The tables must recover every
planted outcome; another client's run is refused, missing commitments are named, and a bad
actions file stops the run with located messages.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from _followup_fixtures import FOLLOWUP_AS_OF, copy_run, make_followup_snapshot
from conftest import write_demo_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engagement(tmp_path_factory):
    from kam_analysis.config import load_params
    from kam_analysis.data.runfolder import Run
    from kam_analysis.deliverables.kpi_dashboard import build_kpi_dashboard
    from kam_analysis.runner import run_engagement

    tmp = tmp_path_factory.mktemp("followup")
    plan_params = write_demo_params(tmp, n_accounts=300, name="Followup Client")
    plan = run_engagement(plan_params, deliverables=False)
    info = make_followup_snapshot(plan_params, plan.run_dir, tmp / "later")
    said: list[str] = []
    later = run_engagement(info["params"], deliverables=False, progress=said.append)
    params = load_params(info["params"])
    run = Run(later.run_dir, params, reader="deliverable kpi_dashboard")
    return {"tmp": tmp, "plan": plan, "later": later, "info": info, "params": params, "run": run, "said": said,
            "dashboard": build_kpi_dashboard(run), "plan_params": plan_params}


def _t(result, name):
    return pd.read_parquet(result.run_dir / "tables" / f"{name}.parquet")


def test_the_plan_run_writes_no_follow_up_and_the_follow_up_measures_it(engagement):
    plan, later = engagement["plan"], engagement["later"]
    assert not list((plan.run_dir / "tables").glob("plan_*.parquet"))  # no review.plan_run: nothing changes
    s = _t(later, "plan_summary").set_index("metric")
    assert s.loc["plan_run", "text"] == plan.run_dir.name  # 'latest' = the earlier run, never itself
    assert s.loc["plan_as_of", "text"] == "2025-12-31" and s.loc["as_of", "text"] == FOLLOWUP_AS_OF.isoformat()
    assert s.loc["months_since", "value"] == 9
    assert f"  follow-up review of the plan of run {plan.run_dir.name} (data up to 2025-12-31)" in engagement["said"]
    rec = dict(later.manifest["plan_run"])
    returned = rec.pop("actions_file")
    assert rec == {"run_id": plan.run_dir.name, "as_of": "2025-12-31", "missing": []}
    assert returned["path"] == str(engagement["info"]["actions"]) and len(returned["sha256"]) == 64


def test_planted_key_account_outcomes_are_recovered(engagement):
    info, later, plan = engagement["info"], engagement["later"], engagement["plan"]
    ka = _t(later, "plan_key_accounts").set_index("account_id")
    segs = _t(plan, "segments")
    assert set(ka.index) == set(segs.loc[segs["is_key"].astype(bool), "account_id"])  # every committed key account
    assert ka.loc[info["lost"], "outcome"] == "lost"
    assert ka.loc[info["grown"], "outcome"] == "grown"
    others = ka.drop(index=[info["lost"], info["grown"]])
    # an untouched account's trailing year is the same orders one year on: exactly stable
    assert (others["outcome"] == "stable").all() and (others["change"].abs() < 1e-9).all()
    # grown: its revenue now is the plan's plus its January-September orders once more
    orders = pd.read_csv(info["params"].parent / "orders_followup.csv", dtype={"Customer ID": str})
    when = pd.to_datetime(orders["Order Date"], format="%d/%m/%Y")
    mine = orders[(orders["Customer ID"] == info["grown"]) & (when >= "2025-01-01") & (when <= "2025-09-30")]
    g = ka.loc[info["grown"]]
    assert g["revenue_now"] == pytest.approx(g["revenue_plan"] + mine["Net Sales (EUR)"].sum())
    s = _t(later, "plan_summary").set_index("metric")["value"]
    assert s["key_accounts_lost"] == 1 and s["key_accounts_grown"] == 1 and s["key_accounts"] == len(ka)
    # revenue then is the plan run's own engine value
    pk = _t(plan, "account_kpis").set_index("account_id")["revenue_12m"]
    assert (ka["revenue_plan"] - ka.index.map(pk)).abs().max() < 1e-6


def test_migration_is_against_the_committed_segmentation(engagement):
    info, later, plan = engagement["info"], engagement["later"], engagement["plan"]
    mig = _t(later, "plan_migration")
    segs = _t(plan, "segments")
    assert mig.groupby("plan_segment")["accounts"].sum().to_dict() == segs["quadrant"].value_counts().to_dict()
    ka = _t(later, "plan_key_accounts").set_index("account_id")
    lost = ka.loc[info["lost"]]
    assert lost["current_segment"] != lost["plan_segment"]  # a lost key account left its committed segment
    now = _t(later, "segments").set_index("account_id")
    assert lost["current_segment"] == now.loc[info["lost"], "quadrant"]
    cell = mig[(mig["plan_segment"] == lost["plan_segment"]) & (mig["current_segment"] == lost["current_segment"])]
    assert len(cell) == 1 and cell["accounts"].iloc[0] >= 1 and bool(cell["moved"].iloc[0])


def test_coverage_delivered_and_returned_actions_are_recovered(engagement):
    info, later = engagement["info"], engagement["later"]
    cov = _t(later, "plan_coverage").set_index("manager")
    m = cov.loc[info["manager"]]
    assert m["accounts_planned"] == len(info["planned"]) and m["accounts_delivered"] == len(info["planned"]) - 1
    acts = _t(later, "plan_actions").set_index("action_id")
    assert len(acts) == info["n_actions"]
    assert set(acts.index[acts["status"] == "done"]) == set(info["done"])
    assert acts.loc[info["in_progress"], "status"] == "in progress"
    assert (acts.drop(index=[*info["done"], info["in_progress"]])["status"] == "not reported").all()
    assert acts.loc[info["done"][0], "status_date"] == pd.Timestamp("2026-03-01")
    assert acts.loc[info["in_progress"], "overdue"]  # due in early 2026, reported in progress in September
    assert not acts.loc[info["done"], "overdue"].any()
    recs = _t(later, "plan_recommendations").set_index("recommendation_id")
    assert len(recs) == info["n_recs"] and recs.loc[info["rec_done"], "status"] == "done"
    s = _t(later, "plan_summary").set_index("metric")["value"]
    assert s["actions_done"] == 2 and s["actions_in_progress"] == 1 and s["recommendations_done"] == 1


def test_plan_kpis_come_from_the_engine_on_both_sides(engagement):
    later, plan = engagement["later"], engagement["plan"]
    k = _t(later, "plan_kpis").set_index("kpi")
    then = _t(plan, "kpi_headline").set_index("kpi")["value"]
    now = _t(later, "kpi_headline").set_index("kpi")["value"]
    pd.testing.assert_series_equal(k["plan_value"], then.reindex(k.index), check_names=False)
    pd.testing.assert_series_equal(k["actual"], now.reindex(k.index), check_names=False)
    targets = json.loads((plan.run_dir / "params.json").read_text())["targets"]
    assert {kpi: k.loc[kpi, "target"] for kpi in targets} == pytest.approx(targets)
    assert set(k["status"]) <= {"met", "on track", "off track", "no target", "no data"}
    assert (k.loc[list(targets), "status"] != "no target").all()
    # the path's middle point (30 Apr 2026, halfway into the nine months): revenue from the raw orders by hand
    assert (k["midpoint_date"] == pd.Timestamp("2026-04-30")).all()
    orders = pd.read_csv(engagement["info"]["params"].parent / "orders_followup.csv", dtype={"Customer ID": str})
    when = pd.to_datetime(orders["Order Date"], format="%d/%m/%Y")
    window = (when > "2025-04-30") & (when <= "2026-04-30")
    assert k.loc["revenue_12m", "midpoint_value"] == pytest.approx(orders.loc[window, "Net Sales (EUR)"].sum())
    # the snapshot has no survey response after the plan: NPS is not measured again, never rated
    assert k.loc["nps", "status"] == "no data" and k.loc["nps", "trajectory"] == "not measured"
    assert "no survey response since the plan" in k.loc["nps", "note"]
    assert k.loc["retention_rate", "trajectory"] != "not measured" and k.loc["retention_rate", "note"] == ""


def test_kpi_dashboard_has_a_plan_vs_actual_sheet_in_client_language(engagement):
    from openpyxl import load_workbook

    info = engagement["info"]
    wb = load_workbook(engagement["dashboard"])
    assert "Plan vs actual" in wb.sheetnames
    ws = wb["Plan vs actual"]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    text = [c for c in cells if isinstance(c, str)]
    assert "Key accounts of the plan: revenue then and now" in text and "lost" in text and "grown" in text
    names = engagement["run"].account_display_names()
    assert names[info["lost"]] in text and names[info["grown"]] in text
    from client_text import internal_names

    assert not internal_names("\n".join(text)), "table names, parameter keys, run ids or snake_case on a client page"
    assert engagement["plan"].run_dir.name not in " ".join(text)  # no run id
    # one money format: the workbook's full figures
    from kam_analysis.present.formats import excel_number_format

    money = excel_number_format("currency", "EUR", compact=False)
    header_row = next(r for r in ws.iter_rows() if any(c.value == "Revenue at the plan (12 months)" for c in r))
    col = next(c.column for c in header_row if c.value == "Revenue at the plan (12 months)")
    assert ws.cell(row=header_row[0].row + 1, column=col).number_format == money


def test_another_clients_run_is_refused_before_anything_runs(engagement, capsys):
    from kam_analysis.cli import main

    other = copy_run(engagement["plan"].run_dir, engagement["tmp"] / "elsewhere" / "other-co", client="Other Co")
    client_dir = engagement["later"].run_dir.parent
    before = sorted(p.name for p in client_dir.iterdir())
    code = main(["run", str(engagement["info"]["params"]), "--plan-run", str(other), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"is a run of 'Other Co', not of 'Followup Client'" in err and "review.plan_run" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in client_dir.iterdir()) == before  # nothing written


def test_missing_commitments_are_named_and_the_rest_is_measured(engagement):
    from kam_analysis.phases import followup

    copy = copy_run(engagement["plan"].run_dir, engagement["tmp"] / "copies",
                    drop=("account_plan_actions", "coverage_plan"))
    plan = followup.load_plan(str(copy), engagement["params"].model_copy(
        update={"review": engagement["params"].review.model_copy(update={"actions_file": None})}))
    assert set(plan.missing) == {"account_plan_actions", "coverage_plan"}
    assert any("no coverage_plan table: the follow-up leaves out coverage delivered against the plan (plan_coverage)"
               in n for n in plan.notes)
    tables = followup.compute_followup(engagement["run"], plan)
    assert "plan_actions" not in tables and "plan_coverage" not in tables
    assert {"plan_kpis", "plan_key_accounts", "plan_recommendations"} <= set(tables)
    left = tables["plan_summary"].set_index("metric")
    assert left.loc["left_out_account_plan_actions", "text"] == "the account-plan actions and their status"


def test_a_bad_actions_file_stops_the_run_with_located_messages(engagement, capsys):
    from kam_analysis.cli import main

    bad = engagement["tmp"] / "bad_actions.csv"
    first = _t(engagement["plan"], "account_plan_actions")["action_id"].iloc[0]
    bad.write_text(f"action_id,status,status_date,comment\n{first},finished,2026-01-01,\nNOPE-1,done,,\n",
                   encoding="utf-8")
    code = main(["validate", str(engagement["info"]["params"]), "--set", f"review.actions_file={bad}"])
    out = capsys.readouterr().out
    assert code == 2
    assert f"file {bad}" in out and "column 'status'" in out and "(row 2)" in out and "'finished'" in out
    assert "'NOPE-1'" in out and "(row 3)" in out and "fix: " in out


def test_a_corrected_actions_file_reruns_the_review_only(engagement):
    """The client sends the file again with one more action done: --phase review reuses the other phases."""
    from kam_analysis.runner import run_engagement

    info = engagement["info"]
    ret = pd.read_csv(info["actions"], dtype=str, keep_default_na=False)
    third = ret.loc[~ret["action_id"].isin([*info["done"], info["in_progress"], info["rec_done"]]), "action_id"].iloc[0]
    ret.loc[ret["action_id"] == third, ["status", "status_date"]] = ["done", "2026-09-01"]
    ret.to_csv(info["actions"], index=False)
    again = run_engagement(info["params"], phases=["review"], deliverables=False, progress=None)
    assert set(again.manifest["phases_reused"]) == {"assessment", "segmentation", "strategy"}
    acts = _t(again, "plan_actions").set_index("action_id")
    assert set(acts.index[acts["status"] == "done"]) == {*info["done"], third}
    assert again.manifest["plan_run"]["run_id"] == engagement["plan"].run_dir.name  # still the plan, not the review
