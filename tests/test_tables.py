"""The table catalogue: tables are checked when written and when read, and docs/tables.md is generated."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data_helpers import write_params
from kam_analysis.config import load_params
from kam_analysis.data.runfolder import Run
from kam_analysis.data.tables import PHASES, PREPARE, TABLES, downstream, tables_markdown
from kam_analysis.exceptions import RunError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "tables.md"


@pytest.fixture()
def run(tmp_path) -> Run:
    return Run(tmp_path / "run", load_params(write_params(tmp_path)), reader="deliverable deck")


def _frame(name: str, *, drop: tuple[str, ...] = (), **extra) -> pd.DataFrame:
    """One row with every required column of ``name`` (minus ``drop``) plus ``extra``."""
    cols = {c: [1] for c in TABLES[name].required if c not in drop}
    return pd.DataFrame({**cols, **{k: [v] for k, v in extra.items()}})


def test_committed_tables_page_is_the_generated_one():
    assert DOCS.read_text(encoding="utf-8") == tables_markdown(), (
        "docs/tables.md is out of date: python -m kam_analysis.data.tables > docs/tables.md")


def test_every_table_belongs_to_a_step_and_declares_each_column_once():
    for t in TABLES.values():
        assert t.phase in {PREPARE, *PHASES}, t.name
        assert t.required, t.name
        assert len(set(t.columns)) == len(t.columns), t.name
        assert t.description and t.one_row_per, t.name


def test_phases_form_a_dag_in_run_order():
    order = list(PHASES)
    for i, p in enumerate(PHASES.values()):
        assert all(order.index(a) < i for a in p.reads), p.name
    assert downstream(["segmentation"]) == ["segmentation", "strategy", "review"]
    # the segmentation reads only the prepare step's tables: a new assessment leaves it as it was
    assert downstream(["review", "assessment"]) == ["assessment", "strategy", "review"]
    assert downstream(["assessment", "segmentation"]) == order
    # the review waits for the strategy in its notebook: a new strategy re-runs it
    assert downstream(["strategy"]) == ["strategy", "review"]
    assert downstream(["review"]) == ["review"]
    with pytest.raises(RunError, match="unknown phase.*stratgy; choose from assessment, segmentation"):
        downstream(["stratgy"])


def test_write_records_phase_and_description_from_the_catalogue(run):
    run.write_table("kpi_headline", _frame("kpi_headline"))
    info = __import__("json").loads((run.tables_dir / "_index.json").read_text())["kpi_headline"]
    assert info["phase"] == "assessment"
    assert info["description"] == TABLES["kpi_headline"].description


def test_undeclared_table_is_refused(run):
    with pytest.raises(RunError, match=r"table 'kpi_headlines' is not declared in the table catalogue "
                                       r"\(kam_analysis/data/tables\.py\)"):
        run.write_table("kpi_headlines", _frame("kpi_headline"))
    assert not run.has_table("kpi_headlines")


def test_missing_required_column_is_refused_naming_table_phase_and_columns(run):
    with pytest.raises(RunError, match=r"table 'churn_risk' written by phase strategy lacks required column\(s\) "
                                       r"risk_band, revenue_at_risk"):
        run.write_table("churn_risk", _frame("churn_risk", drop=("risk_band", "revenue_at_risk")))
    assert not run.has_table("churn_risk")


def test_undeclared_column_is_refused_but_open_prefixes_and_optional_columns_pass(run):
    with pytest.raises(RunError, match=r"table 'whitespace' written by phase strategy has column\(s\) "
                                       r"expected_valu that kam_analysis/data/tables\.py does not declare"):
        run.write_table("whitespace", _frame("whitespace", expected_valu=1.0))
    run.write_table("whitespace", _frame("whitespace", propensity=0.5))
    run.write_table("score_components", _frame("score_components", selection_score_clv=0.3))
    assert run.read_table("score_components")["selection_score_clv"].tolist() == [0.3]


def test_reader_needs_a_column_the_phase_did_not_write(run):
    run.write_table("kpi_by_period", _frame("kpi_by_period"))  # no gross margin in the data
    with pytest.raises(RunError, match=r"deliverable deck needs column\(s\) gross_margin of table 'kpi_by_period', "
                                       r"which phase assessment did not write in this run"):
        run.read_table("kpi_by_period", columns=["revenue", "gross_margin"])
    assert len(run.read_table("kpi_by_period", columns=["revenue"])) == 1


def test_reader_asks_for_a_column_no_phase_writes(run):
    run.write_table("segments", _frame("segments"))
    with pytest.raises(RunError, match=r"deliverable deck needs column\(s\) segment of table 'segments', which "
                                       r"phase segmentation does not write \(not declared"):
        run.read_table("segments", columns=["account_id", "segment"])


def test_reader_needs_a_table_the_phase_did_not_write(run):
    with pytest.raises(RunError, match=r"deliverable deck needs table 'recommendations', which phase review did "
                                       r"not write"):
        run.read_table("recommendations", columns=["rank"])


def test_optional_tables_are_optional_only_when_declared_so(run):
    assert TABLES["capability_maturity"].written_when
    assert run.read_table("capability_maturity", missing_ok=True) is None
    run.write_table("capability_maturity", _frame("capability_maturity"))
    assert len(run.read_table("capability_maturity", missing_ok=True)) == 1
    with pytest.raises(RunError, match=r"deliverable deck reads table 'segments' as optional, but phase "
                                       r"segmentation always writes it"):
        run.read_table("segments", missing_ok=True)


def test_deck_fails_on_a_missing_column_instead_of_skipping_its_slide(run):
    from kam_analysis.deliverables.deck import build_deck

    segs = pd.DataFrame({"account_id": ["A1", "A2"], "attractiveness": [0.8, 0.2], "relative_strength": [0.7, 0.1],
                         "quadrant": ["Strategic", "Status"], "is_key": [True, False]})  # no revenue_12m
    run.write_table("segments", segs)
    with pytest.raises(RunError, match=r"needs column\(s\) revenue_12m of table 'segments', which phase "
                                       r"segmentation did not write"):
        build_deck(run)
    assert not list(run.deliverables_dir.glob("*.pptx"))


def test_every_phase_page_explains_each_table_of_its_phase():
    import re

    for phase in PHASES:
        page = (DOCS.parent / "tables" / f"{phase}.md").read_text(encoding="utf-8")
        for t in (t for t in TABLES.values() if t.phase == phase):
            assert re.search(rf"`{t.name}`|^##+ {t.name}\b", page, flags=re.M), (
                f"docs/tables/{phase}.md does not explain table {t.name}")
