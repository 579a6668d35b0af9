"""Client deliverables built from a run folder's tables.

Each deliverable is a function ``build(run) -> Path`` registered in :data:`BUILDERS`.
The runner calls :func:`build_deliverables` after the notebooks; every number a
deliverable shows comes from the run's tables, so they cannot disagree.
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Callable

from ..present.theme import theme_for, use_theme

__all__ = ["BUILDERS", "build_deliverables"]

# name -> "module:function"; each function takes a Run and returns the written path,
# or None when the run has nothing for it.
BUILDERS: dict[str, str] = {
    "segmentation_workbook": ".workbook:build_segmentation_workbook",
    "kpi_dashboard": ".kpi_dashboard:build_kpi_dashboard",
    "html_dashboard": ".html_dashboard:build_html_dashboard",
    "deck": ".deck:build_deck",
}


def build_deliverables(run_dir: str | Path, params, *, only: list[str] | None = None,
                       progress: Callable[[str], None] | None = None) -> list[dict]:
    """Build every registered deliverable; return one record per deliverable."""
    from ..data.runfolder import Run

    run = Run(run_dir, params)
    say = progress or (lambda _m: None)
    records = []
    for name, target in BUILDERS.items():
        if only and name not in only:
            continue
        mod_name, func_name = target.split(":")
        t0 = time.perf_counter()
        rec = {"name": name}
        try:
            try:
                module = importlib.import_module(mod_name, __name__)
            except ModuleNotFoundError as exc:
                if exc.name != __name__ + mod_name:
                    raise
                rec.update(status="unavailable", path=None)  # not built in this version
                records.append(rec)
                continue
            with use_theme(theme_for(params)):  # the client's colours in every deliverable
                path = getattr(module, func_name)(run)
            rec.update(status="success", path=str(Path(path).relative_to(run.dir)) if path else None)
        except Exception as exc:  # noqa: BLE001 - reported by the runner, which fails the run
            rec.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        rec["seconds"] = round(time.perf_counter() - t0, 3)
        say(f"  deliverable {name:<22} {rec['status']} ({rec['seconds']:.1f} s)")
        records.append(rec)
    return records
