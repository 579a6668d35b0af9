"""Faults end a run cleanly: disk full, SIGTERM, Ctrl-C, a dead kernel, a data error.

Each ends as ``<run-id>-failed/`` with a manifest naming the phase and the cause (or, for
a data error, no folder at all), never a ``.partial`` folder, an empty client folder or a
temporary DuckDB folder, and the ``kam`` command exits with its documented status
without a traceback. The disk-full tests inject ``OSError(ENOSPC)``; the signal tests
send SIGTERM and SIGINT to a real ``kam run`` subprocess.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from conftest import write_demo_params
from test_runner import _notebooks
from kam_analysis import execution, faults, runner
from kam_analysis.cli import main
from kam_analysis.data import runfolder
from kam_analysis.exceptions import RunError

KAM = Path(sys.executable).with_name("kam")


@pytest.fixture()
def client(tmp_path):
    return write_demo_params(tmp_path, n_accounts=60, seed=3, name="Fault Test")


def _client_dir(params: Path) -> Path:
    return params.parent / "outputs" / "fault-test"


def _only_failed_run(params: Path) -> tuple[Path, dict]:
    runs = list(_client_dir(params).iterdir())
    assert not [p for p in runs if p.name.endswith(".partial")], runs
    failed = [p for p in runs if p.name.endswith("-failed")]
    assert len(failed) == 1, runs
    return failed[0], json.loads((failed[0] / "manifest.json").read_text())


# --------------------------------------------------------------------------- disk full
def test_disk_full_while_preparing_data_keeps_a_small_failed_run(client, tmp_path, monkeypatch, capsys):
    """The disk is full while the run's data folder exists: the write of a table fails."""
    real = runfolder._atomic_write_bytes

    def full_disk(path: Path, data: bytes) -> None:
        run = next((p for p in path.parents if p.name.endswith(".partial")), None)
        if run is not None and (run / "data").exists():
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(runfolder, "_atomic_write_bytes", full_disk)
    code = main(["run", str(client), "--no-deliverables", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and "disk is full" in err and "free disk space" in err
    failed, m = _only_failed_run(client)
    assert m["status"] == "failed"
    assert m["failure"]["phase"] == "prepare" and m["failure"]["cause"] == "disk_full"
    assert "data" in m["removed_to_free_space"] and not (failed / "data").exists()
    assert not list(failed.rglob(".*"))  # no temporary file of a cut-short write
    assert not (_client_dir(client) / "LATEST").exists()


def test_disk_full_in_a_notebook_names_the_phase(client, tmp_path):
    nbs = _notebooks(tmp_path / "nb", {"segmentation": "raise OSError(28, 'No space left on device')"})
    with pytest.raises(RunError, match=r"02_segmentation\.ipynb failed at cell 4.*No space left on device"
                                       r"(.|\n)*disk is full(.|\n)*free disk space"):
        runner.run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None)
    failed, m = _only_failed_run(client)
    assert m["failure"]["phase"] == "segmentation" and m["failure"]["cause"] == "disk_full"
    assert m["failure"]["notebook"] == "02_segmentation.ipynb" and m["failure"]["cell_number"] == 4
    assert not (failed / "tables").exists() and (failed / "notebooks" / "02_segmentation.ipynb").exists()


def test_disk_too_full_for_a_manifest_leaves_no_run_folder(client, tmp_path, monkeypatch, capsys):
    def no_space(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(faults, "write_manifest", no_space)
    code = main(["run", str(client), "--no-deliverables", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "could not be kept" in err
    assert not _client_dir(client).exists()  # no partial run, and no empty client folder


# --------------------------------------------------------------------------- other faults
def test_dead_kernel_is_recorded_as_the_cause(client, tmp_path):
    nbs = _notebooks(tmp_path / "nb", {"strategy": "import os\nos._exit(1)"})
    with pytest.raises(RunError, match="the kernel died"):
        runner.run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None)
    failed, m = _only_failed_run(client)
    assert m["failure"]["phase"] == "strategy" and m["failure"]["cause"] == "kernel_died"
    # the review started beside the strategy and stopped where it waits for it, naming it
    assert [p["status"] for p in m["phases"]] == ["success", "success", "failed", "failed"]
    assert "the strategy phase failed in this run" in m["phases"][3]["error"]


def test_data_error_leaves_no_client_folder(client, capsys):
    assert main(["validate", str(client)]) == 0
    orders = client.parent / "data" / "orders.csv"
    orders.write_text(orders.read_text().replace("Customer ID", "Cust", 1))
    assert main(["run", str(client), "-q"]) == 2
    assert not _client_dir(client).exists()
    assert (client.parent / "outputs").exists() is False or not any((client.parent / "outputs").iterdir())


def test_validate_leaves_no_temporary_duckdb_folder(client, capsys):
    spill = Path(tempfile.gettempdir()) / f"kam-duckdb-{os.getpid()}"
    if spill.exists():
        spill.rmdir()
    assert main(["validate", str(client)]) == 0
    assert not spill.exists()


# --------------------------------------------------------------------------- signals, on a real kam run
def _stop_real_run(params: Path, sig: int) -> tuple[subprocess.CompletedProcess, Path, dict]:
    proc = subprocess.Popen([str(KAM), "run", str(params)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=params.parent)
    seen = []
    deadline = time.monotonic() + 300
    for line in proc.stdout:  # wait until the first notebook is running
        seen.append(line)
        if "[1/4] assessment" in line:
            break
        assert time.monotonic() < deadline, seen
    time.sleep(4)  # the kernel is starting or running a cell
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, "".join(seen) + out, err)
    failed, m = _only_failed_run(params)
    return done, failed, m


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, cause, said", [
    (signal.SIGTERM, 143, "terminated", "stopped by SIGTERM"),
    (signal.SIGINT, 130, "interrupted", "interrupted (Ctrl-C)"),
])
def test_signal_stops_a_real_run_into_a_failed_folder(tmp_path, sig, code, cause, said):
    params = write_demo_params(tmp_path, n_accounts=60, seed=3, name="Fault Test")
    done, failed, m = _stop_real_run(params, sig)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert said in done.stderr and str(failed) in done.stderr
    assert m["status"] == "failed"
    assert m["failure"]["phase"] == "assessment" and m["failure"]["cause"] == cause
    # the interrupted phases are recorded: the assessment, and the segmentation that runs beside it
    assert [p["phase"] for p in m["phases"]] in (["assessment"], ["assessment", "segmentation"])
    assert {p["status"] for p in m["phases"]} == {"failed"}
    nb_path = failed / "notebooks" / "01_assessment.ipynb"
    if nb_path.exists():  # saved once the kernel had started: it must not look completed
        nb = nbformat.read(nb_path, as_version=4)
        assert nb.metadata["kam"]["status"] == "failed"
        assert any(c.metadata.get("papermill", {}).get("status") in ("pending", "failed") for c in nb.cells)
    assert not (_client_dir(params) / "LATEST").exists()


# --------------------------------------------------------------------------- killed outright
def test_a_killed_runs_partial_folder_is_kept_as_failed_by_the_next_run(client, tmp_path):
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs = _client_dir(client)
    killed, running = runs / ".20260101T000000Z-aaaaaa.partial", runs / ".20260101T000000Z-bbbbbb.partial"
    for work, pid in ((killed, dead.pid), (running, os.getpid())):
        (work / "tables").mkdir(parents=True)
        (work / "tables" / "x.parquet").write_bytes(b"partial")
        (work / faults.OWNER_FILE).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                          "stage": "segmentation", "client": "Fault Test"}))
    lines = []
    res = runner.run_engagement(client, notebooks_dir=_notebooks(tmp_path / "nb"), deliverables=False,
                                progress=lines.append)
    assert res.ok
    recovered = runs / "20260101T000000Z-aaaaaa-failed"
    m = json.loads((recovered / "manifest.json").read_text())
    assert m["status"] == "failed" and m["failure"] == {
        "phase": "segmentation", "cause": "killed", "message": m["error"]}
    assert "killed during segmentation" in m["error"] and [f["path"] for f in m["files"]] == ["tables/x.parquet"]
    assert not killed.exists() and not (recovered / faults.OWNER_FILE).exists()
    assert running.exists()  # its process is alive: another run in progress is never touched
    assert any("was killed before it could finish" in line for line in lines)
    assert not (res.run_dir / faults.OWNER_FILE).exists()


# --------------------------------------------------------------------------- a signal while the phase is starting
def test_a_signal_while_the_phase_waits_for_its_kernel_stops_the_kernel_it_then_starts(tmp_path):
    """The signal comes while the phase is still waiting for its kernel (started ahead). On
    Python 3.11 a ``Thread.join`` cut short by the signal's exception marks the running worker
    thread as stopped; the runner then renamed the run folder while the kernel it went on to
    start kept writing into the old path (a leftover ``.partial`` folder in CI). The runner
    must stop that kernel, and return only once the notebook has stopped."""
    import threading

    marker = tmp_path / "written-after-the-stop"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import time\ntime.sleep(4)\nopen({str(marker)!r}, 'w').write('late')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb_in = tmp_path / "slow.ipynb"
    nbformat.write(nb, nb_in)

    class SlowToWarm:  # a kernel started ahead that is still importing when the signal comes
        def __init__(self):
            self.closed = threading.Event()

        def take(self):
            time.sleep(1.0)
            return None  # the phase then starts its own kernel (what a failed warm-up does)

        def shutdown(self):
            self.closed.set()

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt()

    old = signal.signal(signal.SIGUSR1, interrupt)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt) as stopped:
            execution.execute(nb_in, tmp_path / "out.ipynb", {}, kernel="python3", timeout=60, warm=SlowToWarm())
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, old)
    assert stopped.value.kam_phase_record["status"] == "failed"
    time.sleep(6)  # long enough for a kernel left running to finish its cell
    assert not marker.exists(), "the kernel went on running after the runner had stopped the phase"
