"""``kam history``: every run of a client in one table.

The runs are read from their manifests (:mod:`kam_analysis.data.history`); the headline
KPIs of each run from its own ``kpi_headline`` table, labelled by the KPI registry and
formatted by :mod:`kam_analysis.present.formats`. Failed and partial runs are listed with
why; a failed run shows the KPIs it got as far as writing.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .data.history import RunRecord, list_runs, read_run_table
from .deliverables._kpi_tiles import BASELINE_TILE_KPIS
from .exceptions import ParameterError
from .metrics.definitions import KPI_DEFINITIONS, format_kpi, kpi_label
from .present.formats import NA, fmt_date

__all__ = ["HISTORY_KPIS", "find_client_dir", "history_json", "history_rows", "parse_kpis", "render_history"]

#: the headline KPIs ``kam history`` shows by default: the dashboards' first four tiles (a terminal's width)
HISTORY_KPIS = BASELINE_TILE_KPIS[:4]


def find_client_dir(target: str | Path, *, root: str | Path | None = None) -> tuple[Path, str | None]:
    """The folder of runs named by ``target``: a params file, a client folder, or a client's name.

    Returns the folder and the client name when known.

    Raises
    ------
    ParameterError
        No such params file, folder or client; the message says what was looked for.
    """
    from .config import REPO_ROOT, SOURCE_CHECKOUT, client_slug, load_params

    t = Path(str(target)).expanduser()
    if t.is_file() and t.suffix.lower() in (".yaml", ".yml"):
        params = load_params(t)
        base = Path(root) if root else Path(params.output.root)
        return base / params.slug, params.client.name
    if t.is_dir() and (any(t.glob("*/manifest.json")) or (t / "client.json").is_file()):
        return t, None
    base = Path(root) if root else (REPO_ROOT if SOURCE_CHECKOUT else Path.cwd()) / "outputs"
    folder = base / client_slug(str(target))
    if folder.is_dir():
        return folder, None
    known = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    raise ParameterError(
        f"{str(target)!r} is not a parameter file, a client folder, or a client with runs under {base} "
        f"(looked for {folder}); clients with runs there: {', '.join(known[:10]) or 'none'}. Fix: give the "
        "client's params file (kam history params/<client>.yaml), or --root for another output folder")


def _short_hash(sha: str | None) -> str:
    return sha[:8] if sha else "missing"


def _kpi_values(rec: RunRecord, kpis: tuple[str, ...]) -> dict[str, float | None]:
    table = read_run_table(rec, "kpi_headline")
    if table is None or not {"kpi", "value"} <= set(table.columns):
        return {}
    values = dict(zip(table["kpi"].astype(str), pd.to_numeric(table["value"], errors="coerce")))
    return {k: (None if pd.isna(values[k]) else float(values[k])) for k in kpis if k in values}


def history_rows(folder: Path, *, kpis: tuple[str, ...] = HISTORY_KPIS) -> list[dict]:
    """One dict per run, oldest first: the run record and its headline KPI values (``kpis``)."""
    return [{**rec.to_dict(), "kpis": _kpi_values(rec, kpis)} for rec in list_runs(folder)]


def _run_date(iso: str | None) -> str:
    if not iso:
        return NA
    t = pd.Timestamp(iso)
    t = t.tz_convert("UTC") if t.tzinfo is not None else t
    return f"{fmt_date(t)} {t:%H:%M}"


def render_history(folder: Path, *, client: str | None = None, kpis: tuple[str, ...] = HISTORY_KPIS) -> str:
    """The ``kam history`` text: a table of runs, each followed by its inputs and, if any, why it failed."""
    rows = history_rows(folder, kpis=kpis)
    name = client or next((r["client"] for r in reversed(rows) if r.get("client")), folder.name)
    if not rows:
        return f"{name}: no runs yet in {folder}"
    heads = ["run date (UTC)", "as of", "status", "reviewed plan of"] + [kpi_label(k, short=True) for k in kpis]
    ids = {r["run_id"]: r for r in rows}
    table = []
    for r in rows:
        plan = r["plan_run"]
        plan_txt = "–" if not plan else (f"{fmt_date(ids[plan]['as_of_date'])} run" if plan in ids else plan)
        cur = r.get("currency") or "EUR"
        vals = [format_kpi(r["kpis"][k], k, cur) if r["kpis"].get(k) is not None else "–" for k in kpis]
        table.append([_run_date(r["started_at"]), fmt_date(r["as_of_date"]) if r["as_of_date"] else NA,
                      r["status"], plan_txt] + vals)
    width = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(heads)]
    right = set(range(4, len(heads)))

    def line(cells):
        return "  ".join(c.rjust(width[i]) if i in right else c.ljust(width[i]) for i, c in enumerate(cells)).rstrip()

    counts = {s: sum(r["status"] == s for r in rows) for s in ("success", "partial", "failed")}
    out = [f"{name}: {len(rows)} run{'s' if len(rows) != 1 else ''} in {folder} "
           f"({', '.join(f'{n} {s}' for s, n in counts.items() if n)})", "", line(heads),
           line(["-" * w for w in width])]
    for r, cells in zip(rows, table):
        out.append(line(cells))
        inputs = ", ".join(f"{i['file'] or i['name']} {_short_hash(i['sha256'])}" for i in r["inputs"])
        out.append(f"    run {r['run_id']}" + (f" · kam-analysis {r['package_version']}" if r["package_version"] else ""))
        if inputs:
            out.append(f"    inputs: {inputs}")
        if r["phases_reused"]:
            out.append("    reused: " + ", ".join(f"{ph} from {rid}" for ph, rid in r["phases_reused"].items()))
        if r["note"]:
            out.append(f"    {r['status']}: {r['note']}")
    versions = {r["package_version"] for r in rows if r["status"] != "failed" and r["package_version"]}
    if len(versions) > 1:
        out += ["", f"Runs were made by kam-analysis {', '.join(sorted(versions))}: each run's KPIs are as that "
                    "version defined them (see docs/kpi_dictionary.md for changes)."]
    return "\n".join(out)


def history_json(folder: Path, *, kpis: tuple[str, ...] = HISTORY_KPIS) -> str:
    """The runs as JSON (``kam history --json``)."""
    return json.dumps({"folder": str(folder), "runs": history_rows(folder, kpis=kpis)}, indent=2, default=str)


def parse_kpis(text: str | None) -> tuple[str, ...]:
    """``--kpi revenue_12m,nps`` -> the KPI names, checked against the registry."""
    if not text:
        return HISTORY_KPIS
    names = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in names if k not in KPI_DEFINITIONS]
    if bad:
        raise ParameterError(f"kam history --kpi: unknown KPI(s) {', '.join(bad)}; known: "
                             f"{', '.join(KPI_DEFINITIONS)}")
    return names
