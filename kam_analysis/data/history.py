"""The run history of a client: every run folder under ``outputs/<client>/``, read from its manifest.

Each run keeps its own ``manifest.json`` (written by the runner): when it started, its
parameters (so its as-of date), the SHA-256 of every input file, its status and, for a
failed run, why. The manifests are the source of truth; :func:`list_runs` reads them all,
oldest first, and :func:`write_history_index` keeps a machine-readable copy in
``outputs/<client>/history.json`` (rewritten atomically at the end of every run; a
program may read it, but it is rebuilt from the manifests whenever it is written).

Statuses (:data:`STATUSES`):

* ``success`` — every phase ran (or was reused) and the deliverables were built;
* ``partial`` — the run finished without everything: the notebooks ran but the deliverables
  were not built (``kam run --no-deliverables``), or the run is still in progress (a
  ``.<run-id>.partial`` folder whose process is alive);
* ``failed`` — a ``<run-id>-failed`` folder (a cell error, a timeout, a stop, a full disk, a
  killed run), or a folder whose manifest cannot be read.

The KPI values of a run are read from that run's own ``tables/kpi_headline.parquet``, never
recomputed: a KPI's definition may have changed since, which the run's recorded package
version (``package_version``) shows.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["HISTORY_FILE", "STATUSES", "RunRecord", "client_dir", "list_runs", "read_run_table",
           "write_history_index"]

#: the machine-readable index of a client's runs, in its client folder
HISTORY_FILE = "history.json"

#: what a run's status can be in the history (see the module docstring)
STATUSES = ("success", "partial", "failed")

#: input names of the client's own data, listed first in the history
_DATA_INPUTS = ("transactions", "accounts", "surveys", "capability")


@dataclass
class RunRecord:
    """One run of a client, as its manifest records it.

    Attributes
    ----------
    run_id : str
        The run's id (``<UTC start>-<random>``; the folder name without ``-failed``).
    folder : str
        The run folder's path.
    status : str
        One of :data:`STATUSES`.
    started_at, finished_at : str or None
        ISO timestamps (UTC).
    as_of_date : str or None
        The analysis date of the run (``analysis.as_of_date``), ISO.
    client : str or None
        The client name the run was made for.
    currency : str or None
        The client's currency in that run.
    package_version : str or None
        The kam-analysis version that made the run (its KPI definitions).
    inputs : list of dict
        ``{"name", "file", "sha256"}`` of every input file (client data first).
    plan_run : str or None
        The run id whose plan this run reviewed, as the run resolved ``review.plan_run`` (its
        ``plan_summary`` table); None when it was not a follow-up review.
    phases_reused : dict
        Phase -> run id it was reused from (``kam run --phase``).
    note : str
        Why a run failed or is partial, in one line; empty for a success.
    """

    run_id: str
    folder: str
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    as_of_date: str | None = None
    client: str | None = None
    currency: str | None = None
    package_version: str | None = None
    inputs: list[dict] = field(default_factory=list)
    plan_run: str | None = None
    phases_reused: dict = field(default_factory=dict)
    note: str = ""

    @property
    def path(self) -> Path:
        return Path(self.folder)

    @property
    def ok(self) -> bool:
        """A run whose tables a later run may take figures from (every phase ran)."""
        return self.status == "success" or (self.status == "partial" and self.finished_at is not None)

    def to_dict(self) -> dict:
        return asdict(self)


def client_dir(params) -> Path:
    """The client's folder of runs, ``<output.root>/<client-slug>``."""
    return Path(params.output.root) / params.slug


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _inputs(manifest: dict) -> list[dict]:
    rows = [{"name": i.get("table"), "file": Path(str(i.get("path") or "")).name or None, "sha256": i.get("sha256")}
            for i in manifest.get("inputs") or [] if isinstance(i, dict)]
    order = {n: k for k, n in enumerate(_DATA_INPUTS)}
    return sorted(rows, key=lambda r: order.get(r["name"], len(order)))


def _alive(owner: dict) -> bool:
    import os
    import socket

    try:
        if owner.get("host") != socket.gethostname():
            return True  # another machine's run: assume it is still going
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError):
        return True
    return True


def _record(folder: Path) -> RunRecord:
    """The history record of one run folder (finished, failed or in progress)."""
    in_progress = folder.name.startswith(".") and folder.name.endswith(".partial")
    run_id = folder.name[1:].removesuffix(".partial") if in_progress else folder.name.removesuffix("-failed")
    manifest = _read_json(folder / "manifest.json") or {}
    params = manifest.get("params") or _read_json(folder / "params.json") or {}
    analysis, client = params.get("analysis") or {}, params.get("client") or {}
    rec = RunRecord(run_id=str(manifest.get("run_id") or run_id), folder=str(folder),
                    status="failed", started_at=manifest.get("started_at"), finished_at=manifest.get("finished_at"),
                    as_of_date=str(analysis["as_of_date"])[:10] if analysis.get("as_of_date") else None,
                    client=manifest.get("client") or client.get("name"), currency=client.get("currency"),
                    package_version=(manifest.get("packages") or {}).get("kam-analysis"),
                    inputs=_inputs(manifest), phases_reused={k: v for k, v in
                                                             (manifest.get("phases_reused") or {}).items() if v})
    rec.plan_run = _plan_run(folder, manifest, params)
    if in_progress:
        owner = _read_json(folder / ".owner.json") or {}
        alive = _alive(owner) if owner else True
        rec.status = "partial" if alive else "failed"
        rec.note = ("in progress" + (f" ({owner['stage']})" if owner.get("stage") else "") if alive else
                    "killed before it finished (the next run of this client keeps it as a failed run)")
        rec.started_at = rec.started_at or _started_from_id(run_id)
        return rec
    if not manifest:
        rec.note = "no readable manifest.json in the run folder"
        rec.started_at = _started_from_id(run_id)
        return rec
    status = manifest.get("status")
    if status == "success" and not folder.name.endswith("-failed"):
        if manifest.get("deliverables"):
            rec.status = "success"
        else:
            rec.status = "partial"
            rec.note = "the phases ran; the client deliverables were not built"
    else:
        failure = manifest.get("failure") or {}
        msg = failure.get("message") or manifest.get("error") or "failed (no reason recorded)"
        where = failure.get("phase")
        rec.note = (f"{where}: " if where and not str(msg).startswith(str(where)) else "") + str(msg).splitlines()[0]
    return rec


def _plan_run(folder: Path, manifest: dict, params: dict) -> str | None:
    """The run id whose plan this run reviewed: as the run resolved it (its ``plan_summary``),
    else as ``review.plan_run`` named it (``latest (not resolved)`` when the run stopped first)."""
    spec = (params.get("review") or {}).get("plan_run")
    if not spec:
        return None
    summary = read_run_table(folder, "plan_summary")
    if summary is not None and {"metric", "text"} <= set(summary.columns):
        named = summary.loc[summary["metric"] == "plan_run", "text"]
        if len(named) and str(named.iloc[0]).strip():
            return str(named.iloc[0]).strip()
    if spec == "latest":
        return "latest (not resolved)"
    return Path(str(spec)).name


def _started_from_id(run_id: str) -> str | None:
    try:
        return pd.Timestamp(run_id.split("-")[0]).isoformat()
    except (ValueError, TypeError):
        return None


def _is_run_folder(p: Path) -> bool:
    if not p.is_dir():
        return False
    if p.name.startswith("."):
        return p.name.endswith(".partial")
    return (p / "manifest.json").exists() or p.name.endswith("-failed")


def list_runs(folder: str | Path) -> list[RunRecord]:
    """Every run of the client whose runs are in ``folder`` (``outputs/<client>``), oldest first.

    Successful, partial and failed runs are all listed; the interactive scratch run of the
    notebooks (``interactive/``) is not a run.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    records = [_record(p) for p in folder.iterdir() if p.name != "interactive" and _is_run_folder(p)]
    records.sort(key=lambda r: (r.started_at or "", r.run_id))
    return records


def read_run_table(rec: RunRecord | str | Path, name: str) -> pd.DataFrame | None:
    """Table ``name`` as that run stored it (``tables/<name>.parquet``), or None when it has none."""
    folder = rec.path if isinstance(rec, RunRecord) else Path(rec)
    path = folder / "tables" / f"{name}.parquet"
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except Exception:  # noqa: BLE001 - a table cut short (a full disk in that run): as if absent
        return None


def write_history_index(folder: str | Path) -> Path | None:
    """Rewrite ``<folder>/history.json`` from the manifests (atomically); None when it cannot be written."""
    from .runfolder import _atomic_write_bytes

    folder = Path(folder)
    runs = list_runs(folder)
    doc = {"note": "rebuilt from each run's manifest.json at the end of every run; the manifests are the "
                   "source of truth", "runs": [r.to_dict() for r in runs]}
    for r in doc["runs"]:
        r["folder"] = Path(r["folder"]).name
    try:
        _atomic_write_bytes(folder / HISTORY_FILE, json.dumps(doc, indent=2, default=str).encode("utf-8"))
    except OSError:  # a full disk: the manifests still hold the history
        return None
    return folder / HISTORY_FILE
