"""Client deliverables built from a run folder's tables.

Each deliverable is a function ``build(run) -> Path`` registered in :data:`BUILDERS`.
The runner calls :func:`build_deliverables` after the notebooks; every number a
deliverable shows comes from the run's tables, so they cannot disagree.

A deliverable reads a table with ``run.read_table(name, columns=[...])``: a table or a
column that is not there raises a RunError naming the deliverable, the table, the column
and the phase, which fails the run (a deliverable never turns it into a slide or a
sheet). A table its phase writes only on a condition is read with ``missing_ok=True``
(None when absent); an optional column is checked with ``"col" in df``.
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Callable

from ..present.theme import theme_for, use_theme

__all__ = ["BUILDERS", "READS", "Builds", "build_deliverables", "build_one", "preload_builders"]

# name -> "module:function"; each function takes a Run and returns the written path, or a list of
# paths when it writes several files (the main one first); a table it needs that is missing
# raises the run's RunError, which fails the run.
BUILDERS: dict[str, str] = {
    "segmentation_workbook": ".workbook:build_segmentation_workbook",
    "kpi_dashboard": ".kpi_dashboard:build_kpi_dashboard",
    "html_dashboard": ".html_dashboard:build_html_dashboard",
    "deck": ".deck:build_deck",
    "crm_exports": ".exports:build_crm_exports",
}


def preload_builders() -> None:
    """Import every builder's module in a background thread and return at once.

    The runner calls it while the last phase's notebook runs (its own process is idle
    then), so the deliverables start with openpyxl, python-pptx and jinja2 loaded (about
    1 s of CPU on the demo). A module that fails to import is left for
    :func:`build_deliverables` to report.
    """
    import threading

    def load() -> None:
        for target in BUILDERS.values():
            try:
                importlib.import_module(target.split(":")[0], __name__)
            except Exception:  # noqa: BLE001 - reported when the deliverable is built
                pass

    threading.Thread(target=load, name="preload-deliverables", daemon=True).start()


def build_deliverables(run_dir: str | Path, params, *, only: list[str] | None = None,
                       progress: Callable[[str], None] | None = None) -> list[dict]:
    """Build every registered deliverable, one after the other; return one record per deliverable.

    A deliverable that raises is recorded as ``failed`` with its error (the runner then
    fails the run); the others are still built, so one run reports every failure.
    """
    say = progress or (lambda _m: None)
    records = []
    for name, target in BUILDERS.items():
        if only and name not in only:
            continue
        rec = build_one(run_dir, params, name, target)
        say(_line(rec))
        records.append(rec)
    return records


def _line(rec: dict) -> str:
    return f"  deliverable {rec['name']:<22} {rec['status']} ({rec['seconds']:.1f} s)"


def build_one(run_dir: str | Path, params, name: str, target: str) -> dict:
    """Build deliverable ``name`` (``target``: its ``module:function``); its record. Never raises."""
    from ..data.runfolder import Run

    mod_name, func_name = target.split(":")
    t0 = time.perf_counter()
    rec = {"name": name}
    run = Run(run_dir, params, reader=f"deliverable {name}")
    try:
        module = importlib.import_module(mod_name, __name__)
        with use_theme(theme_for(params)):  # the client's colours in every deliverable
            path = getattr(module, func_name)(run)
        paths = [str(Path(p).relative_to(run.dir)) for p in (path if isinstance(path, list) else [path]) if p]
        # ``path``: the main file; ``paths``: every file the deliverable wrote (the manifest lists them all)
        rec.update(status="success", path=paths[0] if paths else None, paths=paths)
    except Exception as exc:  # noqa: BLE001 - reported by the runner, which fails the run
        rec.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    return rec


def build_in_fork(run_dir: str, params_path: str, overrides: list[str], name: str, target: str) -> dict:
    """:func:`build_one` in a process forked from the run's server (kam_analysis/kernelfork.py):
    the parameters are read again, as each phase notebook reads them."""
    from ..config import load_params

    return build_one(run_dir, load_params(params_path, overrides), name, target)


#: the phases whose tables a deliverable reads, besides the prepare step's; it is built as soon
#: as they have finished (while the phases after them still run). A deliverable not listed reads
#: every phase. tests/test_deliverable_schedule.py builds each listed one on a run folder that
#: holds only those phases' tables.
READS: dict[str, tuple[str, ...]] = {
    "segmentation_workbook": ("segmentation", "strategy"),
}


#: started before the others when several are ready (each about 2 s on the demo, the rest 1 s together)
_LONGEST = ("deck", "segmentation_workbook")


class Builds:
    """The run's deliverables, each built as soon as the phases it reads have finished.

    With the run's fork server (``server``) each deliverable is built in a process of its
    own, as many at a time as there are free slots, so the segmentation workbook is written
    while the review phase runs and the deck beside the dashboards; without one they are
    built here, one after the other, when :meth:`finish` is called. ``run``: the
    runner's view (run folder, parameters file and overrides, the ``Params``).
    """

    def __init__(self, run_dir: Path, params, *, params_path: str, overrides: list[str], server=None,
                 progress: Callable[[str], None] | None = None):
        self.run_dir, self.params, self.server = Path(run_dir), params, server
        self.args = (str(run_dir), str(Path(params_path).resolve()), list(overrides))
        self.say = progress or (lambda _m: None)
        # the longest builds start first (the deck takes as long as the three others together)
        self.pending = sorted(BUILDERS, key=lambda n: n not in _LONGEST)
        self.running: dict[str, object] = {}
        self.records: dict[str, dict] = {}

    def poll(self, done: Callable[[str], bool], free: int) -> None:
        """Collect what has been built; start (in a fork) what is ready while fewer than ``free``
        builds run. ``done(phase)``: whether a phase's tables are all written."""
        for name, proc in list(self.running.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.running[name]
            msg = proc.message or {}
            rec = msg.get("result") or {
                "name": name, "status": "failed", "seconds": 0.0,
                "error": msg.get("error") or f"the process building it ended without a result (exit status {code})"}
            self.records[name] = rec
            self.say(_line(rec))
        if self.server is None:
            return
        for name in list(self.pending):
            if len(self.running) >= free:
                break
            if all(done(ph) for ph in READS.get(name, _all_phases())):
                proc = self.server.call(f"{__name__}:build_in_fork", *self.args, name, BUILDERS[name])
                if proc is None:  # the server is gone: the rest are built here at the end
                    self.server = None
                    return
                self.pending.remove(name)
                self.running[name] = proc

    def finish(self, slots: int) -> list[dict]:
        """Build what is left (every phase has finished) and wait for all; the records, in order."""
        while self.pending or self.running:
            self.poll(lambda _ph: True, max(1, slots))
            if self.server is None and self.pending and not self.running:
                name = self.pending.pop(0)
                rec = self.records[name] = build_one(self.run_dir, self.params, name, BUILDERS[name])
                self.say(_line(rec))
            elif self.running:
                time.sleep(0.02)
        return [self.records[n] for n in BUILDERS if n in self.records]

    def stop(self) -> None:
        """Kill the builds still running (the run is stopping or failed). Never raises."""
        for proc in self.running.values():
            try:
                proc.kill()
                proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.running.clear()


def _all_phases() -> tuple[str, ...]:
    from ..data.tables import PHASES

    return tuple(PHASES)
