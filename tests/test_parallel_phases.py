"""Phases side by side: the wait for another phase, the shared tables index, how many run at once,
and the notebook saves Papermill makes while cells run."""
from __future__ import annotations

import json
import multiprocessing
import threading
import time

import pandas as pd
import pytest

from conftest import write_demo_params
from kam_analysis.config import load_params
from kam_analysis.data.runfolder import PHASE_STATE, Run
from kam_analysis.exceptions import RunError
from kam_analysis.execution import _Throttled
from kam_analysis.runner import PARALLEL_MAX_LINES, phase_slots


@pytest.fixture()
def params(tmp_path):
    return load_params(write_demo_params(tmp_path, n_accounts=40, seed=5, name="Side By Side"))


def _state(run_dir, unfinished, failed=()):
    (run_dir / PHASE_STATE).write_text(json.dumps({"unfinished": list(unfinished), "failed": list(failed)}))


def test_wait_for_returns_at_once_without_a_scheduler_and_for_a_finished_phase(tmp_path, params):
    run = Run(tmp_path, params)
    t0 = time.perf_counter()
    run.wait_for("strategy")  # opened by hand: no state file
    _state(tmp_path, ["review"])
    run.wait_for("strategy")  # the strategy is not unfinished
    assert time.perf_counter() - t0 < 1


def test_wait_for_waits_until_the_phase_finishes(tmp_path, params):
    run = Run(tmp_path, params)
    _state(tmp_path, ["strategy", "review"])
    finished_at = {}

    def finish():
        time.sleep(0.6)
        finished_at["t"] = time.perf_counter()
        _state(tmp_path, ["review"])

    threading.Thread(target=finish).start()
    run.wait_for("strategy", poll=0.02)
    assert time.perf_counter() >= finished_at["t"]


def test_wait_for_a_failed_phase_names_it(tmp_path, params):
    run = Run(tmp_path, params)
    run.phase = "review"
    _state(tmp_path, ["review"], failed=["strategy"])
    with pytest.raises(RunError, match="the strategy phase failed in this run, so the review phase cannot read its tables"):
        run.wait_for("strategy")


def _write_many(run_dir: str, params_path: str, names: list[str]) -> None:
    run = Run(run_dir, load_params(params_path))
    for name in names:
        run.write_table(name, pd.DataFrame({"a": [1]}))


def test_two_processes_writing_tables_at_once_keep_every_table_in_the_index(tmp_path, monkeypatch):
    from kam_analysis.data import tables

    params_path = write_demo_params(tmp_path, n_accounts=40, seed=5, name="Side By Side")
    names = [[f"probe_{side}_{i}" for i in range(300)] for side in ("a", "b")]
    for name in names[0] + names[1]:  # undeclared tables are refused: declare the probes for this test
        monkeypatch.setitem(tables.TABLES, name, tables.TableSpec(name, "assessment", "probe", "probe", ("a",)))
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path / "run"), str(params_path), n)) for n in names]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    index = json.loads((tmp_path / "run" / "tables" / "_index.json").read_text())
    assert set(index) == set(names[0] + names[1])  # without the lock, one process's update overwrote the other's


def test_phase_slots_follow_the_setting_the_cores_and_the_size_of_the_data(params, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert phase_slots(params, {"transactions": {"rows_kept": 30_000}}) == 2
    assert phase_slots(params, {"transactions": {"rows_kept": PARALLEL_MAX_LINES + 1}}) == 1
    assert phase_slots(params) == 2  # a demo client's files do not exist before preparation: small
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert phase_slots(params, {"transactions": {"rows_kept": 30_000}}) == 1
    one = params.model_copy(update={"execution": params.execution.model_copy(update={"parallel_phases": 1})})
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert phase_slots(one, {"transactions": {"rows_kept": 30_000}}) == 1


def test_notebook_saves_are_throttled_while_cells_run():
    writes = []
    save = _Throttled(lambda **kw: writes.append(time.monotonic()), every=0.2)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.0:  # a cell boundary every 10 ms for a second: 100 saves asked for
        save()
        time.sleep(0.01)
    assert 3 <= len(writes) <= 6
    assert all(b - a >= 0.2 for a, b in zip(writes, writes[1:]))


def test_phases_side_by_side_leave_the_callers_directory_alone_and_each_kernel_works_in_the_notebooks(
        tmp_path, monkeypatch):
    """Papermill's ``cwd`` changes the whole process's directory while a notebook runs: two phases at
    once restored each other's, and the runner (a JupyterLab session calling it, the relative path the
    next test reads) was left in the notebooks' folder."""
    import os

    import nbformat

    from test_runner import TABLES_CELL, _notebooks
    from kam_analysis.runner import PHASES, run_engagement

    client = write_demo_params(tmp_path, n_accounts=40, seed=5, name="Where Am I")
    nbs = _notebooks(tmp_path / "nb", {ph: TABLES_CELL.format(phase=ph, mark=1) + "\nimport os\nprint('cwd', os.getcwd())"
                                       for ph in PHASES})
    elsewhere = tmp_path / "caller"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for _ in range(2):
        res = run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None)
        assert res.manifest["parallel_phases"] == 2
        assert os.getcwd() == str(elsewhere)
    for spec in PHASES.values():
        nb = nbformat.read(res.run_dir / "notebooks" / spec.notebook, as_version=4)
        out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert f"cwd {nbs.resolve()}" in out, (spec.notebook, out)
