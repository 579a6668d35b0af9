"""Each headline KPI across the client's reviews (table ``kpi_history``).

One row per run × KPI: this run's headline KPIs (``kpi_headline``) and those of every
earlier successful run of the same client whose as-of date is before this run's (an earlier
run on this run's own as-of date is superseded by this run, so it is not listed). The
earlier values are read from each run's own stored ``kpi_headline`` table — never
recomputed with today's definitions — and a run made by another version of kam-analysis
says so in ``note`` (its KPI definitions may differ; the version is in ``package_version``).
Several earlier runs on one as-of date (a phase re-run) all stay; all but the latest are
``superseded``, so a trend uses one point per as-of date, the latest run's.

This run's own rows carry no run id and no run date (``current_run`` marks them): a run's
id lives only in its manifest, so two runs of the same inputs write the same table.
"""
from __future__ import annotations

import pandas as pd

from ..data.history import RunRecord, client_dir, list_runs, read_run_table
from ..metrics.definitions import KPI_DEFINITIONS, kpi_label, kpi_unit

__all__ = ["KPI_HISTORY_COLUMNS", "build_kpi_history", "compute_kpi_history", "history_points"]

KPI_HISTORY_COLUMNS = ["run_id", "run_date", "as_of_date", "kpi", "label", "value", "unit", "package_version",
                       "current_run", "superseded", "note"]


def compute_kpi_history(current: pd.DataFrame, *, current_run: RunRecord,
                        earlier: list[tuple[RunRecord, pd.DataFrame]]) -> pd.DataFrame:
    """The ``kpi_history`` table from this run's headline KPIs and earlier runs' stored ones.

    Parameters
    ----------
    current : DataFrame
        This run's ``kpi_headline`` (``kpi``, ``value``).
    current_run : RunRecord
        This run (its as-of date and package version; its id only to leave it out of ``earlier``).
    earlier : list of (RunRecord, DataFrame)
        Earlier successful runs and their stored ``kpi_headline``; runs whose as-of date is
        not before this run's are left out here.

    Returns
    -------
    DataFrame
        :data:`KPI_HISTORY_COLUMNS`, ordered by as-of date, run start and the KPI's
        position in this run's headline table. Only KPIs of this run's headline appear.
    """
    kpis = [str(k) for k in current["kpi"]]
    order = {k: i for i, k in enumerate(kpis)}
    rows = []
    runs = [(r, t) for r, t in earlier if r.as_of_date and current_run.as_of_date
            and r.as_of_date < current_run.as_of_date and r.run_id != current_run.run_id]
    for rec, table in runs + [(current_run, current)]:
        is_current = rec is current_run
        values = dict(zip(table["kpi"].astype(str), pd.to_numeric(table["value"], errors="coerce")))
        labels = dict(zip(table["kpi"].astype(str), table["label"])) if "label" in table else {}
        note = ""
        if not is_current and rec.package_version != current_run.package_version:
            note = (f"made by kam-analysis {rec.package_version or 'of an unrecorded version'}, this run by "
                    f"{current_run.package_version}: check the KPI dictionary for a changed definition")
        for k in kpis:
            if k not in values:
                continue
            known = k in KPI_DEFINITIONS
            rows.append({"run_id": None if is_current else rec.run_id,
                         "run_date": pd.NaT if is_current else _utc_naive(rec.started_at),
                         "as_of_date": pd.Timestamp(rec.as_of_date), "kpi": k,
                         "label": kpi_label(k) if known else str(labels.get(k, k)),
                         "value": values[k], "unit": kpi_unit(k) if known else None,
                         "package_version": rec.package_version, "current_run": is_current,
                         "superseded": False, "note": note})
    out = pd.DataFrame(rows, columns=KPI_HISTORY_COLUMNS)
    if out.empty:
        return out
    out["run_date"] = pd.to_datetime(out["run_date"])
    out = out.assign(_o=out["kpi"].map(order), _c=out["current_run"].astype(int))
    out = out.sort_values(["as_of_date", "_c", "run_date", "_o"], kind="stable")
    last = out.groupby("as_of_date")["run_date"].transform("max")
    out["superseded"] = (out["run_date"] < last) & ~out["current_run"]
    return out.drop(columns=["_o", "_c"]).reset_index(drop=True)


def _utc_naive(ts) -> pd.Timestamp:
    """A run's start as a naive UTC timestamp (NaT when unknown)."""
    if not ts:
        return pd.NaT
    t = pd.Timestamp(ts)
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t


def history_points(history: pd.DataFrame) -> int:
    """How many reviews the history holds: distinct as-of dates of its rows."""
    return int(history["as_of_date"].nunique()) if len(history) else 0


def build_kpi_history(run) -> pd.DataFrame:
    """``kpi_history`` of an open run: this run's ``kpi_headline`` and the client's earlier runs'.

    The earlier runs are the successful runs in the client's folder
    (``<output.root>/<client-slug>``) made for the same client name.
    """
    import datetime as dt
    from importlib import metadata

    params = run.params
    try:
        version = metadata.version("kam-analysis")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        version = None
    run_id = run.dir.name.removeprefix(".").removesuffix(".partial")
    manifest_start = None
    owner = run.dir / ".owner.json"
    if owner.exists():  # inside kam run: the run's id and start are the runner's
        import json

        try:
            run_id = json.loads(owner.read_text(encoding="utf-8")).get("run_id") or run_id
        except (OSError, ValueError):
            pass
    try:
        manifest_start = pd.Timestamp(run_id.split("-")[0]).isoformat()
    except (ValueError, TypeError):
        manifest_start = dt.datetime.now(dt.timezone.utc).isoformat()
    me = RunRecord(run_id=run_id, folder=str(run.dir), status="partial", started_at=manifest_start,
                   as_of_date=str(params.analysis.as_of_date)[:10], client=params.client.name,
                   package_version=version)
    earlier = []
    for rec in list_runs(client_dir(params)):
        if not rec.ok or rec.client != params.client.name or rec.path.resolve() == run.dir.resolve():
            continue
        table = read_run_table(rec, "kpi_headline")
        if table is not None and {"kpi", "value"} <= set(table.columns):
            earlier.append((rec, table))
    return compute_kpi_history(run.read_table("kpi_headline", columns=["kpi", "label", "value"]),
                               current_run=me, earlier=earlier)
