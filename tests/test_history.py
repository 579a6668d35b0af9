"""Run history (``kam history``), the ``kpi_history`` table and the CRM exports.

The end-to-end tests share one module-scoped client: two real runs of a 300-account demo
(as of 30 Jun 2025, then 31 Dec 2025) whose first account is renamed to a formula, plus two
hand-made run folders between them — a failed run and a run without deliverables.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import write_demo_params
from kam_analysis.data.history import HISTORY_FILE, RunRecord, list_runs
from kam_analysis.phases.kpi_history import compute_kpi_history, history_points

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'
AS_OF = ("2025-06-30", "2025-12-31")


# --------------------------------------------------------------------------- tiny frames
def _rec(run_id, as_of, version="1.0", started=None):
    return RunRecord(run_id=run_id, folder=f"/x/{run_id}", status="success", as_of_date=as_of,
                     started_at=started or f"2026-01-0{run_id[-1]}T10:00:00+00:00", package_version=version)


def _head(values: dict) -> pd.DataFrame:
    return pd.DataFrame({"kpi": list(values), "label": list(values), "value": list(values.values())})


def test_kpi_history_takes_each_runs_own_values_and_leaves_out_later_as_of_dates():
    now = _rec("r4", "2025-12-31")
    earlier = [(_rec("r1", "2025-06-30", version="0.9"), _head({"revenue_12m": 100.0, "nps": 10.0})),
               (_rec("r2", "2026-03-31"), _head({"revenue_12m": 999.0})),  # later as-of: not in this review's history
               (_rec("r3", "2025-09-30"), _head({"revenue_12m": 120.0, "retired_kpi": 5.0}))]
    h = compute_kpi_history(_head({"revenue_12m": 150.0, "nps": 12.0}), current_run=now, earlier=earlier)
    assert h["run_id"].fillna("now").tolist() == ["r1", "r1", "r3", "now", "now"]  # as-of order; this run's KPIs only
    assert h["run_date"].iloc[3:].isna().all()  # this run's id and date live in its manifest only
    assert dict(zip(h["run_id"].fillna("now") + h["kpi"], h["value"])) == {
        "r1revenue_12m": 100.0, "r1nps": 10.0, "r3revenue_12m": 120.0, "nowrevenue_12m": 150.0, "nownps": 12.0}
    assert list(h["current_run"]) == [False, False, False, True, True]
    assert h.loc[h["run_id"] == "r1", "note"].str.contains("kam-analysis 0.9").all()  # another version: said
    assert (h.loc[h["run_id"] != "r1", "note"] == "").all()
    assert h.loc[h["kpi"] == "revenue_12m", "label"].iloc[0] == "Net revenue, last 12 months"  # the registry's
    assert history_points(h) == 3


def test_a_rerun_of_the_same_as_of_date_supersedes_the_earlier_one():
    now = _rec("r3", "2025-12-31")
    earlier = [(_rec("r1", "2025-06-30"), _head({"revenue_12m": 1.0})),
               (_rec("r2", "2025-06-30"), _head({"revenue_12m": 2.0})),
               (_rec("r0", "2025-12-31", started="2026-01-01T09:00:00+00:00"), _head({"revenue_12m": 3.0}))]
    h = compute_kpi_history(_head({"revenue_12m": 4.0}), current_run=now, earlier=earlier)
    # r0 has this run's as-of date: this run supersedes it, so it is not listed
    assert h["run_id"].fillna("now").tolist() == ["r1", "r2", "now"]
    assert h["superseded"].tolist() == [True, False, False] and h["value"].tolist() == [1.0, 2.0, 4.0]
    assert history_points(h) == 2


def test_first_review_has_only_this_runs_rows():
    h = compute_kpi_history(_head({"revenue_12m": 4.0}), current_run=_rec("r1", "2025-06-30"), earlier=[])
    assert len(h) == 1 and bool(h["current_run"].iloc[0]) and history_points(h) == 1


# --------------------------------------------------------------------------- hand-made folders
def _manifest(folder: Path, **fields) -> None:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(fields), encoding="utf-8")


def test_statuses_of_hand_made_run_folders(tmp_path):
    params = {"analysis": {"as_of_date": "2025-03-31"}, "client": {"name": "C", "currency": "EUR"}}
    _manifest(tmp_path / "20260101T000000Z-aaaaaa", status="success", started_at="2026-01-01T00:00:00+00:00",
              params=params, deliverables=[{"name": "deck", "status": "success"}], client="C")
    _manifest(tmp_path / "20260102T000000Z-bbbbbb-failed", status="failed", started_at="2026-01-02T00:00:00+00:00",
              params=params, client="C", failure={"phase": "segmentation", "cause": "cell_error",
                                                  "message": "Notebook 02_segmentation.ipynb failed at cell 7"})
    _manifest(tmp_path / "20260103T000000Z-cccccc", status="success", started_at="2026-01-03T00:00:00+00:00",
              params=params, client="C")  # kam run --no-deliverables
    killed = tmp_path / ".20260104T000000Z-dddddd.partial"
    killed.mkdir()
    import socket

    (killed / ".owner.json").write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": socket.gethostname(),
                                                    "stage": "strategy"}))
    (tmp_path / "20260105T000000Z-eeeeee-failed").mkdir()  # no manifest at all
    (tmp_path / "interactive").mkdir()  # the notebooks' scratch run: not a run
    runs = list_runs(tmp_path)
    assert [r.run_id for r in runs] == ["20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb",
                                        "20260103T000000Z-cccccc", "20260104T000000Z-dddddd",
                                        "20260105T000000Z-eeeeee"]
    assert [r.status for r in runs] == ["success", "failed", "partial", "failed", "failed"]
    assert "segmentation" in runs[1].note and "cell 7" in runs[1].note
    assert "deliverables were not built" in runs[2].note
    assert "killed" in runs[3].note and "manifest" in runs[4].note
    assert runs[0].as_of_date == "2025-03-31" and runs[0].ok and not runs[1].ok
    assert all(r.plan_run is None for r in runs)


def test_the_plan_run_a_follow_up_reviewed_is_the_one_it_resolved(tmp_path, capsys):
    from kam_analysis.cli import main

    base = {"analysis": {"as_of_date": "2025-06-30"}, "client": {"name": "C", "currency": "EUR"}}
    done = [{"name": "deck", "status": "success"}]
    _manifest(tmp_path / "20260101T000000Z-aaaaaa", status="success", started_at="2026-01-01T00:00:00+00:00",
              params=base, deliverables=done, client="C")
    follow = {**base, "analysis": {"as_of_date": "2025-12-31"}, "review": {"plan_run": "latest"}}
    _manifest(tmp_path / "20260102T000000Z-bbbbbb", status="success", started_at="2026-01-02T00:00:00+00:00",
              params=follow, deliverables=done, client="C")
    (tmp_path / "20260102T000000Z-bbbbbb" / "tables").mkdir()
    pd.DataFrame({"metric": ["plan_run", "as_of"], "label": ["Plan reviewed", "x"], "value": [None, None],
                  "unit": ["text", "date"], "note": ["", ""], "text": ["20260101T000000Z-aaaaaa", "2025-12-31"]}
                 ).to_parquet(tmp_path / "20260102T000000Z-bbbbbb" / "tables" / "plan_summary.parquet")
    _manifest(tmp_path / "20260103T000000Z-cccccc-failed", status="failed", started_at="2026-01-03T00:00:00+00:00",
              params=follow, client="C", error="stopped")  # failed before the review resolved it
    runs = list_runs(tmp_path)
    assert [r.plan_run for r in runs] == [None, "20260101T000000Z-aaaaaa", "latest (not resolved)"]
    assert main(["history", str(tmp_path)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line[:1].isdigit()]
    assert "30 Jun 2025 run" in rows[1] and "latest (not resolved)" in rows[2]


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """Two real runs of one client and two hand-made run folders between them."""
    import yaml

    from kam_analysis.config import load_params
    from kam_analysis.data.prepare import ensure_demo_data
    from kam_analysis.runner import run_engagement

    tmp = tmp_path_factory.mktemp("history")
    path = write_demo_params(tmp, n_accounts=300, seed=5, name="History Co")
    params = load_params(path)
    ensure_demo_data(params)
    accounts = Path(params.data.accounts.path)
    df = pd.read_csv(accounts, dtype=str)
    name_col = yaml.safe_load(path.read_text())["data"]["accounts"]["columns"]["account_name"]
    df.loc[0, name_col] = FORMULA_NAME
    df.to_csv(accounts, index=False)
    first = run_engagement(path, overrides=[f"analysis.as_of_date={AS_OF[0]}"], progress=None)
    second = run_engagement(path, overrides=[f"analysis.as_of_date={AS_OF[1]}"], progress=None)
    client_dir = first.run_dir.parent
    index_after_runs = json.loads((client_dir / HISTORY_FILE).read_text(encoding="utf-8"))
    m1 = json.loads((first.run_dir / "manifest.json").read_text())
    m2 = json.loads((second.run_dir / "manifest.json").read_text())
    # a failed run between them (kept as <id>-failed by the runner), and one made without deliverables
    failed = client_dir / (first.run_dir.name[:-6] + "fa11ed-failed")
    shutil.copytree(first.run_dir, failed)
    started = pd.Timestamp(m1["started_at"]) + pd.Timedelta(seconds=1)
    (failed / "manifest.json").write_text(json.dumps({
        **m1, "run_id": failed.name.removesuffix("-failed"), "status": "failed", "started_at": started.isoformat(),
        "error": "Notebook 03_strategy.ipynb failed at cell 12: ValueError: boom",
        "failure": {"phase": "strategy", "cause": "cell_error",
                    "message": "Notebook 03_strategy.ipynb failed at cell 12: ValueError: boom"}}))
    partial = client_dir / (first.run_dir.name[:-6] + "b0b0b0")
    shutil.copytree(first.run_dir, partial)
    (partial / "manifest.json").write_text(json.dumps({
        **{k: v for k, v in m1.items() if k != "deliverables"}, "run_id": partial.name,
        "started_at": (started + pd.Timedelta(seconds=1)).isoformat()}))
    return {"path": path, "first": first, "second": second, "dir": client_dir, "failed": failed, "partial": partial,
            "index": index_after_runs, "m2": m2}


def _headline(run_dir: Path) -> dict:
    h = pd.read_parquet(run_dir / "tables" / "kpi_headline.parquet")
    return dict(zip(h["kpi"], h["value"]))


@pytest.mark.slow
def test_history_lists_every_run_in_order_with_its_status(client):
    runs = list_runs(client["dir"])
    assert [r.path.name for r in runs] == [client["first"].run_dir.name, client["failed"].name,
                                           client["partial"].name, client["second"].run_dir.name]
    assert [r.status for r in runs] == ["success", "failed", "partial", "success"]
    assert [r.as_of_date for r in runs] == [AS_OF[0], AS_OF[0], AS_OF[0], AS_OF[1]]
    assert "strategy" in runs[1].note and "cell 12" in runs[1].note
    assert {i["name"] for i in runs[0].inputs} >= {"transactions", "accounts"}
    assert all(len(i["sha256"]) == 64 for i in runs[0].inputs)
    # the index each run rewrites lists the two real runs (the hand-made ones came later)
    assert [r["run_id"] for r in client["index"]["runs"]] == [client["first"].run_dir.name,
                                                               client["second"].run_dir.name]


@pytest.mark.slow
def test_kam_history_prints_each_run_with_its_kpis(client, capsys):
    from kam_analysis.cli import main
    from kam_analysis.metrics import format_kpi

    assert main(["history", str(client["path"])]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line[:1].isdigit()]
    assert [r.split()[7] for r in rows] == ["success", "failed", "partial", "success"]  # "4 Dec 2026 12:45 30 Jun 2025 <status>"
    for row, run in zip(rows[::3], (client["first"].run_dir, client["second"].run_dir)):
        h = _headline(run)
        for k in ("revenue_12m", "active_accounts", "retention_rate"):
            assert format_kpi(h[k], k, "EUR") in row
    assert "failed: strategy: Notebook 03_strategy.ipynb failed at cell 12" in out
    sha = client["m2"]["inputs"][0]["sha256"][:8]
    assert f"{Path(client['m2']['inputs'][0]['path']).name} {sha}" in out
    assert main(["history", "History Co", "--root", str(client["dir"].parent), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in doc["runs"]] == ["success", "failed", "partial", "success"]
    assert doc["runs"][-1]["kpis"]["revenue_12m"] == pytest.approx(_headline(client["second"].run_dir)["revenue_12m"])
    assert main(["history", "Nobody Ltd", "--root", str(client["dir"].parent)]) == 2
    assert "history-co" in capsys.readouterr().err  # names the clients that do have runs


@pytest.mark.slow
def test_kpi_history_equals_each_runs_kpi_headline(client):
    first, second = client["first"].run_dir, client["second"].run_dir
    h1 = pd.read_parquet(first / "tables" / "kpi_history.parquet")
    assert h1["current_run"].all() and history_points(h1) == 1  # the client's first review
    h2 = pd.read_parquet(second / "tables" / "kpi_history.parquet")
    assert set(h2["run_id"].dropna()) == {first.name}  # never the failed run; the partial one did not exist yet
    for run in (first, second):
        mine = h2[h2["run_id"] == run.name] if run == first else h2[h2["current_run"]]
        expected = _headline(run)
        assert len(mine) == len(expected)
        for k, v in zip(mine["kpi"], mine["value"]):
            assert (pd.isna(v) and pd.isna(expected[k])) or v == pytest.approx(expected[k], rel=1e-12)
    assert h2.loc[h2["current_run"], "run_id"].isna().all()
    assert (h2["as_of_date"].dt.strftime("%Y-%m-%d").unique() == list(AS_OF)).all()


@pytest.mark.slow
def test_dashboards_show_the_kpis_across_reviews(client):
    import openpyxl

    from kam_analysis.deliverables._kpi_history import SHEET

    book1 = openpyxl.load_workbook(client["first"].run_dir / "deliverables" / "kpi_dashboard.xlsx")
    assert "first review of History Co" in book1[SHEET]["A2"].value
    book2 = openpyxl.load_workbook(client["second"].run_dir / "deliverables" / "kpi_dashboard.xlsx")
    ws = book2[SHEET]
    assert [c.value for c in ws[4]][:4] == ["KPI", "Review of 30 Jun 2025", "Review of 31 Dec 2025",
                                            "Change since the previous review"]
    h1, h2 = _headline(client["first"].run_dir), _headline(client["second"].run_dir)
    assert ws["A5"].value == "Revenue (12m)"
    assert ws["B5"].value == pytest.approx(h1["revenue_12m"]) and ws["C5"].value == pytest.approx(h2["revenue_12m"])
    assert ws["D5"].value == pytest.approx(h2["revenue_12m"] / h1["revenue_12m"] - 1)
    html = (client["second"].run_dir / "deliverables" / "dashboard.html").read_text(encoding="utf-8")
    import re

    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, flags=re.S).group(1))
    series = {s["kpi"]: s for s in data["kpi_history"]["series"]}
    assert [p["y"] for p in series["revenue_12m"]["points"]] == pytest.approx([h1["revenue_12m"], h2["revenue_12m"]])
    assert "Headline KPIs across reviews" in html
    html1 = (client["first"].run_dir / "deliverables" / "dashboard.html").read_text(encoding="utf-8")
    assert "This is the first review of History Co" in html1


def _read_export(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # UTF-8 with BOM, CRLF: as documented
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


@pytest.mark.slow
def test_crm_exports_round_trip(client):
    from kam_analysis.deliverables.exports import EXPORTS

    run = client["second"].run_dir
    deliv = {d["name"]: d for d in client["m2"]["deliverables"]}
    assert deliv["crm_exports"]["status"] == "success"
    segs = pd.read_parquet(run / "tables" / "segments.parquet")
    acts = pd.read_parquet(run / "tables" / "account_plan_actions.parquet")
    docs = (Path(__file__).resolve().parents[1] / "docs" / "crm_mapping.md").read_text(encoding="utf-8")
    read = {}
    for name, cols in EXPORTS.items():
        rows = _read_export(run / "deliverables" / name)
        assert list(rows[0]) == list(cols), name
        assert all(f"`{c}`" in docs for c in cols) and f"`{name}`" in docs  # every column documented
        read[name] = rows
    seg = read["segment_assignments.csv"]
    assert len(seg) == len(segs) and len({r["account_id"] for r in seg}) == len(seg)
    by_id = {r["account_id"]: r for r in seg}
    truth = segs.set_index(segs["account_id"].astype(str))
    for aid, r in list(by_id.items())[:50]:
        assert r["segment"] == truth.loc[aid, "quadrant"]
        assert r["key_account"] == ("true" if truth.loc[aid, "is_key"] else "false")
        assert r["as_of_date"] == AS_OF[1]
    assert by_id["C100000"]["account_name"] == "'" + FORMULA_NAME  # neutralised, text kept
    assert not any(r["account_name"].startswith(("=", "+", "@")) for r in seg)
    cov = read["coverage_assignments.csv"]
    assert len({r["account_id"] for r in cov}) == len(cov) == len(segs)
    assert {r["covered"] for r in cov} <= {"true", "false"}
    a = read["account_plan_actions.csv"]
    recs = pd.read_parquet(run / "tables" / "recommendations.parquet").sort_values("rank")
    assert len(a) == len(acts) + len(recs) and len(acts) > 0 and len({r["action_id"] for r in a}) == len(a)
    assert [r["action_id"] for r in a] == list(acts["action_id"]) + list(recs["recommendation_id"])
    assert all(r["status"] == r["status_date"] == r["comment"] == "" for r in a)
    assert [r["due_date"] for r in a[:len(acts)]] == list(pd.to_datetime(acts["due_date"]).dt.strftime("%Y-%m-%d"))
    assert all(r["account_id"] == "" and r["action"] for r in a[len(acts):])  # recommendations: no account


def test_a_returned_actions_file_matches_ids_the_export_guarded_against_formulas(tmp_path):
    """An account id that looks like a formula ('-A7', '@x') is exported with the guard "'" and
    still matches when the client returns the file."""
    from kam_analysis.data.planrun import read_actions_file
    from kam_analysis.deliverables.exports import EXPORTS, write_export

    cols = EXPORTS["account_plan_actions.csv"]
    frame = pd.DataFrame([{c: "" for c in cols} | {"action_id": aid, "account_id": aid.rsplit("-", 1)[0]}
                          for aid in ("-A7-1", "@x-1", "C1-1")])[list(cols)]
    path = write_export(frame, tmp_path / "account_plan_actions.csv")
    rows = _read_export(path)
    assert [r["action_id"] for r in rows] == ["'-A7-1", "'@x-1", "C1-1"]  # as Excel shows it: text, not a formula
    text = path.read_bytes().decode("utf-8-sig").replace(",,,\r\n", ",done,2026-01-15,called\r\n")
    path.write_bytes(text.encode("utf-8-sig"))  # the client's filled-in file, as Excel saves "CSV UTF-8"
    back = read_actions_file(path, known_ids={"-A7-1", "@x-1", "C1-1"})
    assert sorted(back["action_id"]) == ["-A7-1", "@x-1", "C1-1"] and set(back["status"]) == {"done"}


def test_client_folder_is_built_in_one_place():
    """The client's folder of runs (``<output.root>/<slug>``) has one definition,
    ``data.history.client_dir``: the follow-up, the demo follow-up and the KPI history use it."""
    import re
    from pathlib import Path

    import kam_analysis
    pkg = Path(kam_analysis.__file__).parent
    pattern = re.compile(r"def _?client_dir\(params")
    defs = [str(p.relative_to(pkg)) for p in pkg.rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    # runner.py keeps its own resolving variant (it refuses a folder outside the output root)
    assert sorted(defs) == ["data/history.py", "runner.py"], defs
    for mod in ("phases/followup.py", "data/demo_followup.py", "phases/kpi_history.py"):
        text = (pkg / mod).read_text(encoding="utf-8")
        assert "client_dir(params)" in text and "output.root) / params.slug" not in text, mod
