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

__all__ = ["BUILDERS", "build_deliverables", "preload_builders"]

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
    """Build every registered deliverable; return one record per deliverable.

    A deliverable that raises is recorded as ``failed`` with its error (the runner then
    fails the run); the others are still built, so one run reports every failure.
    """
    from ..data.runfolder import Run

    say = progress or (lambda _m: None)
    records = []
    for name, target in BUILDERS.items():
        if only and name not in only:
            continue
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
        say(f"  deliverable {name:<22} {rec['status']} ({rec['seconds']:.1f} s)")
        records.append(rec)
    return records
