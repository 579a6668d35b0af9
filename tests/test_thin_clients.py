"""The two transactions-only clients run end to end, and their orders are counted as the rules say.

A consumer retailer (no order id, compact dates, dollars, 18 months; scaled down to 2,500
customers here) and a B2B wholesaler (invoice lines, pounds, 12 months; 600 customers),
both from ``params/demo-consumer.yaml`` and ``params/demo-b2b.yaml`` with only the size
and the folders changed. Each is run once (module-scoped) with the real runner; the
tests check that every deliverable is built and that the run's orders and revenue equal
an independent count on the client's raw file: without an order id, one order per
(account, date); with one, one per invoice; identical lines kept.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kam_analysis.config import load_params
from kam_analysis.data.demo_clients import CLIENT_COLUMNS
from kam_analysis.data.runfolder import Run

pytestmark = pytest.mark.slow

DELIVERABLES = {"segmentation_workbook", "kpi_dashboard", "html_dashboard", "deck", "crm_exports"}


@pytest.fixture(scope="module", params=["consumer", "b2b"])
def thin(request, thin_client_runs):
    """(profile, run result, the raw file as the client sent it, contract-named)."""
    profile = request.param
    result, raw, path = thin_client_runs(profile)
    result.run = Run(result.run_dir, load_params(path))
    rename = {v: k for k, v in CLIENT_COLUMNS[profile].items()}
    file = pd.read_csv(raw["data"]["transactions"]["path"], dtype=str).rename(columns=rename)
    file["net_revenue"] = file["net_revenue"].astype(float)
    return profile, result, file


def test_runs_to_success_with_every_deliverable(thin):
    _, result, _ = thin
    assert result.ok, result.manifest.get("error")
    built = {d["name"]: d for d in result.manifest["deliverables"]}
    assert set(built) == DELIVERABLES
    for d in built.values():
        assert d["status"] == "success" and (result.run_dir / d["path"]).stat().st_size > 0


def test_orders_are_counted_by_the_order_rule(thin):
    """Consumer: an order is an account's lines on one date; B2B: the lines of one invoice."""
    profile, result, file = thin
    key = ["account_id", "order_date"] if profile == "consumer" else ["account_id", "order_id"]
    per_order = file.groupby(key)["net_revenue"].sum()
    stats = result.manifest["validation"]["stats"]["transactions"]
    assert stats["order_id_given"] == (profile == "b2b")
    assert stats["orders"] == len(per_order)
    summary = result.run.read_table("account_summary")
    # counted orders (net revenue > 0) per account, from the raw file
    expected = (per_order.round(2) > 0).groupby(level="account_id").sum()
    got = summary.set_index("account_id")["n_orders"]
    assert int(got.sum()) == int(expected.sum())
    assert got.reindex(expected.index).astype(int).equals(expected.astype(int))
    if profile == "consumer":  # no order id column given: validation's summary says the rule
        assert "order_id" not in json.loads((result.run_dir / "data" / "validation.json").read_text())[
            "present_columns"]["transactions"]


def test_identical_lines_are_kept(thin):
    _, result, file = thin
    n_repeat = int(file.duplicated().sum())
    assert n_repeat > 0  # the generator plants genuine repeat purchases
    stats = result.manifest["validation"]["stats"]["transactions"]
    assert stats["repeat_lines"] == n_repeat and stats["rows_kept"] == len(file)
    clean = pd.read_parquet(result.run_dir / "data" / "transactions.parquet")
    assert len(clean) == len(file)
    assert clean["net_revenue"].sum() == pytest.approx(file["net_revenue"].sum(), abs=0.01)
    summary = result.run.read_table("account_summary")
    assert summary["revenue"].sum() == pytest.approx(file["net_revenue"].sum(), abs=0.05)


def test_deliverables_say_how_orders_were_counted(thin):
    """The deck's data-sources page and the workbook's data-quality sheet state the order rule."""
    from openpyxl import load_workbook
    from pptx import Presentation

    from kam_analysis.data.orders import order_rule_client

    profile, result, _ = thin
    stats = result.manifest["validation"]["stats"]["transactions"]
    expected = order_rule_client(stats)
    assert ("no order number" in expected) == (profile == "consumer")
    built = {d["name"]: result.run_dir / d["path"] for d in result.manifest["deliverables"]}
    deck = "\n".join(sh.text_frame.text for s in Presentation(built["deck"]).slides for sh in s.shapes
                     if sh.has_text_frame)
    assert expected in deck
    ws = load_workbook(built["segmentation_workbook"], read_only=True)["Data quality"]
    assert expected + "." in [c for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]


def test_key_accounts_within_value_and_capacity_and_no_manager_promise_to_the_mass(thin):
    """docs/key_accounts.md on both thin clients: key accounts are live, carry a dedicated manager's hours
    and no more than capacity allows; only they get a dedicated manager or an account plan; the consumer
    base (no customer near 1% of revenue) gets none, and the deck says so."""
    from pptx import Presentation

    profile, result, _ = thin
    run = result.run
    seg = run.read_table("segments")
    z = run.read_table("key_account_sizing").set_index("metric")["value"]
    key = seg[seg["is_key"].astype(bool)]
    assert (key["account_status"] == "live").all() and len(key) == z["selected"]
    assert (key["revenue_12m"] >= z["key_floor"]).all()
    if pd.notna(z["capacity_accounts"]):
        assert len(key) <= z["capacity_accounts"]
    plan = run.read_table("coverage_plan")
    dedicated = plan[plan["hours_per_account"] >= run.read_table("coverage_tiers").set_index("tier").loc[
        "key", "hours_per_account"]]
    assert set(dedicated["account_id"]) <= set(key["account_id"])
    assert set(run.read_table("account_plans")["account_id"]) <= set(key["account_id"])
    titles = [s.shapes.title.text_frame.text for s in Presentation(run.dir / "deliverables" / "framework_deck.pptx").slides
              if s.shapes.title is not None]
    if profile == "consumer":
        assert key.empty
        assert any(t.startswith("No live account reaches the default key-account threshold") for t in titles)
    else:
        assert any(t.startswith(f"Key-account management fits {len(key):,} of") for t in titles)


def test_client_pages_show_no_internal_name(thin):
    """The client-language scan (tests/test_client_language.py) on the consumer and B2B clients."""
    from client_text import scan

    _, result, _ = thin
    found = scan({p.stem: p for p in (result.run_dir / "deliverables").iterdir()})
    assert not found, "\n".join(f"{w}: {h} in {t[:140]!r}" for w, t, h in found[:30])


def test_no_scorecard_shows_a_row_of_na_values(thin):
    """A KPI the data cannot measure (no surveys: NPS) is no row of results: it leaves the deck's
    scorecard, both KPI-dashboard sheets and the HTML scorecard for a 'needs data' line naming the
    input that unlocks it."""
    import json
    import re

    from openpyxl import load_workbook
    from pptx import Presentation

    from kam_analysis.deliverables.html_dashboard import SCORECARD_KPIS

    _, result, _ = thin
    d = result.run_dir / "deliverables"
    for slide in Presentation(d / "framework_deck.pptx").slides:
        for sh in slide.shapes:
            if getattr(sh, "has_table", False) and sh.has_table:
                rows = [[c.text for c in r.cells] for r in sh.table.rows]
                if rows[0][:2] == ["KPI", "Current"]:
                    assert all(r[1] not in ("n/a", "–", "") for r in rows[1:]), rows
    wb = load_workbook(d / "kpi_dashboard.xlsx")
    for sheet, col in (("KPI vs target", "Current"), ("Scorecard", "Value")):
        ws = wb[sheet]
        head = [c.value for c in ws[4]]
        if col not in head:
            continue
        j = head.index(col)
        body = [r for r in ws.iter_rows(min_row=5, values_only=True)
                if any(v is not None for v in r) and r[0] != "(none)"]  # "(none)": the empty table's one row
        assert all(isinstance(r[j], (int, float)) for r in body), (sheet, [r for r in body if r[j] is None][:3])
    sc = result.run.read_table("kpi_scorecard")
    unmeasured = [k for k in SCORECARD_KPIS if k in set(sc["kpi"]) and sc.loc[sc["kpi"] == k, "value"].isna().all()]
    page = (d / "dashboard.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', page, re.S).group(1))
    assert not {k["kpi"] for k in data["scorecard_kpis"]} & set(unmeasured)
    if unmeasured:
        assert data["scorecard_needs"].startswith("Needs data: ") and "(send: " in data["scorecard_needs"]
        dash = " ".join(str(c.value) for row in wb["Dashboard"].iter_rows() for c in row if isinstance(c.value, str))
        assert "Needs data: " in dash
