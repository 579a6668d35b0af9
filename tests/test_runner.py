"""The Papermill runner: a whole engagement, and every way a run can fail.

Failure-path tests use tiny stand-in notebooks (``notebooks_dir``) so each run costs a
few kernel starts; one test runs the real four notebooks on the small demo client.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from conftest import write_demo_params
from kam_analysis import deliverables
from kam_analysis.data.tables import TABLES
from kam_analysis.exceptions import DataValidationError, RunError
from kam_analysis.runner import PHASES, run_engagement

PARAMS_CELL = 'params_path = ""\nrun_dir = ""\noverrides = []'
OPEN = "from kam_analysis import open_run\nrun = open_run(params_path, run_dir, overrides)"
#: a phase's work: every table it always writes, its required columns holding ``mark``
TABLES_CELL = """import pandas as pd
from kam_analysis.data.tables import TABLES
for t in TABLES.values():
    if t.phase == '{phase}' and not t.conditional:
        run.write_table(t.name, pd.DataFrame({{c: [{mark}] for c in t.required}}))"""
FIGURE_CELL = """import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
run.save_figure(plt.figure(figsize=(1, 1)), '{phase}_figure')"""


def _notebooks(folder: Path, bodies: dict[str, str] | None = None, *, mark: int = 1, figures: bool = False) -> Path:
    """Four fast notebooks writing their phase's tables; ``bodies`` replaces a phase's work cell."""
    folder.mkdir(parents=True, exist_ok=True)
    bodies = bodies or {}
    for phase, spec in PHASES.items():
        nb = nbformat.v4.new_notebook()
        p = nbformat.v4.new_code_cell(PARAMS_CELL)
        p.metadata["tags"] = ["parameters"]
        work = bodies.get(phase, TABLES_CELL.format(phase=phase, mark=mark))
        if spec.waits:  # as the real notebook: it starts beside the phases it waits for, and waits here
            work = "".join(f"run.wait_for({w!r})\n" for w in spec.waits) + work
        opened = OPEN.replace("overrides)", f"overrides, phase={phase!r})")  # as the real notebooks open it
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {phase}"), p, nbformat.v4.new_code_cell(opened),
                    nbformat.v4.new_code_cell(work)]
        if figures:
            nb.cells.append(nbformat.v4.new_code_cell(FIGURE_CELL.format(phase=phase)))
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / spec.notebook)
    return folder


@pytest.fixture()
def client(tmp_path):
    return write_demo_params(tmp_path, n_accounts=60, seed=3, name="Runner Test")


def _runs(params: Path) -> Path:
    return params.parent / "outputs" / "runner-test"


def _good_run(client, tmp_path):
    return run_engagement(client, notebooks_dir=_notebooks(tmp_path / "nb_ok"), deliverables=False, progress=None)


def test_successful_run_writes_folder_manifest_and_latest(client, tmp_path):
    res = _good_run(client, tmp_path)
    assert res.ok and res.run_dir.parent == _runs(client)
    m = json.loads((res.run_dir / "manifest.json").read_text())
    assert m["status"] == "success"
    assert [p["phase"] for p in m["phases"]] == list(PHASES)
    assert all(p["status"] == "success" and p["seconds"] > 0 for p in m["phases"])
    hashed = {i["table"] for i in m["inputs"]}
    assert {"transactions", "accounts", "surveys", "capability", "benchmarks", "playbooks"} <= hashed
    assert all(len(i["sha256"]) == 64 for i in m["inputs"])
    assert m["params"]["client"]["name"] == "Runner Test"
    assert "pandas" in m["packages"] and "papermill" in m["packages"]
    listed = {f["path"] for f in m["files"]}
    assert "tables/recommendations.parquet" in listed and "notebooks/04_review.ipynb" in listed
    assert m["phases_run"] == list(PHASES) and m["phases_reused"] == {} and m["base_run"] is None
    assert "churn_risk" in m["phases"][2]["tables"] and "segments" not in m["phases"][2]["tables"]
    assert (_runs(client) / "LATEST").read_text().strip() == res.run_dir.name
    assert not list(_runs(client).glob(".*.partial"))


def _assert_failed_run_left_last_good_untouched(client, good, before_files):
    runs = _runs(client)
    assert (runs / "LATEST").read_text().strip() == good.run_dir.name
    assert sorted(p.relative_to(good.run_dir) for p in good.run_dir.rglob("*")) == before_files
    failed = [p for p in runs.iterdir() if p.name.endswith("-failed")]
    assert len(failed) == 1
    m = json.loads((failed[0] / "manifest.json").read_text())
    assert m["status"] == "failed"
    assert not list(runs.glob(".*.partial"))
    return failed[0], m


def test_cell_exception_fails_run_and_keeps_failed_notebook(client, tmp_path):
    good = _good_run(client, tmp_path)
    before = sorted(p.relative_to(good.run_dir) for p in good.run_dir.rglob("*"))
    nbs = _notebooks(tmp_path / "nb_err", {"segmentation": "raise ValueError('boom in segmentation')"})
    with pytest.raises(RunError, match=r"Notebook 02_segmentation\.ipynb failed at cell 4 \(raise ValueError"
                                       r".*ValueError: boom in segmentation"):
        run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None)
    failed, m = _assert_failed_run_left_last_good_untouched(client, good, before)
    assert [p["status"] for p in m["phases"]] == ["success", "failed"]
    nb = nbformat.read(failed / "notebooks" / "02_segmentation.ipynb", as_version=4)
    errored = [c for c in nb.cells if c.cell_type == "code" and any(o.get("ename") == "ValueError" for o in c.outputs)]
    assert len(errored) == 1 and errored[0].source.startswith("raise ValueError")
    assert not (failed / "notebooks" / "03_strategy.ipynb").exists()


def test_cell_timeout_fails_run_and_marks_notebook(client, tmp_path):
    good = _good_run(client, tmp_path)
    before = sorted(p.relative_to(good.run_dir) for p in good.run_dir.rglob("*"))
    nbs = _notebooks(tmp_path / "nb_slow", {"strategy": "import time\ntime.sleep(600)"})
    with pytest.raises(RunError, match=r"03_strategy\.ipynb failed at cell 4 \(import time\): cell timed out after 20 s"):
        run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None, cell_timeout=20)
    failed, m = _assert_failed_run_left_last_good_untouched(client, good, before)
    # the review ran beside the strategy (these notebooks do not wait for it); the failure is the strategy's
    assert {p["phase"]: p for p in m["phases"]}["strategy"]["error_type"] == "CellTimeoutError"
    assert m["failure"]["phase"] == "strategy" and m["failure"]["cause"] == "cell_timeout"
    nb = nbformat.read(failed / "notebooks" / "03_strategy.ipynb", as_version=4)
    # papermill alone would leave this notebook looking successful
    assert nb.metadata["kam"]["status"] == "failed"
    [slow] = [c for c in nb.cells if c.source.startswith("import time")]
    assert slow.metadata["papermill"]["status"] == "failed"
    assert any(o.get("ename") == "RunError" for o in slow.outputs)


def test_dead_kernel_fails_run(client, tmp_path):
    good = _good_run(client, tmp_path)
    before = sorted(p.relative_to(good.run_dir) for p in good.run_dir.rglob("*"))
    nbs = _notebooks(tmp_path / "nb_dead", {"assessment": "import os\nos._exit(1)"})
    with pytest.raises(RunError, match=r"01_assessment\.ipynb failed at cell 4 \(import os\): the kernel died"):
        run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None)
    _, m = _assert_failed_run_left_last_good_untouched(client, good, before)
    assert m["phases"][0]["error_type"] == "DeadKernelError"


def test_invalid_data_stops_before_any_run_folder(client, tmp_path):
    _good_run(client, tmp_path)  # generates the demo files
    orders = client.parent / "data" / "orders.csv"
    orders.write_text(orders.read_text().replace("Customer ID", "Cust", 1))
    with pytest.raises(DataValidationError, match="Required transactions column 'account_id' not found"):
        run_engagement(client, notebooks_dir=tmp_path / "nb_ok", deliverables=False, progress=None)
    assert len([p for p in _runs(client).iterdir() if p.is_dir()]) == 1


def _first(name: str, run_dir: Path):
    """The first required value of table ``name`` (the ``mark`` of the run that wrote it)."""
    import pandas as pd

    return pd.read_parquet(run_dir / "tables" / f"{name}.parquet")[TABLES[name].required[0]].iloc[0]


def test_phase_rerun_reruns_what_depends_on_it_and_reuses_only_what_came_before(client, tmp_path):
    first = run_engagement(client, notebooks_dir=_notebooks(tmp_path / "nb1", mark=1, figures=True),
                           deliverables=False, progress=None)
    second = run_engagement(client, phases=["segmentation"], deliverables=False, progress=None,
                            notebooks_dir=_notebooks(tmp_path / "nb2", mark=2, figures=True))
    # the assessment and the segmentation ran side by side: each is credited with its own figure only
    assert first.manifest["parallel_phases"] == 2
    assert [p["figures"] for p in first.manifest["phases"]] == [[f"{ph}_figure.png"] for ph in PHASES]
    assert not list(first.run_dir.glob(".figures-*")) and not (first.run_dir / ".phases.json").exists()
    m = second.manifest
    assert [(p["phase"], p["status"]) for p in m["phases"]] == [
        ("assessment", "reused"), ("segmentation", "success"), ("strategy", "success"), ("review", "success")]
    assert m["phases_run"] == ["segmentation", "strategy", "review"]
    assert m["phases_reused"] == {"assessment": first.run_dir.name} and m["base_run"] == first.run_dir.name
    # the reused phase's results come from the first run; every later phase's from this one
    assert _first("kpi_headline", second.run_dir) == 1
    assert [_first(t, second.run_dir) for t in ("segments", "churn_risk", "recommendations")] == [2, 2, 2]
    assert (second.run_dir / "figures" / "assessment_figure.png").exists()
    assert (second.run_dir / "notebooks" / "01_assessment.ipynb").exists()
    index = json.loads((second.run_dir / "tables" / "_index.json").read_text())
    assert index["kpi_headline"]["phase"] == "assessment" and index["segments"]["phase"] == "segmentation"
    # a run built on a run that reused a phase names the run that computed it
    third = run_engagement(client, phases=["review"], deliverables=False, progress=None,
                           notebooks_dir=_notebooks(tmp_path / "nb3", mark=3))
    assert third.manifest["phases_reused"] == {"assessment": first.run_dir.name,
                                               "segmentation": second.run_dir.name,
                                               "strategy": second.run_dir.name}
    assert [_first(t, third.run_dir) for t in ("kpi_headline", "segments", "recommendations")] == [1, 2, 3]


def test_only_refuses_to_leave_later_phases_stale_and_gives_the_command(client, tmp_path):
    _good_run(client, tmp_path)
    before = sorted(p.name for p in _runs(client).iterdir())
    with pytest.raises(RunError, match=r"--only segmentation: strategy, review read what segmentation writes.*"
                                       r"fix: kam run \S+params\.yaml --phase segmentation --phase strategy "
                                       r"--phase review \(or drop --only\)"):
        run_engagement(client, phases=["segmentation"], only=True, notebooks_dir=tmp_path / "nb_ok",
                       deliverables=False, progress=None)
    assert sorted(p.name for p in _runs(client).iterdir()) == before
    res = run_engagement(client, phases=["review"], only=True, notebooks_dir=tmp_path / "nb_ok",
                         deliverables=False, progress=None)
    assert res.manifest["phases_run"] == ["review"]


def test_changed_input_file_is_never_reused(client, tmp_path):
    _good_run(client, tmp_path)
    before = sorted(p.name for p in _runs(client).iterdir())
    orders = client.parent / "data" / "orders.csv"
    orders.write_text(orders.read_text() + "\n")
    with pytest.raises(RunError, match=r"the assessment, segmentation results of run \S+ cannot be reused: since "
                                       r"that run, transactions \(\S+orders\.csv: contents changed\)\. fix: run "
                                       r"every phase: kam run \S+params\.yaml$"):
        run_engagement(client, phases=["strategy"], notebooks_dir=tmp_path / "nb_ok", deliverables=False,
                       progress=None)
    assert sorted(p.name for p in _runs(client).iterdir()) == before


def test_changed_analysis_parameter_is_never_reused(client, tmp_path):
    _good_run(client, tmp_path)
    with pytest.raises(RunError, match=r"cannot be reused: since that run, parameters analysis\.churn_days\. fix: "
                                       r"run every phase: kam run \S+ --set analysis\.churn_days=120"):
        run_engagement(client, phases=["review"], overrides=["analysis.churn_days=120"],
                       notebooks_dir=tmp_path / "nb_ok", deliverables=False, progress=None)


def test_phase_that_skips_a_table_it_always_writes_fails(client, tmp_path):
    nbs = _notebooks(tmp_path / "nb_skip", {"strategy": TABLES_CELL.format(phase="strategy", mark=1)
                                            + "\nimport os\nos.remove(run.table_path('whitespace'))"})
    with pytest.raises(RunError, match=r"Notebook 03_strategy\.ipynb: the notebook finished without writing "
                                       r"table\(s\) whitespace, which kam_analysis/data/tables\.py says the phase "
                                       r"always writes"):
        run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None)


def probe_deliverable(run):
    """A deliverable that needs a column the fake assessment does not write (gross margin)."""
    return run.read_table("kpi_by_period", columns=["period_start", "gross_margin"])


def test_deliverable_needing_a_missing_column_fails_the_run_naming_both(client, tmp_path, monkeypatch):
    monkeypatch.setattr(deliverables, "BUILDERS", {"probe": "test_runner:probe_deliverable"})
    with pytest.raises(RunError, match=r"Deliverable probe failed: RunError: deliverable probe needs column\(s\) "
                                       r"gross_margin of table 'kpi_by_period', which phase assessment did not write"):
        run_engagement(client, notebooks_dir=_notebooks(tmp_path / "nb"), progress=None)
    [failed] = [p for p in _runs(client).iterdir() if p.name.endswith("-failed")]
    m = json.loads((failed / "manifest.json").read_text())
    assert m["status"] == "failed" and m["deliverables"][0]["status"] == "failed"
    assert not (_runs(client) / "LATEST").exists()


def test_phase_rerun_without_a_previous_run_says_what_to_do(client, tmp_path):
    with pytest.raises(RunError, match="has no successful run yet; fix: run the whole engagement once"):
        run_engagement(client, phases=["strategy"], notebooks_dir=_notebooks(tmp_path / "nb"), progress=None)


@pytest.mark.slow
def test_whole_engagement_runs_the_real_notebooks(tmp_path):
    params = write_demo_params(tmp_path, n_accounts=300, seed=11, name="Full Run")
    lines: list[str] = []
    res = run_engagement(params, progress=lines.append)
    assert res.ok
    nbs = sorted(p.name for p in (res.run_dir / "notebooks").glob("*.ipynb"))
    assert nbs == sorted(p.notebook for p in PHASES.values())
    for name in nbs:
        nb = nbformat.read(res.run_dir / "notebooks" / name, as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name}: {errors[:1]}"
    m = res.manifest
    assert m["status"] == "success"
    from kam_analysis.deliverables import BUILDERS
    assert {d["name"]: d["status"] for d in m["deliverables"]} == \
        {name: "success" for name in BUILDERS}
    assert any("[4/4] review" in line for line in lines)


def test_a_second_client_whose_name_makes_the_same_folder_is_refused(client, tmp_path):
    from kam_analysis.exceptions import ParameterError

    first = _good_run(client, tmp_path)
    record = json.loads((_runs(client) / "client.json").read_text())
    assert record["name"] == "Runner Test" and record["last_run"] == first.run_dir.name
    assert len(record["inputs"]["transactions"]) == 64
    other = client.with_name("other.yaml")
    other.write_text(client.read_text().replace("Runner Test", "RUNNER-test"))
    before = sorted(p.name for p in _runs(client).iterdir())
    for phases in (None, ["strategy"]):
        with pytest.raises(ParameterError, match=r"client.name 'RUNNER-test' gives the output folder .*runner-test, "
                                                 r"which belongs to another client, 'Runner Test'"):
            run_engagement(other, phases=phases, notebooks_dir=tmp_path / "nb_ok", deliverables=False, progress=None)
    assert sorted(p.name for p in _runs(client).iterdir()) == before
    # a folder made before client.json existed is recognised by its runs' manifests
    (_runs(client) / "client.json").unlink()
    with pytest.raises(ParameterError, match="belongs to another client, 'Runner Test'"):
        run_engagement(other, notebooks_dir=tmp_path / "nb_ok", deliverables=False, progress=None)
    assert run_engagement(client, phases=["review"], notebooks_dir=tmp_path / "nb_ok", deliverables=False,
                          progress=None).ok
