"""Same params and data give the same tables and deliverables; concurrent runs do not interfere.

The deliverable comparison is generic (every file in deliverables/ and figures/, whatever
builds it) and byte for byte: document timestamps come from the run's as-of date, not the
clock, figures are seeded, and the run's id appears only in its manifest. The executed
notebooks name their own run folder (the parameter they ran with) but hold no memory
address and no temporary path.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from kam_analysis.config import load_params
from kam_analysis.data.prepare import prepare_run_data

sys.path.insert(0, str(Path(__file__).parent))
from conftest import REPO, write_demo_params  # noqa: E402


def _tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for sub in ("tables", "data"):
        for p in sorted((run_dir / sub).glob("*.parquet")):
            out[f"{sub}/{p.name}"] = pd.read_parquet(p)
    return out


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = _tables(a), _tables(b)
    assert sorted(ta) == sorted(tb)
    assert ta, "no tables written"
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)
    for p in sorted((a / "tables").glob("*.csv")):
        assert p.read_bytes() == (b / "tables" / p.name).read_bytes(), p.name


def deliverable_differences(a: Path, b: Path) -> list[str]:
    """Files of run ``a``'s deliverables and figures that are not byte-identical to run ``b``'s.

    Nothing is normalised: the run id lives only in the manifest, document timestamps come
    from the run's as-of date and figures are seeded. For a zip-based Office file the
    differing parts are named, to say where a difference comes from.
    """
    diffs = []
    for sub, pattern in (("deliverables", "*"), ("figures", "*.png")):
        da, db = a / sub, b / sub
        files_a = sorted(p.name for p in da.glob(pattern)) if da.exists() else []
        files_b = sorted(p.name for p in db.glob(pattern)) if db.exists() else []
        if files_a != files_b:
            diffs.append(f"{sub}: different files: {files_a} vs {files_b}")
            continue
        for name in files_a:
            pa, pb = da / name, db / name
            if pa.read_bytes() == pb.read_bytes():
                continue
            if zipfile.is_zipfile(pa):
                with zipfile.ZipFile(pa) as za, zipfile.ZipFile(pb) as zb:
                    parts = [i.filename for i in za.infolist()]
                    if parts != [i.filename for i in zb.infolist()]:
                        diffs.append(f"{name}: different parts")
                        continue
                    differing = [part for part in parts if za.read(part) != zb.read(part)]
                    times = [i.filename for i, j in zip(za.infolist(), zb.infolist()) if i.date_time != j.date_time]
                    diffs.append(f"{name}: parts {differing[:5]} differ" + (f", zip times of {times[:3]}" if times else ""))
            else:
                diffs.append(f"{sub}/{name}")
        for name in files_a:  # the run id is only in the manifest
            data = (da / name).read_bytes()
            if zipfile.is_zipfile(da / name):
                with zipfile.ZipFile(da / name) as z:
                    data = b"".join(z.read(n) for n in z.namelist() if not n.endswith((".png", ".jpeg", ".xlsx")))
            if a.name.encode() in data:
                diffs.append(f"{sub}/{name}: holds the run id {a.name}")
    return diffs


_ADDRESS = re.compile(r" at 0x[0-9a-f]{6,}|object at 0x|0x[0-9a-f]{8,}")


def notebook_problems(run_dir: Path) -> list[str]:
    """Memory addresses and temporary paths in the run's executed notebooks."""
    problems = []
    for nb in sorted((run_dir / "notebooks").glob("*.ipynb")):
        text = nb.read_text(encoding="utf-8")
        if ".partial" in text:
            problems.append(f"{nb.name}: names the temporary .partial folder")
        problems += [f"{nb.name}: memory address {m.group(0)!r}" for m in _ADDRESS.finditer(text)][:3]
    return problems


# --------------------------------------------------------------------------- fast: prepare twice
def test_prepare_twice_gives_identical_tables(tmp_path):
    params = load_params(write_demo_params(tmp_path, n_accounts=150, seed=21))
    prepare_run_data(params, tmp_path / "run_a")
    prepare_run_data(params, tmp_path / "run_b")
    assert_same_tables(tmp_path / "run_a", tmp_path / "run_b")
    va = json.loads((tmp_path / "run_a" / "data" / "validation.json").read_text())
    vb = json.loads((tmp_path / "run_b" / "data" / "validation.json").read_text())
    assert va == vb


def test_prepare_does_not_depend_on_thread_count(tmp_path, monkeypatch):
    """DuckDB adds money up in parallel; sums are exact (DECIMAL) so one thread gives the same tables."""
    import duckdb

    from kam_analysis.data import prepare as prep

    params = load_params(write_demo_params(tmp_path, n_accounts=150, seed=22))
    prepare_run_data(params, tmp_path / "many")
    real_connect = prep._connect

    def one_thread(tmp_dir):
        con = real_connect(tmp_dir)
        con.execute("SET threads = 1")
        return con

    monkeypatch.setattr(prep, "_connect", one_thread)
    prepare_run_data(params, tmp_path / "one")
    assert_same_tables(tmp_path / "many", tmp_path / "one")
    assert duckdb  # imported for the monkeypatched connection


def test_clean_transactions_keep_the_files_order_and_nothing_depends_on_it(tmp_path):
    """The clean transactions are written in the client file's order (no sort of 50 million
    lines); every account-level table is the same whatever order the file lists its lines in."""
    import random
    import shutil

    from kam_analysis.data.prepare import ensure_demo_data

    for side in "ab":
        (tmp_path / side).mkdir()
    params_a = load_params(write_demo_params(tmp_path / "a", n_accounts=150, seed=24))
    ensure_demo_data(params_a)
    params_b = load_params(write_demo_params(tmp_path / "b", n_accounts=150, seed=24))
    shutil.copytree(tmp_path / "a" / "data", tmp_path / "b" / "data")
    orders = tmp_path / "b" / "data" / "orders.csv"
    head, *body = orders.read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(7).shuffle(body)
    orders.write_text(head + "".join(body), encoding="utf-8")
    prepare_run_data(params_a, tmp_path / "run_a")
    prepare_run_data(params_b, tmp_path / "run_b")

    ta, tb = _tables(tmp_path / "run_a"), _tables(tmp_path / "run_b")
    assert sorted(ta) == sorted(tb)
    for name in ta:
        if name == "data/transactions.parquet":
            continue
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)
    lines_a, lines_b = ta["data/transactions.parquet"], tb["data/transactions.parquet"]
    key = list(lines_a.columns)
    pd.testing.assert_frame_equal(lines_a.sort_values(key, ignore_index=True),
                                  lines_b.sort_values(key, ignore_index=True), check_exact=True)
    # in the shuffled file's order: orders appear as the file first lists them
    id_col = params_b.data.transactions.columns.get("order_id", "order_id")
    given = pd.read_csv(orders, dtype=str)[id_col].str.strip()
    kept = set(lines_b["order_id"])
    assert list(dict.fromkeys(lines_b["order_id"])) == [o for o in dict.fromkeys(given) if o in kept]
    assert not lines_b["order_date"].is_monotonic_increasing  # not sorted after all


def test_differences_are_detected(tmp_path):
    """The comparison itself can fail: a changed input gives different tables."""
    params = load_params(write_demo_params(tmp_path, n_accounts=150, seed=23))
    prepare_run_data(params, tmp_path / "a")
    params.analysis.churn_days = 30
    prepare_run_data(params, tmp_path / "b")
    with pytest.raises(AssertionError):
        assert_same_tables(tmp_path / "a", tmp_path / "b")


# --------------------------------------------------------------------------- slow: whole runs
def _kam_run(params_path: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "kam_analysis.cli", "run", str(params_path), "--quiet", *extra],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: int = 900) -> Path:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    run_dir = Path(out.strip().splitlines()[-1])
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "success"
    return run_dir


@pytest.mark.slow
def test_two_runs_same_inputs_identical_tables_and_deliverables(tmp_path):
    params_path = write_demo_params(tmp_path, n_accounts=150, seed=31)
    a = _finish(_kam_run(params_path))
    b = _finish(_kam_run(params_path))
    assert a != b
    assert_same_tables(a, b)
    assert deliverable_differences(a, b) == []
    assert notebook_problems(a) == [] and notebook_problems(b) == []


@pytest.mark.slow
def test_two_clients_at_the_same_time(tmp_path):
    """Two `kam run`s for different clients, started together, both succeed and keep to their folders."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pa = write_demo_params(tmp_path / "a", n_accounts=120, seed=41, name="Client Alpha",
                           extra={"output": {"root": str(tmp_path / "outputs")}})
    pb = write_demo_params(tmp_path / "b", n_accounts=130, seed=42, name="Client Beta",
                           extra={"output": {"root": str(tmp_path / "outputs")}})
    procs = [_kam_run(pa), _kam_run(pb)]
    run_a, run_b = (_finish(p) for p in procs)
    assert run_a.parent.name == "client-alpha" and run_b.parent.name == "client-beta"
    assert (run_a.parent / "LATEST").read_text().strip() == run_a.name
    assert (run_b.parent / "LATEST").read_text().strip() == run_b.name
    sa = pd.read_parquet(run_a / "tables" / "account_summary.parquet")
    sb = pd.read_parquet(run_b / "tables" / "account_summary.parquet")
    assert (len(sa), len(sb)) == (120, 130)
    # each equals a run of the same client on its own
    solo = _finish(_kam_run(pa, "--no-deliverables"))
    assert_same_tables(run_a, solo)
    leftovers = [p.name for p in (tmp_path / "outputs").glob("*/.*partial")]
    assert leftovers == []
