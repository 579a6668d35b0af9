"""The data-capability profile: lifecycle by hand, support rules on hand-made profiles, and the
profile of the demo against a transactions-only client (no accounts, surveys, capability,
margin, targets or programme)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import write_demo_params
from kam_analysis import open_run
from kam_analysis.config import load_params
from kam_analysis.metrics.capability import (ANALYSES, CAVEAT, NOT_SUPPORTED, SUPPORTED, Capability,
                                             compute_analysis_support, data_requests, lifecycle_status)


def transactions_only_params(tmp: Path, *, n_accounts: int = 300, seed: int = 3, name: str = "Bare Client") -> Path:
    """The demo's orders only: no accounts, surveys or capability files, no margin, no targets,
    no programme start, no managers, in US dollars — what a first real client extract looks like."""
    path = write_demo_params(tmp, n_accounts=n_accounts, seed=seed, name=name)
    raw = yaml.safe_load(path.read_text())
    for t in ("accounts", "surveys", "capability"):
        raw["data"].pop(t)
    raw["data"]["transactions"]["columns"].pop("gross_margin")
    raw.pop("targets", None)
    raw["analysis"].pop("programme_start", None)
    raw["client"]["currency"] = "USD"  # the template's money benchmarks are in euros: never compared
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_lifecycle_live_dormant_lapsed_by_hand():
    s = pd.DataFrame({"active": [True, False, False, False, True],
                      "orders_12m": [3, 1, 0, 0, 0],  # the last: active on a churn window longer than a year
                      "n_orders": [9, 4, 2, 0, 5]})
    assert list(lifecycle_status(s)) == ["live", "dormant", "lapsed", "no orders", "live"]


def _profile(**present) -> pd.DataFrame:
    base = {"account_attributes": True, "surveys": True, "margin": True, "cost_to_serve": True, "managers": True,
            "programme_members": True, "programme_start": True, "capability": True, "targets": True,
            "segment_targets": False, "benchmarks_sourced": True, "benchmark_currency": True}
    base.update(present)
    values = {"history_months": 48.0, "pre_programme_months": 30.0, "accounts_live": 100.0, "accounts": 120.0}
    rows = [{"item": k, "present": v, "value": np.nan, "detail": "in EUR, not the client's USD: not compared"}
            for k, v in base.items()]
    rows += [{"item": k, "present": True, "value": v, "detail": ""} for k, v in values.items()]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    return load_params(write_demo_params(tmp_path_factory.mktemp("p"), n_accounts=300))


def test_every_analysis_supported_when_every_input_is_there(params):
    s = compute_analysis_support(_profile(), params).set_index("analysis")
    assert set(s.index) == set(ANALYSES)
    assert (s["status"] == SUPPORTED).all(), s[s["status"] != SUPPORTED]
    assert data_requests(s.reset_index()).empty


def test_missing_inputs_say_what_they_cost_and_what_unlocks_them(params):
    prof = _profile(margin=False, targets=False, programme_members=False, programme_start=False,
                    benchmarks_sourced=False, managers=False, surveys=False)
    s = compute_analysis_support(prof, params).set_index("analysis")
    assert s.at["predictive_clv", "status"] == CAVEAT and "revenue" in s.at["predictive_clv", "caveat"]
    assert s.at["kpi_vs_target", "status"] == NOT_SUPPORTED
    assert s.at["benchmark_rag", "status"] == NOT_SUPPORTED and "illustrative" in s.at["benchmark_rag", "caveat"]
    assert s.at["scenarios", "status"] == CAVEAT and "10%" in s.at["scenarios", "caveat"]
    for k in ("programme_impact", "playbook_gap", "migration"):
        assert s.at[k, "status"] == NOT_SUPPORTED and "baseline" in s.at[k, "caveat"]
        assert s.at[k, "unlock_item"] == "programme_members"
    assert s.at["coverage_capacity", "status"] == CAVEAT
    assert s.at["customer_experience", "status"] == NOT_SUPPORTED
    req = data_requests(s.reset_index()).set_index("send")
    programme = next(i for i in req.index if "programme" in i)
    assert req.at[programme, "unlocks"].count(";") == 2  # one request unlocks the three programme analyses
    margin = next(i for i in req.index if "margin" in i.lower())
    assert "lifetime value" in req.at[margin, "firms_up"].lower()
    # a previous review's date (review.baseline_date) is a baseline segments can migrate from, programme or not
    with_review = params.model_copy(update={"review": params.review.model_copy(
        update={"baseline_date": params.analysis.as_of_date.replace(year=params.analysis.as_of_date.year - 1)})})
    s3 = compute_analysis_support(prof, with_review).set_index("analysis")
    assert s3.at["migration", "status"] == SUPPORTED and s3.at["programme_impact", "status"] == NOT_SUPPORTED
    # a money benchmark in another currency: the benchmark rating carries the caveat
    s2 = compute_analysis_support(_profile(benchmark_currency=False), params).set_index("analysis")
    assert s2.at["benchmark_rag", "status"] == CAVEAT and "not compared" in s2.at["benchmark_rag", "caveat"]


def test_short_history_is_not_supported_for_the_models(params):
    prof = _profile()
    prof.loc[prof["item"] == "history_months", "value"] = 14.0
    prof.loc[prof["item"] == "pre_programme_months", "value"] = 4.0
    s = compute_analysis_support(prof, params).set_index("analysis")
    assert s.at["yoy_growth", "status"] == NOT_SUPPORTED
    assert s.at["churn_backtest", "status"] == NOT_SUPPORTED and "14" in s.at["churn_backtest", "caveat"]
    assert s.at["churn_model", "status"] == SUPPORTED  # more history than the 12-month horizon: the model fits
    prof.loc[prof["item"] == "history_months", "value"] = 12.0  # a year of invoices, a 12-month horizon
    assert compute_analysis_support(prof, params).set_index("analysis").at["churn_model", "status"] == NOT_SUPPORTED
    assert s.at["programme_impact", "status"] == NOT_SUPPORTED


def test_a_small_base_refuses_the_analyses_below_their_minimum_size(params):
    from kam_analysis.metrics.capability import MIN_SIZES, MinimumSizes

    prof = _profile()
    prof.loc[prof["item"] == "accounts_live", "value"] = 3.0
    prof.loc[prof["item"] == "accounts", "value"] = 3.0
    s = compute_analysis_support(prof, params).set_index("analysis")
    refused = {"portfolio_matrix", "key_account_selection", "scenarios", "churn_model", "churn_backtest",
               "whitespace", "cohorts"}
    assert set(s.index[s["status"] == NOT_SUPPORTED]) == refused  # every input is there: only the size refuses
    for k in refused - {"churn_backtest"}:
        assert s.at[k, "caveat"].startswith("only 3 "), s.at[k, "caveat"]
        assert "too few to" in s.at[k, "caveat"] and s.at[k, "minimum"].startswith("at least")
    assert "at least 20 live accounts" == s.at["portfolio_matrix", "minimum"] == f"at least " \
        f"{MIN_SIZES.portfolio_matrix_accounts} live accounts"
    req = data_requests(s.reset_index())
    base = req[req["send"].str.contains("whole customer base")]
    assert len(base) == 1 and "only 3 live accounts are too few" in base["send"].iloc[0]
    assert "Portfolio matrix and segment profiles, Impact scenarios and business case (at least 20 live accounts)" \
        in base["unlocks"].iloc[0]
    # one live account short of each minimum refuses; the minimum itself is enough
    sizes = MinimumSizes()
    for n, expect in ((sizes.portfolio_matrix_accounts - 1, NOT_SUPPORTED), (sizes.portfolio_matrix_accounts, SUPPORTED)):
        prof.loc[prof["item"].isin(["accounts_live", "accounts"]), "value"] = float(n)
        assert compute_analysis_support(prof, params).set_index("analysis").at["portfolio_matrix", "status"] == expect
    # the sizes are parameters: a smaller minimum lets a 3-account base have its matrix
    prof.loc[prof["item"].isin(["accounts_live", "accounts"]), "value"] = 3.0
    small = MinimumSizes(portfolio_matrix_accounts=3)
    assert compute_analysis_support(prof, params, small).set_index("analysis").at["portfolio_matrix", "status"] \
        == SUPPORTED
    # ... and the client's parameter file sets them (analysis.min_sizes), typed and range-checked
    own = params.model_copy(update={"analysis": params.analysis.model_copy(
        update={"min_sizes": MinimumSizes(portfolio_matrix_accounts=3)})})
    s = compute_analysis_support(prof, own).set_index("analysis")
    assert s.at["portfolio_matrix", "status"] == SUPPORTED and s.at["scenarios", "status"] == NOT_SUPPORTED


def test_a_refused_analysis_keeps_its_columns_and_no_row():
    sup = pd.DataFrame({"analysis": ["scenarios", "whitespace"], "status": [NOT_SUPPORTED, SUPPORTED],
                        "caveat": ["only 3 live accounts: too few", ""], "unlock": ["", ""]})
    cap = Capability(sup)
    f = pd.DataFrame({"segment": ["A"], "value": [2.0]})
    assert cap.keep("scenarios", f).empty and list(cap.keep("scenarios", f).columns) == ["segment", "value"]
    assert cap.keep("whitespace", f) is f
    assert cap.refuses_table("business_case") == "scenarios" and cap.refuses_table("whitespace") is None
    assert cap.refuses_table("segments") is None


def test_a_refusal_in_full_and_in_a_few_words(params):
    """A page that leaves out a split says why in full (its note) and in a few words (a takeaway or a
    subtitle), both from the one refusal in ``analysis_support``."""
    from kam_analysis.metrics.capability import NOT_BY_QUADRANT

    prof = _profile()
    prof.loc[prof["item"].isin(["accounts_live", "accounts"]), "value"] = 8.0
    cap = Capability(compute_analysis_support(prof, params))
    why = cap.caveat("portfolio_matrix")
    assert cap.refusal("portfolio_matrix") == f"Not shown: {why}."
    assert cap.refusal("portfolio_matrix", NOT_BY_QUADRANT) == f"Not split by portfolio quadrant: {why}."
    assert cap.brief("portfolio_matrix") == "only 8 live accounts; at least 20 live accounts are needed"
    assert cap.brief("profitability") == "no gross margin on the orders" or cap.supported("profitability")
    assert cap.brief("kpi_baseline") == "" and cap.refusal("kpi_baseline", NOT_BY_QUADRANT) == ""
    assert cap.refuses_table("segment_playbook") == "portfolio_matrix"  # a playbook per quadrant


# --------------------------------------------------------------------------- two real profiles
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    demo_tmp, bare_tmp = tmp_path_factory.mktemp("demo"), tmp_path_factory.mktemp("bare")
    demo = open_run(write_demo_params(demo_tmp, n_accounts=300, seed=3), demo_tmp / "run")
    bare = open_run(transactions_only_params(bare_tmp), bare_tmp / "run")
    return demo, bare


def test_profile_of_the_demo_and_of_a_transactions_only_client(runs):
    demo, bare = runs
    dp = demo.read_table("data_profile").set_index("item")
    bp = bare.read_table("data_profile").set_index("item")
    for item in ("account_attributes", "surveys", "margin", "managers", "programme_members", "programme_start",
                 "capability", "targets"):
        assert bool(dp.at[item, "present"]), item
        assert not bool(bp.at[item, "present"]), item
    assert bool(bp.at["benchmarks_illustrative", "present"]) and not bool(bp.at["benchmarks_sourced", "present"])
    # the customer base's shape is the account summary's, counted by hand
    summ = bare.read_table("account_summary")
    assert bp.at["accounts", "value"] == len(summ)
    assert bp.at["accounts_live", "value"] == int(summ["active"].sum())
    lapsed = (~summ["active"]) & (summ["orders_12m"] == 0) & (summ["n_orders"] > 0)
    assert bp.at["accounts_lapsed", "value"] == int(lapsed.sum())
    assert bp.at["average_order_value", "value"] == pytest.approx(summ["revenue_12m"].sum() / summ["orders_12m"].sum())
    top = summ["revenue_12m"].clip(lower=0).sort_values(ascending=False)
    n20 = int(np.ceil(0.2 * (top > 0).sum()))
    assert bp.at["top20_share", "value"] == pytest.approx(top.head(n20).sum() / top.sum(), abs=0.02)


def test_analysis_statuses_of_the_demo_and_of_a_transactions_only_client(runs):
    demo, bare = runs
    d, b = Capability.of(demo), Capability.of(bare)
    expected_bare = {"kpi_vs_target": NOT_SUPPORTED, "benchmark_rag": NOT_SUPPORTED,
                     "customer_experience": NOT_SUPPORTED, "profitability": NOT_SUPPORTED,
                     "capability_maturity": NOT_SUPPORTED, "segment_breakdowns": NOT_SUPPORTED,
                     "predictive_clv": CAVEAT, "scenarios": CAVEAT, "coverage_capacity": CAVEAT,
                     "programme_impact": NOT_SUPPORTED, "playbook_gap": NOT_SUPPORTED, "migration": NOT_SUPPORTED,
                     "kpi_baseline": SUPPORTED, "whitespace": SUPPORTED, "churn_backtest": SUPPORTED}
    for k, st in expected_bare.items():
        assert b.status(k) == st, (k, b.status(k), b.caveat(k))
    for k in ("kpi_vs_target", "predictive_clv", "scenarios", "coverage_capacity", "programme_impact",
              "playbook_gap", "migration", "customer_experience", "profitability"):
        assert d.status(k) == SUPPORTED, (k, d.caveat(k))
    assert d.status("benchmark_rag") == NOT_SUPPORTED  # the template's benchmarks are all illustrative
    for k in ("portfolio_matrix", "key_account_selection", "cohorts", "whitespace", "scenarios", "churn_model"):
        # 300 accounts clear every minimum size: the demo keeps each analysis
        assert d.supported(k) and b.supported(k), (k, d.caveat(k), b.caveat(k))
    for k in ANALYSES:  # every not-supported analysis names what unlocks it
        if b.status(k) == NOT_SUPPORTED:
            assert b.unlock(k) and b.caveat(k), k


def test_a_kpi_without_a_value_names_the_input_that_unlocks_it():
    from kam_analysis.metrics.capability import kpi_unlock, needs_data_text

    assert kpi_unlock("nps").startswith("Customer survey responses")
    assert kpi_unlock("csat_top2") == kpi_unlock("nps")
    assert kpi_unlock("gross_margin_rate").startswith("Gross margin")
    assert "cost to serve" in kpi_unlock("profit_12m") and "Gross margin" in kpi_unlock("profit_12m")
    assert kpi_unlock("retention_rate").startswith("Order history going back further")  # orders only: history
    text = needs_data_text(["nps", "retention_rate", "csat_top2"])
    assert text.startswith("Needs data: NPS, CSAT") and "(send: customer survey responses" in text
    assert "Retention" in text.split(";")[1] and "order history going back further" in text.split(";")[1]
    assert needs_data_text([]) == ""


def test_the_churn_models_own_refusal_is_the_runs_one_reason(tmp_path):
    """The profile's minimum (20 live accounts) cannot foresee how many accounts stop buying: when the
    model's own checks refuse it, the strategy phase records that refusal in the run's analysis support,
    and the deck, the HTML and the data request give that one reason with what unlocks it. A re-run whose
    model fits goes back to the profile's status."""
    import datetime as dt

    from kam_analysis.deliverables.deck_story._base import DeckData, _churn_unsupported
    from kam_analysis.deliverables.html_dashboard import churn_unsupported_text
    from kam_analysis.models import churn
    from kam_analysis.phases import strategy

    run = open_run(write_demo_params(tmp_path, n_accounts=300, seed=3), tmp_path / "run")
    before = Capability.of(run).table.set_index("analysis").loc[["churn_model", "churn_backtest"]]
    assert (before["status"] != NOT_SUPPORTED).all()
    rows = [(f"A{i}", f"O{i}-{m}", (pd.Timestamp("2022-01-15") + pd.DateOffset(months=m)).date().isoformat(),
             100.0, "x") for i in range(40) for m in range(24 if i < 2 else 36)]  # 2 of 40 accounts stop buying
    tx = pd.DataFrame(rows, columns=["account_id", "order_id", "order_date", "net_revenue", "category"])
    res = churn.run_churn_analysis(tx.assign(order_date=pd.to_datetime(tx["order_date"])), as_of=dt.date(2024, 12, 31),
                                   horizon_days=180, activity_days=180, features=["recency_months"])
    caveat = res["refusal"]["caveat"]
    strategy.record_churn_model(run, res)
    cap = Capability.of(run)
    assert cap.status("churn_model") == NOT_SUPPORTED and cap.caveat("churn_model") == caveat
    assert cap.status("churn_backtest") == NOT_SUPPORTED and cap.caveat("churn_backtest").endswith(caveat)
    assert cap.unlock("churn_model").startswith("Order history going back further")
    assert not cap.too_small("churn_model")  # it waits for data, it is not below the size minimum
    assert _churn_unsupported(DeckData(run)) == caveat
    assert f"({caveat})" in churn_unsupported_text(run) and "To unlock it: order history going back" in \
        churn_unsupported_text(run)
    req = data_requests(cap.table)
    assert "Churn-risk model and revenue at risk" in req.loc[req["send"].str.startswith("Order history"),
                                                             "unlocks"].iloc[0]
    strategy.record_churn_model(run, {"supported": True, "note": "", "refusal": None, "backtest_refusal": None})
    after = Capability.of(run).table.set_index("analysis").loc[["churn_model", "churn_backtest"]]
    pd.testing.assert_frame_equal(after, before)
