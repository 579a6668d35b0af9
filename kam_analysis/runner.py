"""Run an engagement: validate, execute the phase notebooks with Papermill, build deliverables.

One run writes one folder, atomically:

* work happens in ``outputs/<slug>/.<run-id>.partial/``;
* on success it is renamed to ``outputs/<slug>/<run-id>/`` and ``outputs/<slug>/LATEST``
  is updated to name it;
* on any failure (an exception in a cell, a cell timeout, a dead kernel, a deliverable
  that fails, a full disk, Ctrl-C or SIGTERM) it is renamed to ``<run-id>-failed/`` with
  the failed notebook kept for debugging and ``manifest.json`` marked failed, naming the
  phase and the cause (:mod:`kam_analysis.faults`); ``LATEST`` and every earlier run are
  untouched;
* a data or parameter error stops the run before anything is kept: no run folder, and
  no client folder if this run would have been the client's first.

Papermill turns a cell exception into ``PapermillExecutionError`` but lets nbclient's
``CellTimeoutError`` and ``DeadKernelError`` through, and the notebook it saved after a
timeout looks successful; the runner records those failures itself (in the manifest and
in the notebook's metadata).

Each phase's kernel is started, and imports what its notebook imports, while the phase
before runs (:mod:`kam_analysis.warmkernel`); a kernel started ahead is stopped on every
path, and the phase record says whether the phase ran on one (``kernel_started_ahead``).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from .config import REPO_ROOT, Params, load_params
from .data.runfolder import PHASE_STATE, Run, _atomic_write_bytes
from .data.tables import PHASES, TABLES, downstream
from . import faults
from .execution import KERNEL_ARGS, PhaseExecution, execute
from .exceptions import KAMError, RunError, RunStopped

__all__ = ["PHASES", "RunResult", "run_engagement", "latest_run", "plan_phases", "NOTEBOOKS_DIR"]

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
_PACKAGES = ["kam-analysis", "pandas", "numpy", "scipy", "statsmodels", "scikit-learn", "duckdb", "pyarrow",
             "pydantic", "papermill", "nbclient", "ipykernel", "matplotlib", "seaborn", "python-pptx",
             "openpyxl", "jinja2"]


@dataclass
class RunResult:
    """What :func:`run_engagement` did."""

    run_dir: Path
    status: str
    manifest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "success"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def latest_run(params: Params) -> Path | None:
    """The last successful run folder of this client, or None."""
    marker = Path(params.output.root) / params.slug / "LATEST"
    if not marker.exists():
        return None
    run = marker.parent / marker.read_text().strip()
    return run if (run / "manifest.json").exists() else None


#: the client folder's record of whose it is: ``{"name", "slug", "params_file", "inputs", "last_run"}``
CLIENT_FILE = "client.json"


def _folder_owner(client_dir: Path) -> str | None:
    """The client name a client folder belongs to (its client.json, else its runs' manifests)."""
    record = client_dir / CLIENT_FILE
    if record.is_file():
        try:
            return json.loads(record.read_text(encoding="utf-8"))["name"]
        except (ValueError, KeyError, OSError):
            pass
    for manifest in sorted(client_dir.glob("*/manifest.json"), reverse=True):  # runs made before client.json
        try:
            return json.loads(manifest.read_text(encoding="utf-8"))["client"]
        except (ValueError, KeyError, OSError):
            continue
    return None


def check_client_identity(params: Params) -> None:
    """Refuse to run a client into another client's folder.

    Two client names can give the same folder name (``"Acme Retail"`` and ``"ACME-retail"``
    are both ``acme-retail``); the folder's ``client.json`` names the client it belongs to,
    and a run of any other name stops before anything is written, so neither client's
    ``--phase`` can reuse the other's tables.

    Raises
    ------
    ParameterError
        The folder belongs to a client of another name; the message names both and the fix.
    """
    from .exceptions import ParameterError

    client_dir = _client_dir(params)
    owner = _folder_owner(client_dir) if client_dir.is_dir() else None
    if owner is not None and owner != params.client.name:
        raise ParameterError(
            f"client.name {params.client.name!r} gives the output folder {client_dir}, which belongs to another "
            f"client, {owner!r} (see {client_dir / CLIENT_FILE}); two clients never share a folder, so --phase "
            f"cannot reuse the other client's results. Fix: if this is {owner!r}, write client.name exactly so; "
            f"otherwise give this client a name that makes another folder name, or another output.root")


def _record_client_identity(client_dir: Path, params: Params, manifest: dict) -> None:
    """Write the client folder's ``client.json``: the client's name and its last run's input hashes."""
    from .data.runfolder import _atomic_write_bytes

    record = {"name": params.client.name, "slug": params.slug, "params_file": manifest.get("params_file"),
              "last_run": Path(manifest["run_dir"]).name,
              "inputs": {i["table"]: i["sha256"] for i in manifest.get("inputs", [])}}
    try:
        _atomic_write_bytes(client_dir / CLIENT_FILE, json.dumps(record, indent=2).encode("utf-8"))
    except OSError:  # a full disk: the runs' manifests still name the client
        pass


def _client_dir(params: Params) -> Path:
    root = Path(params.output.root).resolve()
    d = (root / params.slug).resolve()
    if root not in d.parents:  # client_slug() cannot produce this; belt and braces
        raise RunError(f"run folder {d} would be outside the output root {root}")
    return d


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _config_inputs(params: Params) -> dict[str, Path]:
    """Files besides the client data that shape the results (hashed in the manifest)."""
    from .config import TEMPLATES_DIR

    seg = params.segmentation
    candidates = {
        "benchmarks": params.benchmarks.file,
        "playbooks": params.strategy.playbooks,
        "rfm_segments": seg.rfm.segments_file or TEMPLATES_DIR / "rfm_segments.yaml",
        "segment_overrides": seg.overrides_file,
        "deck_template": params.branding.template,
        "logo": params.branding.logo,
    }
    return {k: Path(v) for k, v in candidates.items() if v is not None and Path(v).is_file()}


def _command(params_path: str | Path, phases: list[str], overrides: list[str]) -> str:
    """The ``kam run`` command line that runs ``phases`` (all of them when empty)."""
    import shlex

    parts = ["kam", "run", str(params_path)]
    for ph in phases:
        parts += ["--phase", ph]
    for o in overrides:
        parts += ["--set", o]
    return " ".join(shlex.quote(x) for x in parts)


def plan_phases(requested: list[str] | None, *, only: bool = False, params_path: str | Path = "PARAMS",
                overrides: list[str] | None = None) -> list[str]:
    """The phases a run executes: every phase when none is requested, else the requested
    phases and every phase that depends on them, in run order.

    Raises
    ------
    RunError
        An unknown phase; or ``only`` and a later phase depends on a requested one (the
        message names the phases and the command that runs them too).
    """
    if not requested:
        return list(PHASES)
    wanted = downstream(requested)
    extra = [ph for ph in wanted if ph not in requested]
    if only and extra:
        asked = ", ".join(ph for ph in wanted if ph in requested)
        raise RunError(
            f"--only {asked}: {', '.join(extra)} read{'s' if len(extra) == 1 else ''} what {asked} "
            f"write{'s' if len(wanted) - len(extra) == 1 else ''}, so re-running {asked} alone would leave "
            f"{'it' if len(extra) == 1 else 'them'} on the old results; fix: "
            f"{_command(params_path, wanted, list(overrides or []))} (or drop --only)")
    return wanted


def _input_hashes(params: Params) -> dict[str, dict]:
    """Input name -> path and sha256 of every file that shapes the results (None when missing)."""
    from .data.prepare import input_files, sha256_file, warehouse_inputs

    out = {}
    for k, path in {**input_files(params), **_config_inputs(params)}.items():
        exists = path.is_file()
        out[k] = {"table": k, "path": str(path), "bytes": path.stat().st_size if exists else None,
                  "sha256": sha256_file(path) if exists else None}
    for k, label in warehouse_inputs(params).items():
        # a database table has no checksum to compare: its rows may change between two runs
        out[k] = {"table": k, "path": label, "bytes": None, "sha256": None, "warehouse": True}
    return out


#: params sections every phase depends on: a change in them makes every earlier table stale
_SHARED_PARAMS = ("data", "analysis")


def _flat(d, prefix: str = "") -> dict[str, object]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, object] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _reusable_base(base: Path, params: Params, reused: list[str], *, inputs: dict[str, dict],
                   params_path: str | Path, overrides: list[str]) -> dict:
    """Check that ``base``'s results of the ``reused`` phases still hold for today's inputs.

    Returns the base run's manifest. Raises RunError naming what changed and the fix.
    """
    m = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
    fix = f"fix: run every phase: {_command(params_path, [], overrides)}"
    then = {i["table"]: i for i in m.get("inputs", [])}
    changed = []
    for k in sorted(set(then) | set(inputs)):
        old, new = then.get(k), inputs.get(k)
        if new is not None and new.get("warehouse"):
            changed.append(f"{k} is read from a database ({new['path']}), whose rows may have changed since")
        elif new is None or new["sha256"] is None:
            changed.append(f"{k} ({(old or new)['path']}: {'missing' if new else 'no longer given'})")
        elif old is None:
            changed.append(f"{k} ({new['path']}: not an input of that run)")
        elif old["sha256"] != new["sha256"]:
            changed.append(f"{k} ({new['path']}: contents changed)")
    old_p, new_p = _flat(m.get("params", {})), _flat(params.resolved_dump())
    keys = sorted(k for k in set(old_p) | set(new_p)
                  if k.split(".")[0] in _SHARED_PARAMS and old_p.get(k) != new_p.get(k))
    if keys:
        changed.append("parameters " + ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else ""))
    if changed:
        raise RunError(
            f"the {', '.join(reused)} results of run {base.name} cannot be reused: since that run, "
            f"{'; '.join(changed)}. {fix}")
    records = {r["phase"]: r for r in m.get("phases", []) if r.get("status") in ("success", "reused")}
    missing = [ph for ph in reused if ph not in records or "figures" not in records[ph]]
    if missing:
        raise RunError(f"run {base.name} does not record the {', '.join(missing)} results it would lend "
                       f"(made by an earlier version, or the phase did not run there). {fix}")
    return m


def _reuse(base: Path, base_manifest: dict, work: Path, reused: list[str]) -> list[dict]:
    """Copy the tables, figures and executed notebooks of the ``reused`` phases from ``base``.

    Only those phases' results are copied: the tables of the phases that run again are never
    taken from the base run. Returns the phase records for the manifest.
    """
    records = {r["phase"]: r for r in base_manifest["phases"]}
    index_path = base / "tables" / "_index.json"
    base_index = json.loads(index_path.read_text()) if index_path.exists() else {}
    work_index_path = work / "tables" / "_index.json"
    index = json.loads(work_index_path.read_text()) if work_index_path.exists() else {}
    out = []
    for ph in reused:
        tables = [t for t, spec in TABLES.items() if spec.phase == ph and (base / "tables" / f"{t}.parquet").exists()]
        for t in tables:
            for ext in (".parquet", ".csv"):
                if (base / "tables" / f"{t}{ext}").exists():
                    shutil.copy2(base / "tables" / f"{t}{ext}", work / "tables" / f"{t}{ext}")
            if t in base_index:
                index[t] = base_index[t]
        rec = records[ph]
        for fig in rec["figures"]:
            (work / "figures").mkdir(exist_ok=True)
            shutil.copy2(base / "figures" / fig, work / "figures" / fig)
        nb = PHASES[ph].notebook
        if (base / "notebooks" / nb).exists():
            shutil.copy2(base / "notebooks" / nb, work / "notebooks" / nb)
        out.append({"phase": ph, "status": "reused", "from_run": rec.get("from_run", base.name),
                    "notebook": nb, "tables": tables, "figures": list(rec["figures"])})
    work_index_path.write_text(json.dumps(index, indent=2, sort_keys=True), encoding="utf-8")
    return out


#: above this many order lines, phases run one at a time (each running phase's kernel holds its own data)
PARALLEL_MAX_LINES = 2_000_000
#: before the data is read, a transactions file above this size is taken as too large for phases side by side
_PARALLEL_MAX_BYTES = 200 * 2**20


def phase_slots(params: Params, stats: dict | None = None) -> int:
    """How many phases may run at once: ``execution.parallel_phases`` when given, else 2 on a
    machine with 2 or more cores and up to :data:`PARALLEL_MAX_LINES` order lines, else 1.

    ``stats`` is the validation's statistics (``rows_kept`` of ``transactions``); without
    them (before the data is read) the transactions file's size stands in, and a database
    table counts as large.
    """
    if params.execution.parallel_phases is not None:
        return params.execution.parallel_phases
    if (os.cpu_count() or 1) < 2 or os.name == "nt":  # without flock the tables' index has no lock
        return 1
    if stats is not None:
        rows = (stats.get("transactions") or {}).get("rows_kept")
        return 2 if rows is not None and rows <= PARALLEL_MAX_LINES else 1
    from .data.prepare import input_files

    path = input_files(params).get("transactions")
    if path is not None and not path.exists() and params.data.demo is not None:
        return 2  # a demo client whose files are generated during preparation: small
    return 2 if path is not None and path.is_file() and path.stat().st_size <= _PARALLEL_MAX_BYTES else 1


def _figures(work: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (work / "figures").glob("*.png")}


def _written(work: Path, phase: str, figures_before: dict[str, int]) -> dict:
    """The tables and figures a phase wrote (recorded so a later run can reuse exactly those).

    A phase notebook opened with its phase logs the figures it saves (``figure_log``), which
    tells two phases running side by side apart; for a notebook that did not, the figures
    changed since ``figures_before``.
    """
    from .data.runfolder import figure_log

    log = work / figure_log(phase)
    if log.exists():
        saved = set(log.read_text(encoding="utf-8").split())
        log.unlink()
        figs = sorted(f"{name}.png" for name in saved if (work / "figures" / f"{name}.png").exists())
    else:
        figs = [name for name, t in sorted(_figures(work).items()) if figures_before.get(name) != t]
    tables = [t for t, spec in TABLES.items() if spec.phase == phase and (work / "tables" / f"{t}.parquet").exists()]
    return {"tables": tables, "figures": figs}


def run_engagement(params_path: str | Path, *, overrides: list[str] | None = None,
                   phases: list[str] | None = None, only: bool = False, notebooks_dir: Path | None = None,
                   cell_timeout: int | None = None, deliverables: bool = True,
                   progress: Callable[[str], None] | None = print) -> RunResult:
    """Run the engagement (or some phases of it) for one client.

    Parameters
    ----------
    params_path : path
        The client's parameter file.
    overrides : list of str, optional
        ``key.sub=value`` overrides (``kam run --set``).
    phases : list of str, optional
        Phases to re-run (names from :data:`PHASES`); every phase that depends on one of
        them runs again too. The earlier phases' results are reused from the client's last
        successful run, after checking that its input files (and its ``data`` and
        ``analysis`` parameters) are today's. Default: all four.
    only : bool
        With ``phases``: refuse, naming the phases and the command, instead of re-running
        the phases that depend on them.
    notebooks_dir : path, optional
        Where the phase notebooks are (tests point this at their own notebooks).
    cell_timeout : int, optional
        Seconds a cell may run (default: ``execution.cell_timeout`` in the params).
    deliverables : bool
        Build the client deliverables after the notebooks.
    progress : callable, optional
        Receives one line of progress at a time (None for silence).

    Returns
    -------
    RunResult
        The run folder and its manifest (status ``success``). ``manifest["phases"]`` has one
        record per phase: ``success`` (run now) or ``reused`` (with ``from_run``).

    Raises
    ------
    ParameterError, DataValidationError
        Before anything runs; no run folder is created.
    RunError
        A phase cannot be reused or left stale (before anything runs; no run folder), or a
        notebook or deliverable failed (the run folder is kept as ``<run-id>-failed``).
    """
    say = progress or (lambda _msg: None)
    from .kernelfork import serving

    with faults.StopSignals() as stop, serving(_fork_server(notebooks_dir)):
        try:
            return _run(params_path, overrides=overrides, phases=phases, only=only, notebooks_dir=notebooks_dir,
                        cell_timeout=cell_timeout, deliverables=deliverables, say=say, stop=stop)
        except KeyboardInterrupt as exc:  # before a run folder existed: nothing to keep
            raise faults.stopped_error(exc, stop, None) from None


def _fork_server(notebooks_dir):
    """The server the phases' kernels are forked from (kam_analysis/kernelfork.py), started now so
    its imports overlap the checks of the data; None with ``KAM_FORK_KERNELS=0``."""
    from .kernelfork import ForkServer, fork_kernels_enabled
    from .warmkernel import notebook_imports

    if not fork_kernels_enabled():
        return None
    nb_dir = (Path(notebooks_dir) if notebooks_dir else NOTEBOOKS_DIR).resolve()
    from .deliverables import BUILDERS

    modules = [m for ph in PHASES.values() for m in notebook_imports(nb_dir / ph.notebook)]
    modules += ["kam_analysis.deliverables" + t.split(":")[0] for t in BUILDERS.values() if t.startswith(".")]
    return ForkServer(list(dict.fromkeys(modules)), cwd=nb_dir)


def _run(params_path, *, overrides, phases, only, notebooks_dir, cell_timeout, deliverables, say, stop) -> RunResult:
    started = _now()
    params = load_params(params_path, overrides)
    from .preflight import raise_for_params

    if params.data.demo is not None and params.data.demo.follow_up_months:
        from .data.prepare import ensure_demo_data

        ensure_demo_data(params)  # the follow-up demo's files, made from its plan run, before the checks read them
    raise_for_params(params)  # the industry, playbooks, RFM file, template ...: before anything runs
    overrides = list(overrides or [])
    nb_dir = Path(notebooks_dir) if notebooks_dir else NOTEBOOKS_DIR
    wanted = plan_phases(phases, only=only, params_path=params_path, overrides=overrides)
    reused = [ph for ph in PHASES if ph not in wanted]
    check_client_identity(params)
    from .warmkernel import warm_kernels_enabled

    warm_ahead = warm_kernels_enabled()  # KAM_WARM_KERNELS: a bad value stops the run here
    base, base_manifest = None, None
    if reused and not only and all(not PHASES[ph].reads for ph in phases or []) and latest_run(params) is None:
        # --phase of a first phase (one that reads no other's tables) on a client with no run yet: nothing
        # to reuse, and nothing it needs first, so the whole engagement runs (as it did before the phases
        # formed a DAG, when every phase came after the assessment)
        wanted, reused = list(PHASES), []
    if reused:
        base = latest_run(params)
        if base is None:
            raise RunError(
                f"--phase {wanted[0]} needs the results of earlier phases, but {params.client.name} has no "
                f"successful run yet; fix: run the whole engagement once: {_command(params_path, [], overrides)}")
        from .data.prepare import ensure_demo_data

        ensure_demo_data(params)
        base_manifest = _reusable_base(base, params, reused, inputs=_input_hashes(params),
                                       params_path=params_path, overrides=overrides)
    client_dir = _client_dir(params)
    new_client_dir = not client_dir.exists()
    run_id = started.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    work = client_dir / f".{run_id}.partial"
    try:
        client_dir.mkdir(parents=True, exist_ok=True)
        for stale in faults.recover_killed_runs(client_dir):
            say(f"  an earlier run of this client was killed before it could finish: kept as {stale}")
        work.mkdir()
        faults.mark_stage(work, "prepare", run_id=run_id, client=params.client.name)
    except OSError as exc:
        faults.discard(work, client_dir if new_client_dir else None)
        full = "the disk is full; " if faults.disk_full(exc) else ""
        raise RunError(f"cannot create the run folder {work}: {exc}; fix: {full}make room or permission to "
                       f"write under {client_dir.parent} (output.root), then run again") from None
    manifest: dict = {
        "client": params.client.name, "slug": params.slug, "run_id": run_id, "status": "running",
        "started_at": started.isoformat(), "params_file": str(Path(params_path).resolve()),
        "overrides": overrides, "phases_requested": list(phases or []), "phases_run": wanted,
        "phases_reused": {ph: None for ph in reused}, "base_run": base.name if base else None,
        "packages": _versions(),
    }
    status, error, stage = "failed", None, "prepare"
    warm: dict[str, object] = {}  # phase -> its kernel, started ahead (kam_analysis/warmkernel.py)
    builds = None  # the deliverables, built as their phases finish (kam_analysis/deliverables)

    def start_warm(ph: str) -> None:
        from .warmkernel import WarmKernel

        if not warm_ahead:
            return
        warm[ph] = WarmKernel(nb_dir / PHASES[ph].notebook, kernel=params.execution.kernel, cwd=nb_dir.resolve(),
                              extra_arguments=KERNEL_ARGS, manager_class=faults.kernel_manager_class([]))
    try:
        # the first phases' kernels start while the data is validated (two when they will run side by side)
        for ph in [ph for ph in wanted if all(a not in wanted for a in PHASES[ph].after)][:phase_slots(params)]:
            start_warm(ph)
        say(f"kam run: {params.client.name} -> {client_dir / run_id}")
        if params.review.plan_run:  # a follow-up review: say which plan it measures, and what it leaves out
            from .phases.followup import load_plan

            plan = load_plan(params.review.plan_run, params)  # checked by the preflight: same client, earlier, done
            manifest["plan_run"] = {"run_id": plan.run_id, "as_of": plan.as_of.isoformat(),
                                    "missing": sorted(plan.missing)}
            if plan.actions_file is not None:  # recorded here, not among the inputs: it shapes the review only,
                from .data.prepare import sha256_file  # so a corrected file re-runs with --phase review

                manifest["plan_run"]["actions_file"] = {"path": str(plan.actions_file),
                                                        "sha256": sha256_file(plan.actions_file)}
            say(f"  follow-up review of the plan of run {plan.run_id} (data up to {plan.as_of})")
            for note in plan.notes:
                say(f"  {note}")
        say("  validating client data ...")
        from .data.prepare import prepare_run_data

        t0 = time.perf_counter()
        report = prepare_run_data(params, work)
        from .metrics.capability import write_capability_tables

        write_capability_tables(Run(work, params))  # what the data supports: every phase reads it
        from .metrics.account import write_account_kpis

        write_account_kpis(Run(work, params))  # the assessment and the segmentation both read it
        from .data.readers import return_freed_memory

        return_freed_memory()  # the runner waits from here on while the kernels need the memory
        manifest["inputs"] = list(_input_hashes(params).values())
        from .preflight import params_warnings

        warnings = report.warnings + params_warnings(params)  # the data's, and the parameters' own story
        manifest["validation"] = {"warnings": [str(w) for w in warnings], "stats": report.stats}
        # what left the client's database: rows and bytes (Arrow size) of each warehouse table's extract
        # and whether the account-level tables were aggregated in the engine (and what those results weighed)
        manifest["warehouse"] = {name: {"source": source, "rows": report.stats[name].get("warehouse_rows"),
                                        "bytes_received": report.stats[name].get("warehouse_bytes"),
                                        **{k: report.stats[name][k] for k in ("aggregated_in_engine", "aggregates_bytes")
                                           if k in report.stats[name]}}
                                 for name, (source, _extract, _key) in report.extracts.items()}
        manifest["prepare_seconds"] = round(time.perf_counter() - t0, 3)
        for w in warnings:
            say("  " + str(w).replace("\n", "\n  "))
        (work / "params.json").write_text(json.dumps(params.resolved_dump(), indent=2), encoding="utf-8")
        manifest["params"] = params.resolved_dump()
        (work / "notebooks").mkdir(exist_ok=True)
        manifest["phases"] = []
        if base is not None:
            manifest["phases"] = _reuse(base, base_manifest, work, reused)
            manifest["phases_reused"] = {r["phase"]: r["from_run"] for r in manifest["phases"]}
            for r in manifest["phases"]:
                say(f"  {r['phase']:<13} reused from run {r['from_run']} (inputs unchanged)")
        timeout = cell_timeout or params.execution.cell_timeout
        slots = phase_slots(params, report.stats)
        manifest["parallel_phases"] = slots
        nb_params = {"params_path": str(Path(params_path).resolve()), "run_dir": str(work), "overrides": overrides}
        pending, running, finished, records = list(wanted), {}, set(), {}
        before: dict[str, dict[str, int]] = {}
        failed: RunError | None = None

        def ready(ph: str) -> bool:
            """Every phase it runs after has finished (or was reused); every phase it waits for
            in its notebook has at least started (so a waiting phase never holds the slot the
            phase it waits for needs)."""
            return (all(a in finished or a not in wanted for a in PHASES[ph].after)
                    and all(a in finished or a in running or a not in wanted for a in PHASES[ph].waits))

        def phase_state() -> None:  # what Run.wait_for reads in a waiting notebook
            _atomic_write_bytes(work / PHASE_STATE, json.dumps(
                {"unfinished": [ph for ph in wanted if ph not in finished and ph not in failed_phases],
                 "failed": failed_phases}).encode("utf-8"))

        failed_phases: list[str] = []
        errors: dict[str, RunError] = {}  # failed phase -> its error
        phase_state()
        if deliverables:
            from .deliverables import Builds
            from .kernelfork import current_server

            builds = Builds(work, params, params_path=params_path, overrides=overrides, server=current_server(),
                            progress=say)

        def built(ph: str) -> bool:  # a phase's tables are all written: it finished here, or was reused
            return ph in finished or ph not in wanted

        try:
            while running or (pending and failed is None):  # after a failure, only what runs is let finish
                while failed is None and len(running) < slots:  # start what is ready, as slots allow
                    phase = next((ph for ph in pending if ready(ph)), None)
                    if phase is None:
                        break
                    pending.remove(phase)
                    stage = phase
                    faults.mark_stage(work, stage)
                    nb_name = PHASES[phase].notebook
                    say(f"  [{wanted.index(phase) + 1}/{len(wanted)}] {phase:<13} running {nb_name} ...")
                    before[phase] = _figures(work)
                    running[phase] = PhaseExecution(nb_dir / nb_name, work / "notebooks" / nb_name, nb_params,
                                                     kernel=params.execution.kernel, timeout=timeout,
                                                     warm=warm.pop(phase, None))
                if failed is None:
                    for ph in pending[:slots]:  # the next phases' kernels start and import while these run
                        if ph not in warm:
                            start_warm(ph)
                    if not pending and builds is not None and builds.server is None:
                        from .deliverables import preload_builders

                        preload_builders()  # the deliverables' libraries load while the last phase runs
                if builds is not None and failed is None:  # a deliverable whose phases are done is built now
                    builds.poll(built, slots - len(running))
                if not running:  # nothing ready though phases remain: a cycle in the phases' dependencies
                    raise RunError(f"no phase can start: {', '.join(pending)} wait for each other "
                                   "(kam_analysis/data/tables.py, PHASES)")
                try:
                    while not any(ex.done.wait(0.1 / len(running)) for ex in running.values()):
                        pass
                except KeyboardInterrupt as exc:
                    stage = min(running, key=wanted.index)  # the stop is recorded against the first running phase
                    for ph, ex in running.items():
                        records[ph] = {**ex.stop(exc), "phase": ph}
                    raise
                for ph, ex in list(running.items()):
                    if not ex.done.is_set():
                        continue
                    del running[ph]
                    rec = records[ph] = {**ex.result(), "phase": ph}
                    rec.update(_written(work, ph, before[ph]))
                    nb_name = PHASES[ph].notebook
                    unwritten = [t for t, spec in TABLES.items()
                                 if spec.phase == ph and not spec.conditional and t not in rec["tables"]]
                    if rec["status"] == "success" and unwritten:
                        rec.update(status="failed", error_type="RunError",
                                   error=f"the notebook finished without writing table(s) {', '.join(unwritten)}, "
                                         "which kam_analysis/data/tables.py says the phase always writes")
                        errors[ph] = failed = RunError(f"Notebook {nb_name}: {rec['error']}")
                    elif rec["status"] != "success":
                        cell = rec.get("cell_number")
                        where = f"cell {cell}" if cell is not None else "before the first cell"
                        src = f" ({rec['cell_source']})" if rec.get("cell_source") else ""
                        errors[ph] = failed = RunError(f"Notebook {nb_name} failed at {where}{src}: {rec['error']}")
                    else:
                        finished.add(ph)
                        who = f"{ph} " if slots > 1 else ""
                        say(f"        {who}done in {rec['seconds']:.1f} s")
                    if rec["status"] != "success":
                        failed_phases.append(ph)
                        # the run's failure is the earliest failed phase's in run order, whichever ended first:
                        # a phase waiting for it (the review for the strategy) may time out at the same moment
                        stage = min(failed_phases, key=wanted.index)
                        failed = errors[stage]
                    phase_state()
        finally:
            manifest["phases"] += [records[ph] for ph in wanted if ph in records]
            (work / PHASE_STATE).unlink(missing_ok=True)
        if failed is not None:
            raise failed
        if builds is not None:
            stage = "deliverables"
            faults.mark_stage(work, stage)
            manifest["deliverables"] = builds.finish(slots)
            failed = [d for d in manifest["deliverables"] if d["status"] == "failed"]
            if failed:
                raise RunError("; ".join(f"Deliverable {d['name']} failed: {d['error']}" for d in failed))
        stage = "finish"
        status = "success"
    except KAMError as exc:
        error = exc
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated)
        error = faults.stopped_error(exc, stop, stage)
    except Exception as exc:  # noqa: BLE001 - recorded in the manifest, re-raised as RunError
        if faults.disk_full(exc):
            error = RunError(f"the disk is full (no space left on device) during {faults.STAGES.get(stage, stage)}: {exc}")
        else:
            error = RunError(f"unexpected error: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
    if builds is not None:
        builds.stop()  # a failed or stopped run: a deliverable still being built is abandoned
    for kernel in warm.values():  # started for a phase that did not run: stopped on every path
        kernel.shutdown()  # type: ignore[attr-defined]
    faults.reap_exiting_kernels()  # the phases' kernels asked to exit have exited before the folder is closed
    if stop.signum is not None and not isinstance(error, RunStopped):
        # a library turned the signal into its own error (DuckDB: "Interrupted"); it is still a stop
        error, status = faults.stopped_error(KeyboardInterrupt(), stop, stage), "failed"
    # data/params problems before any notebook ran leave no run folder (and no new client folder)
    from .exceptions import DataValidationError, ParameterError

    if isinstance(error, (DataValidationError, ParameterError)):
        faults.discard(work, client_dir if new_client_dir else None)
        raise error
    manifest["status"] = status
    manifest["finished_at"] = _now().isoformat()
    if error is not None:
        manifest["error"] = str(error)
        manifest["failure"] = faults.failure(error, stage, manifest)
    final = client_dir / (run_id if status == "success" else f"{run_id}-failed")
    manifest["run_dir"] = str(final)
    _name_final_folder(work, final)
    kept = faults.finalise(work, final, manifest, client_dir if new_client_dir else None)
    if kept:
        _record_client_identity(client_dir, params, manifest)
        from .data.history import write_history_index

        write_history_index(client_dir)  # outputs/<client>/history.json, rebuilt from the manifests
    final = Path(manifest["run_dir"])
    if status == "success" and manifest["status"] == "success":
        tmp = client_dir / f".LATEST.{run_id}"
        try:
            tmp.write_text(run_id + "\n")
            os.replace(tmp, client_dir / "LATEST")
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise RunError(f"the run is complete in {final}, but {client_dir / 'LATEST'} could not be updated "
                           f"to name it ({exc}), so --phase still reuses the run before; fix: free disk space, "
                           f"then write {run_id} into that file") from None
        say(f"  run complete: {final}")
        return RunResult(final, status, manifest)
    if error is None:  # the run's last write found the disk full
        error = RunError(manifest["error"])
    cause = manifest["failure"]["cause"]
    if not kept:
        say("  run FAILED; the disk is full, so nothing of it was kept")
        msg = (f"{error}\n  The disk is full: the failed run could not be kept (its files were removed to free "
               f"the space); earlier runs are untouched. Fix: free disk space under {client_dir.parent}, then run "
               "again.")
    else:
        say(f"  run FAILED; kept for debugging in {final}")
        msg = f"{error}\n  The failed run is kept in {final}"
        if cause == "disk_full":
            msg = f"{error}\n  The disk is full. The failed run is kept in {final}"
            msg += (" (its data, tables, figures and deliverables were removed to free the space); earlier runs "
                    f"are untouched. Fix: free disk space under {client_dir.parent}, then run again.")
        elif isinstance(error, RunStopped):
            msg += "; earlier runs are untouched."
        else:
            msg += " (the executed notebook shows the error); earlier runs are untouched."
    if isinstance(error, RunStopped):
        raise RunStopped(msg, exit_code=error.exit_code) from None
    raise RunError(msg) from error


def _name_final_folder(work: Path, final: Path) -> None:
    """Point the executed notebooks at the run folder they will be found in, not the
    ``.partial`` folder they ran in (their ``run_dir`` parameter and Papermill's paths)."""
    from .data.runfolder import _atomic_write_bytes

    old, new = json.dumps(str(work))[1:-1], json.dumps(str(final))[1:-1]
    for nb in sorted((work / "notebooks").glob("*.ipynb")):
        try:
            text = nb.read_text(encoding="utf-8")
            if old in text:
                _atomic_write_bytes(nb, text.replace(old, new).encode("utf-8"))
        except (OSError, UnicodeDecodeError):  # a full disk: the notebook keeps the path it ran with
            pass


#: the kernel-wide BLAS limit (kept referenced: threadpoolctl restores the original limits when it is collected)
_BLAS_LIMIT = None


def limit_blas_threads() -> int | None:
    """One BLAS thread for the whole kernel (``KAM_BLAS_THREADS``, default 1; 0 leaves BLAS alone).

    The models' linear algebra is small or tall-and-narrow (CLV fits, k-means, logistic
    regressions, programme-impact regressions); on a shared 2-core machine OpenBLAS's
    threads hand work back and forth and cost more than they save: the segmentation of a
    300-account client took 0.40-0.48 s of CPU with the default threads and 0.29-0.31 s with
    one (benchmarks/results.md). Returns the limit applied, or None.
    """
    global _BLAS_LIMIT
    raw = os.environ.get("KAM_BLAS_THREADS", "1").strip() or "1"
    try:
        n = int(raw)
    except ValueError:
        raise RunError(f"KAM_BLAS_THREADS={raw!r} is not a whole number; fix: 1 (the default), "
                       "another thread count, or 0 to leave BLAS's own setting") from None
    if n <= 0:
        return None
    from threadpoolctl import threadpool_limits

    _BLAS_LIMIT = threadpool_limits(n, user_api="blas")
    return n


def open_run(params_path: str | Path, run_dir: str | Path | None = None, overrides: list[str] | None = None,
             *, phase: str | None = None) -> Run:
    """Open the run folder a notebook works in (:func:`kam_analysis.data.prepare.open_run`).

    Inside ``kam run`` (``run_dir`` given) the runner has prepared everything. Opened by
    hand in JupyterLab (``run_dir`` empty) the notebook works in the client's scratch run
    ``outputs/<client>/interactive``, prepared again whenever the parameters or input files
    change; with ``phase`` (the notebook's own phase) the earlier phases' notebooks are
    executed into it first when their tables are missing, so any notebook runs top to
    bottom on its own. The data-capability profile (``data_profile``,
    ``analysis_support``) is written when the scratch run lacks it.
    """
    from .data.prepare import open_run as _open
    from .metrics.capability import write_capability_tables

    if phase is not None:  # a phase notebook's kernel
        limit_blas_threads()
    run = _open(params_path, run_dir, overrides)
    run.phase = phase
    if not run.has_table("analysis_support"):
        write_capability_tables(run)
    if not run.has_table("account_kpis"):
        from .metrics.account import write_account_kpis

        write_account_kpis(run)
    if not run_dir and phase is not None:
        _prepare_earlier_phases(run, params_path, list(overrides or []), phase)
    return run


def _prepare_earlier_phases(run: Run, params_path: str | Path, overrides: list[str], phase: str) -> None:
    """Execute, into the scratch run, the notebooks of the phases before ``phase`` whose tables are missing."""
    if phase not in PHASES:
        raise RunError(f"open_run: unknown phase {phase!r}; phases: {', '.join(PHASES)}")
    earlier = list(PHASES)[: list(PHASES).index(phase)]
    missing = [ph for ph in earlier
               if any(not run.has_table(t) for t, spec in TABLES.items() if spec.phase == ph and not spec.conditional)]
    if not missing:
        return
    # a phase re-runs with every phase after it, so the scratch run never mixes old and new results
    todo = earlier[earlier.index(missing[0]):]
    (run.dir / "notebooks").mkdir(parents=True, exist_ok=True)
    for ph in todo:
        nb = PHASES[ph].notebook
        print(f"Preparing the scratch run: running {nb} (this notebook needs the {ph} results) ...", flush=True)
        rec = execute(NOTEBOOKS_DIR / nb, run.dir / "notebooks" / nb,
                       {"params_path": str(Path(params_path).resolve()), "run_dir": str(run.dir),
                        "overrides": overrides},
                       kernel=run.params.execution.kernel, timeout=run.params.execution.cell_timeout)
        if rec["status"] != "success":
            raise RunError(f"preparing the scratch run {run.dir}: {nb} failed at cell {rec.get('cell_number')}: "
                           f"{rec['error']}; fix: open notebooks/{nb} and run it to see the error")
