"""Deliverables built as soon as their phases finish (kam_analysis/deliverables, READS).

A deliverable listed in READS is built while the later phases still run, so it must need
no table or figure of those phases: built on a copy of a finished run that holds only the
tables and figures of its phases (and the prepare step's), it comes out cell for cell the
same as the run's own."""
from __future__ import annotations

import json
import shutil

import pytest

from kam_analysis.config import load_params
from kam_analysis.data.tables import PHASES, TABLES
from kam_analysis.deliverables import BUILDERS, READS, build_one


def _cells(path):
    import openpyxl

    wb = openpyxl.load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}


def test_every_listed_phase_exists_and_every_listed_deliverable_is_registered():
    for name, phases in READS.items():
        assert name in BUILDERS
        assert phases and set(phases) <= set(PHASES)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(READS))
def test_a_deliverable_needs_only_the_phases_it_lists(name, language_co_run, tmp_path):
    res = language_co_run
    run = tmp_path / "run"
    shutil.copytree(res.run_dir, run)
    later = set(PHASES) - set(READS[name])
    removed = 0
    for path in (run / "tables").glob("*.*"):
        spec = TABLES.get(path.stem)
        if spec is not None and spec.phase in later:
            path.unlink()
            removed += 1
    for rec in res.manifest["phases"]:
        if rec["phase"] in later:
            for fig in rec["figures"]:
                (run / "figures" / fig).unlink(missing_ok=True)
    assert removed > 0  # the later phases' tables are gone
    (run / "deliverables").rename(run / "built-by-the-run")
    (run / "deliverables").mkdir()
    rec = build_one(run, load_params(res.manifest["params_file"], res.manifest["overrides"]), name, BUILDERS[name])
    assert rec["status"] == "success", rec.get("error")
    ours, theirs = run / rec["path"], run / "built-by-the-run" / rec["path"].split("/", 1)[1]
    assert ours.suffix == ".xlsx" and _cells(ours) == _cells(theirs)
    assert json.loads(json.dumps(rec["paths"]))  # the record the runner stores
